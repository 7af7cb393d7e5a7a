import pg from 'pg'
import type { Logger } from '../logger.ts'

/** The Postgres channel a key revocation is announced on (by `api-key-store.ts`, at commit). */
export const KEY_REVOKED_CHANNEL = 'sluice_key_revoked'

const RECONNECT_MS = 1_000

export interface KeyRevocationListener {
  close(): Promise<void>
}

/**
 * LISTENs for key revocations on a connection of its own (outside the pool, so it never holds a
 * pool slot or delays `pool.end()`), and calls `onRevoked` for each. Reconnects after a second
 * when the connection drops; meanwhile the key cache's TTL still bounds how long a revoked key lives.
 *
 * @example
 *   const listener = await listenForKeyRevocations({ url, logger, onRevoked: () => resolveKey.forget() })
 *   await listener.close()
 */
export async function listenForKeyRevocations(options: { url: string; logger: Logger; onRevoked: (keyId: string) => void }): Promise<KeyRevocationListener> {
  let client: pg.Client | undefined
  let closed = false
  let timer: NodeJS.Timeout | undefined

  async function connect(): Promise<void> {
    const c = new pg.Client({ connectionString: options.url, connectionTimeoutMillis: 5_000 })
    c.on('notification', (n) => {
      if (n.channel === KEY_REVOKED_CHANNEL) options.onRevoked(n.payload ?? '')
    })
    c.on('error', (err) => {
      options.logger.warn({ err }, 'key revocation listener lost its connection; reconnecting')
      void c.end().catch(() => {})
      scheduleReconnect()
    })
    // A connection the server closed without an error (a restart) is reconnected too.
    c.on('end', () => {
      if (client === c) scheduleReconnect()
    })
    await c.connect()
    await c.query(`LISTEN ${KEY_REVOKED_CHANNEL}`)
    client = c
    // Anything revoked while we were not listening is caught here.
    options.onRevoked('')
  }

  function scheduleReconnect(): void {
    client = undefined
    if (closed || timer) return
    timer = setTimeout(() => {
      timer = undefined
      connect().catch((err: unknown) => {
        options.logger.warn({ err }, 'key revocation listener could not reconnect')
        scheduleReconnect()
      })
    }, RECONNECT_MS)
  }

  await connect()
  return {
    async close() {
      closed = true
      clearTimeout(timer)
      await client?.end().catch(() => {})
    },
  }
}
