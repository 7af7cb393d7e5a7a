import { STATUS_CODES } from 'node:http'

/** The contract's error shape: `{statusCode, error, code, message}`. */
export function errorBody(error: { code?: string; message: string }, statusCode: number) {
  return { statusCode, error: STATUS_TEXT[statusCode] ?? STATUS_CODES[statusCode] ?? 'Error', code: error.code ?? 'SLUICE_ERR_INTERNAL', message: error.message }
}

// The contract's reason phrases, whatever Node's version calls them.
const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
}
