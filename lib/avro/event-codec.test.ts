import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Type } from 'avsc'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { EventEnvelope, StepCompletePayload } from '../event-types.ts'
import { createAvroType } from './avro-type.ts'
import { createEventCodec, UndecodableEventError, type UndecodableReason } from './event-codec.ts'
import { CRC64_AVRO_EMPTY, crc64Avro, fingerprintBytes, parsingCanonicalForm, schemaFingerprint } from './fingerprint.ts'
import { AVSC_MAX_LONG, MAXIMAL_SAMPLES, MINIMAL_SAMPLES, SAMPLE_ENVELOPES } from './sample-envelopes.ts'
import { loadCurrentSchema, PAYLOAD_RECORD_BY_TYPE } from './schema-files.ts'

const CURRENT_SCHEMA = loadCurrentSchema()
const CURRENT_TYPE = createAvroType(CURRENT_SCHEMA)

function sample(type: EventEnvelope['type'], from: readonly EventEnvelope[] = MAXIMAL_SAMPLES): EventEnvelope {
  const found = from.find((event) => event.type === type)
  if (!found) throw new Error(`no ${type} sample`)
  return structuredClone(found)
}

/** The envelope as avsc's own writer wants it: payload wrapped in its union branch. */
function wrapped(event: EventEnvelope): Record<string, unknown> {
  return { ...event, payload: { [PAYLOAD_RECORD_BY_TYPE[event.type]]: event.payload } }
}

function singleObject(schema: unknown, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0xc3, 0x01]), fingerprintBytes(schemaFingerprint(schema)), body])
}

async function decodeFailure(promise: Promise<unknown>): Promise<UndecodableEventError> {
  const error: unknown = await promise.then(
    () => undefined,
    (err: unknown) => err,
  )
  expect(error).toBeInstanceOf(UndecodableEventError)
  return error as UndecodableEventError
}

/** A zigzag varint, as Avro writes longs. */
function varint(n: number): Buffer {
  let z = n >= 0 ? n * 2 : -n * 2 - 1
  const bytes: number[] = []
  while (z >= 128) {
    bytes.push((z % 128) | 128)
    z = Math.floor(z / 128)
  }
  bytes.push(z)
  return Buffer.from(bytes)
}

/**
 * The test-only "v0" of the envelope: today's schema minus StepComplete.reasoning. It never
 * shipped; it stands in for an older writer to show that resolution to the current schema works.
 */
function schemaV0(): unknown {
  const schema = structuredClone(CURRENT_SCHEMA) as {
    fields: { name: string; type: unknown }[]
  }
  const payload = schema.fields.find((field) => field.name === 'payload')
  const branches = payload?.type as { name: string; fields: { name: string }[] }[]
  const step = branches.find((branch) => branch.name === 'StepComplete')
  if (!step) throw new Error('StepComplete not found')
  step.fields = step.fields.filter((field) => field.name !== 'reasoning')
  return schema
}

describe('CRC-64-AVRO fingerprint', () => {
  it('is the spec value for the empty input', () => {
    expect(crc64Avro(new Uint8Array())).toBe(CRC64_AVRO_EMPTY)
    expect(CRC64_AVRO_EMPTY).toBe(0xc15d213aa4d7a795n)
  })

  // Canonical forms and fingerprints (as Java signed longs) from Apache Avro's
  // share/test/data/schema-tests.txt, the vectors every Avro implementation tests against.
  it.each([
    ['"null"', '"null"', 7195948357588979594n],
    ['{"type":"int"}', '"int"', 8247732601305521295n],
    ['"long"', '"long"', -3434872931120570953n],
    ['"string"', '"string"', -8142146995180207161n],
    ['[ "int" , {"type":"boolean"} ]', '["int","boolean"]', 5392556393470105090n],
    [
      '{"fields":[], "type":"record", "name":"foo", "namespace":"x.y"}',
      '{"name":"x.y.foo","type":"record","fields":[]}',
      5916914534497305771n,
    ],
    [
      '{ "fields":[{"type":"boolean", "aliases":[], "name":"f1", "default":true}, {"order":"descending","name":"f2","doc":"Hello","type":"int"}], "type":"record", "name":"foo" }',
      '{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"},{"name":"f2","type":"int"}]}',
      -4860222112080293046n,
    ],
    [
      '{"namespace":"x.y.z", "type":"enum", "name":"foo", "doc":"foo bar", "symbols":["A1", "A2"]}',
      '{"name":"x.y.z.foo","type":"enum","symbols":["A1","A2"]}',
      -4448647247586288245n,
    ],
    ['{ "values":"string", "type":"map"}', '{"type":"map","values":"string"}', -8732877298790414990n],
    [
      '{"name":"PigValue","type":"record", "fields":[{"name":"value", "type":["null", "int", "long", "PigValue"]}]}',
      '{"name":"PigValue","type":"record","fields":[{"name":"value","type":["null","int","long","PigValue"]}]}',
      -1759257747318642341n,
    ],
  ])('matches the Avro spec vector for %s', (input, canonical, signedFingerprint) => {
    const schema: unknown = JSON.parse(input)
    expect(parsingCanonicalForm(schema)).toBe(canonical)
    expect(BigInt.asIntN(64, schemaFingerprint(schema))).toBe(signedFingerprint)
  })

  it('gives the single-object header the Avro test suite expects for "int"', () => {
    // 8247732601305521295 = 0x7275d51a3f395c8f, little-endian after C3 01.
    const header = Buffer.concat([Buffer.from([0xc3, 0x01]), fingerprintBytes(schemaFingerprint('int'))])
    expect(header.toString('hex')).toBe('c3018f5c393f1ad57572')
  })

  it('ignores logicalType, doc, defaults and enum defaults, as the canonical form requires', () => {
    const canonical = parsingCanonicalForm(CURRENT_SCHEMA)
    expect(canonical).not.toMatch(/logicalType|"doc"|"default"|"namespace"/)
    expect(canonical).toContain('"name":"dev.sluice.EventEnvelope"')
  })
})

describe('single-object encoding (default)', () => {
  const codec = createEventCodec()

  it('reports its format', () => {
    expect(codec.format).toBe('single-object')
  })

  it.each(SAMPLE_ENVELOPES.map((event) => [event.id, event] as const))('round-trips %s', async (_id, event) => {
    const decoded = await codec.decode(await codec.encode(event))
    expect(decoded).toStrictEqual(event)
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype)
    expect(Object.getPrototypeOf(decoded.payload)).toBe(Object.prototype)
  })

  it('starts with C3 01 and the little-endian CRC-64-AVRO of the schema', async () => {
    const bytes = await codec.encode(sample('log'))
    const expected = crc64Avro(Buffer.from(parsingCanonicalForm(CURRENT_SCHEMA)))
    expect(bytes[0]).toBe(0xc3)
    expect(bytes[1]).toBe(0x01)
    expect(bytes.readBigUInt64LE(2)).toBe(expected)
  })

  it.each(SAMPLE_ENVELOPES.map((event) => [event.id, event] as const))(
    'writes %s byte for byte as avsc writes the whole envelope',
    async (_id, event) => {
      const bytes = await codec.encode(event)
      expect(bytes.subarray(10)).toEqual(CURRENT_TYPE.toBuffer(wrapped(event)))
    },
  )

  it('keeps numbers as numbers: timestamps, 2^40 counts, int/float attributes', async () => {
    const step = sample('step_complete') as EventEnvelope & { payload: StepCompletePayload }
    step.timestamp = 2 ** 41 + 7
    step.payload.input_count = 2 ** 40
    step.payload.output_count = AVSC_MAX_LONG
    step.payload.rejection_reasons = { a: 2 ** 40, b: -1 }
    const decoded = await codec.decode(await codec.encode(step))
    expect(decoded).toStrictEqual(step)

    const log = sample('log')
    const decodedLog = await codec.decode(await codec.encode(log))
    if (decodedLog.type !== 'log') throw new Error('expected a log event')
    expect(decodedLog.payload.attributes).toStrictEqual({
      attempt: 3,
      big: 2 ** 40,
      negative: -42,
      ratio: 0.25,
      tiny: 1e-300,
      ok: false,
      flag: true,
      host: 'node-1',
      empty: '',
    })
    expect(typeof decodedLog.payload.attributes['attempt']).toBe('number')
    expect(typeof decodedLog.payload.attributes['ok']).toBe('boolean')
    expect(typeof decodedLog.payload.attributes['host']).toBe('string')
  })

  it('round-trips every log level and run status', async () => {
    for (const level of ['debug', 'info', 'warn', 'error', 'fatal'] as const) {
      const event = sample('log')
      if (event.type === 'log') event.payload.level = level
      expect(await codec.decode(await codec.encode(event))).toStrictEqual(event)
    }
    for (const status of ['completed', 'failed'] as const) {
      const event = sample('run_complete')
      if (event.type === 'run_complete') event.payload.status = status
      expect(await codec.decode(await codec.encode(event))).toStrictEqual(event)
    }
  })

  it('keeps a map key spelled __proto__ as an ordinary key', async () => {
    const event = sample('run_start')
    if (event.type !== 'run_start') throw new Error('expected run_start')
    event.payload.tags = JSON.parse('{"__proto__":"x","a":"b"}') as Record<string, string>
    const decoded = await codec.decode(await codec.encode(event))
    if (decoded.type !== 'run_start') throw new Error('expected run_start')
    expect(Object.keys(decoded.payload.tags)).toEqual(['__proto__', 'a'])
    expect(Object.getPrototypeOf(decoded.payload.tags)).toBe(Object.prototype)
    expect(decoded.payload.tags['__proto__']).toBe('x')
  })

  it('returns independent buffers although it encodes into a reused one', async () => {
    const first = await codec.encode(sample('run_start'))
    const copy = Buffer.from(first)
    await codec.encode(sample('step_complete'))
    expect(first).toEqual(copy)
  })

  it('encodes events larger than its scratch buffer, and small ones after', async () => {
    const big = sample('step_complete')
    if (big.type !== 'step_complete') throw new Error('expected step_complete')
    big.payload.outputs = JSON.stringify({ blob: 'é'.repeat(1_500_000) })
    expect(await codec.decode(await codec.encode(big))).toStrictEqual(big)
    const small = sample('log', MINIMAL_SAMPLES)
    expect(await codec.decode(await codec.encode(small))).toStrictEqual(small)
  })

  it('decodes a message that is a slice of a larger buffer', async () => {
    const bytes = await codec.encode(sample('run_complete'))
    const slab = Buffer.concat([Buffer.from('garbage'), bytes])
    expect(await codec.decode(slab.subarray(7))).toStrictEqual(sample('run_complete'))
  })

  it('throws a plain Error (a programmer error) for an event that does not fit the schema', async () => {
    const tooBig = sample('step_complete')
    if (tooBig.type === 'step_complete') tooBig.payload.input_count = Number.MAX_SAFE_INTEGER
    await expect(codec.encode(tooBig)).rejects.toThrow(/invalid "long"/)

    const fractional = sample('step_complete')
    if (fractional.type === 'step_complete') fractional.payload.output_count = 1.5
    await expect(codec.encode(fractional)).rejects.toThrow(Error)

    const unknownType = { ...sample('log'), type: 'heartbeat' } as unknown as EventEnvelope
    await expect(codec.encode(unknownType)).rejects.toThrow(/unknown type "heartbeat"/)

    const wrongPayload = { ...sample('log'), payload: sample('run_start').payload } as EventEnvelope
    const error: unknown = await codec.encode(wrongPayload).catch((err: unknown) => err)
    expect(error).toBeInstanceOf(Error)
    expect(error).not.toBeInstanceOf(UndecodableEventError)
  })
})

describe('decoding older writers', () => {
  const v0 = schemaV0()

  it('resolves a message written with a test-only v0 (one field fewer) to the current schema', async () => {
    const event = sample('step_complete') as EventEnvelope & { payload: StepCompletePayload }
    const { reasoning: _dropped, ...v0Payload } = event.payload
    const message = singleObject(v0, createAvroType(v0).toBuffer(wrapped({ ...event, payload: v0Payload } as EventEnvelope)))
    expect(message.subarray(2, 10)).not.toEqual(fingerprintBytes(schemaFingerprint(CURRENT_SCHEMA)))

    const codec = createEventCodec({ extraWriterSchemas: [v0] })
    const decoded = await codec.decode(message)
    expect(decoded).toStrictEqual({ ...event, payload: { ...event.payload, reasoning: null } })

    // Events of the other types, written with v0, read the same as with the current schema.
    for (const other of MAXIMAL_SAMPLES.filter((e) => e.type !== 'step_complete')) {
      const otherMessage = singleObject(v0, createAvroType(v0).toBuffer(wrapped(other)))
      expect(await codec.decode(otherMessage)).toStrictEqual(other)
    }
  })

  it('does not know v0 without being told (it is not in schemas/history)', async () => {
    const message = singleObject(v0, createAvroType(v0).toBuffer(wrapped(sample('log'))))
    const error = await decodeFailure(createEventCodec().decode(message))
    expect(error.reason).toBe('unknown_fingerprint')
  })
})

describe('UndecodableEventError reasons', () => {
  const codec = createEventCodec()
  let good: Buffer

  beforeAll(async () => {
    good = await codec.encode(sample('step_complete'))
  })

  const cases: [string, UndecodableReason, () => Buffer][] = [
    ['an empty message', 'empty', () => Buffer.alloc(0)],
    ['JSON instead of Avro', 'bad_magic', () => Buffer.from('{"id":"x"}')],
    ['C3 followed by a version other than 01', 'bad_magic', () => Buffer.from([0xc3, 0x02, ...good.subarray(2)])],
    [
      'an unknown writer fingerprint',
      'unknown_fingerprint',
      () => Buffer.concat([Buffer.from([0xc3, 0x01]), fingerprintBytes(schemaFingerprint('int')), good.subarray(10)]),
    ],
    ['a Confluent message without a registry', 'no_schema_registry', () => Buffer.from([0, 0, 0, 0, 1, 2, 0])],
    ['a lone C3', 'corrupt_body', () => Buffer.from([0xc3])],
    ['a truncated single-object header', 'corrupt_body', () => good.subarray(0, 6)],
    ['a header and no body', 'corrupt_body', () => good.subarray(0, 10)],
    ['a truncated body', 'corrupt_body', () => good.subarray(0, good.length - 1)],
    ['trailing bytes', 'corrupt_body', () => Buffer.concat([good, Buffer.from([0])])],
    ['an invalid union index', 'corrupt_body', () => corruptPayloadIndex(good)],
    ['a map claiming 2^50 entries', 'corrupt_body', () => hugeMapMessage()],
  ]

  it.each(cases)('rejects %s with %s', async (_what, reason, message) => {
    const error = await decodeFailure(codec.decode(message()))
    expect(error.reason).toBe(reason)
    expect(error.name).toBe('UndecodableEventError')
    expect(error.message).toContain(reason)
  })

  it('rejects a body whose type does not match its payload branch (corrupt_body)', async () => {
    const mismatched = { ...wrapped(sample('run_start')), type: 'log' }
    const error = await decodeFailure(codec.decode(singleObject(CURRENT_SCHEMA, CURRENT_TYPE.toBuffer(mismatched))))
    expect(error.reason).toBe('corrupt_body')
    expect(error.message).toMatch(/does not match/)
  })

  it('rejects a body with an event type it does not know (corrupt_body)', async () => {
    const unknown = { ...wrapped(sample('run_start')), type: 'heartbeat' }
    const error = await decodeFailure(codec.decode(singleObject(CURRENT_SCHEMA, CURRENT_TYPE.toBuffer(unknown))))
    expect(error.reason).toBe('corrupt_body')
  })

  it('gives up on a poison map count quickly instead of spinning', async () => {
    const started = performance.now()
    await decodeFailure(codec.decode(hugeMapMessage()))
    expect(performance.now() - started).toBeLessThan(1000)
  })

  it('keeps the avsc error as the cause', async () => {
    const error = await decodeFailure(codec.decode(corruptPayloadIndex(good)))
    expect(error.cause).toBeInstanceOf(Error)
  })
})

/** `good` (a step_complete) with the payload union index replaced by 9; there are four branches. */
function corruptPayloadIndex(good: Buffer): Buffer {
  const event = sample('step_complete')
  const payloadBytes = payloadBranch(event.type).toBuffer(event.payload)
  const indexAt = good.length - payloadBytes.length - 1
  expect(good[indexAt]).toBe(2) // zigzag(1): StepComplete is the second branch
  const copy = Buffer.from(good)
  copy[indexAt] = 18 // zigzag(9)
  return copy
}

function payloadBranch(type: EventEnvelope['type']): Type {
  const fields = (CURRENT_TYPE as unknown as { fields: { name: string; type: Type }[] }).fields
  const union = fields.find((field) => field.name === 'payload')?.type as unknown as { types: Type[] }
  const branch = union.types.find((candidate) => candidate.name === PAYLOAD_RECORD_BY_TYPE[type])
  if (!branch) throw new Error(`no payload branch for ${type}`)
  return branch
}

/** A run_start whose `tags` map claims 2^50 entries, and then the message ends. */
function hugeMapMessage(): Buffer {
  const event = sample('run_start', MINIMAL_SAMPLES) // tags: {}, started_at: null
  const body = CURRENT_TYPE.toBuffer(wrapped(event))
  // The minimal run_start ends with: tags = empty map (0x00), started_at = null branch (0x00).
  expect(body.subarray(-2)).toEqual(Buffer.from([0, 0]))
  return singleObject(CURRENT_SCHEMA, Buffer.concat([body.subarray(0, -2), varint(2 ** 50)]))
}

// ---------------------------------------------------------------------------------------------
// Confluent wire format, against a test double of a Schema Registry. docker-compose users run a
// real one (Redpanda's); this double implements only the two endpoints the codec calls.

interface RecordedRequest {
  method: string
  url: string
  contentType: string | undefined
  body: string
}

interface FakeSchemaRegistry {
  url: string
  requests: RecordedRequest[]
  /** Stores a schema as the registry would, returns its id. */
  add(schemaText: string, schemaType?: string): number
  /** The id the next new schema will get. */
  nextId(): number
  /** The next `count` requests answer with this HTTP status. */
  fail(status: number, count?: number): void
  close(): Promise<void>
}

async function startFakeSchemaRegistry(): Promise<FakeSchemaRegistry> {
  const schemas: { schema: string; schemaType?: string }[] = [{ schema: '"unused id 0"' }]
  const requests: RecordedRequest[] = []
  let failures: { status: number; count: number } | undefined

  const add = (schema: string, schemaType?: string): number => {
    const existing = schemas.findIndex((entry) => entry.schema === schema && entry.schemaType === schemaType)
    if (existing > 0) return existing
    schemas.push(schemaType === undefined ? { schema } : { schema, schemaType })
    return schemas.length - 1
  }

  const reply = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/vnd.schemaregistry.v1+json' })
    res.end(JSON.stringify(body))
  }

  const handle = (req: IncomingMessage, res: ServerResponse, body: string): void => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', contentType: req.headers['content-type'], body })
    if (failures && failures.count > 0) {
      failures.count--
      reply(res, failures.status, { error_code: failures.status * 100, message: 'injected failure' })
      return
    }
    const register = /^\/subjects\/([^/]+)\/versions$/.exec(req.url ?? '')
    if (req.method === 'POST' && register) {
      const parsed = JSON.parse(body) as { schema?: unknown }
      if (typeof parsed.schema !== 'string') return reply(res, 422, { error_code: 42201, message: 'Invalid schema' })
      return reply(res, 200, { id: add(parsed.schema) })
    }
    const byId = /^\/schemas\/ids\/(\d+)$/.exec(req.url ?? '')
    if (req.method === 'GET' && byId) {
      const entry = Number(byId[1]) > 0 ? schemas[Number(byId[1])] : undefined
      if (!entry) return reply(res, 404, { error_code: 40403, message: 'Schema not found' })
      return reply(res, 200, entry)
    }
    reply(res, 404, { error_code: 404, message: 'HTTP 404 Not Found' })
  }

  const server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => (body += chunk))
    req.on('end', () => handle(req, res, body))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    add,
    nextId: () => schemas.length,
    fail: (status, count = 1) => {
      failures = { status, count }
    },
    close: () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  }
}

describe('Confluent wire format (schema registry)', () => {
  let registry: FakeSchemaRegistry

  beforeAll(async () => {
    registry = await startFakeSchemaRegistry()
  })
  afterAll(async () => {
    await registry.close()
  })
  afterEach(() => {
    registry.requests.length = 0
    registry.fail(200, 0)
  })

  it('registers the schema once under the subject, then writes 00 + big-endian id + body', async () => {
    const codec = createEventCodec({ schemaRegistryUrl: `${registry.url}/` })
    expect(codec.format).toBe('confluent')
    const events = SAMPLE_ENVELOPES
    const messages = await Promise.all(events.map((event) => codec.encode(event)))

    const posts = registry.requests.filter((request) => request.method === 'POST')
    expect(posts).toHaveLength(1)
    expect(posts[0]?.url).toBe('/subjects/sluice.events-value/versions')
    expect(posts[0]?.contentType).toBe('application/vnd.schemaregistry.v1+json')
    const registered = (JSON.parse(posts[0]?.body ?? '{}') as { schema: string }).schema
    expect(JSON.parse(registered)).toStrictEqual(CURRENT_SCHEMA)

    const id = registry.add(registered)
    messages.forEach((message, i) => {
      const event = events[i] as EventEnvelope
      expect(message[0]).toBe(0)
      expect(message.readUInt32BE(1)).toBe(id)
      expect(message.subarray(5)).toEqual(CURRENT_TYPE.toBuffer(wrapped(event)))
    })
    // Its own messages decode without asking the registry.
    for (const [i, message] of messages.entries()) expect(await codec.decode(message)).toStrictEqual(events[i])
    expect(registry.requests).toHaveLength(1)
  })

  it('uses the configured subject', async () => {
    const codec = createEventCodec({ schemaRegistryUrl: registry.url, subject: 'other-topic-value' })
    await codec.encode(sample('log'))
    expect(registry.requests[0]?.url).toBe('/subjects/other-topic-value/versions')
  })

  it('fetches an unknown id once and caches it', async () => {
    const writer = createEventCodec({ schemaRegistryUrl: registry.url })
    const message = await writer.encode(sample('run_complete'))
    registry.requests.length = 0

    const reader = createEventCodec({ schemaRegistryUrl: registry.url })
    const decoded = await Promise.all([reader.decode(message), reader.decode(message), reader.decode(message)])
    expect(decoded).toStrictEqual([sample('run_complete'), sample('run_complete'), sample('run_complete')])
    expect(await reader.decode(message)).toStrictEqual(sample('run_complete'))
    expect(registry.requests.map((request) => `${request.method} ${request.url}`)).toEqual([
      `GET /schemas/ids/${message.readUInt32BE(1)}`,
    ])
  })

  it('resolves an older writer schema fetched by id to the current reader schema', async () => {
    const v0 = schemaV0()
    const id = registry.add(JSON.stringify(v0))
    const event = sample('step_complete') as EventEnvelope & { payload: StepCompletePayload }
    const { reasoning: _dropped, ...v0Payload } = event.payload
    const body = createAvroType(v0).toBuffer(wrapped({ ...event, payload: v0Payload } as EventEnvelope))
    const header = Buffer.alloc(5)
    header.writeUInt32BE(id, 1)

    const reader = createEventCodec({ schemaRegistryUrl: registry.url })
    expect(await reader.decode(Buffer.concat([header, body]))).toStrictEqual({
      ...event,
      payload: { ...event.payload, reasoning: null },
    })
  })

  it('reads single-object messages too, and single-object readers reject Confluent ones', async () => {
    const confluent = createEventCodec({ schemaRegistryUrl: registry.url })
    const plain = createEventCodec()
    const event = sample('log')
    expect(await confluent.decode(await plain.encode(event))).toStrictEqual(event)
    const error = await decodeFailure(plain.decode(await confluent.encode(event)))
    expect(error.reason).toBe('no_schema_registry')
  })

  it('rejects an id the registry does not know with unknown_schema_id, without caching the miss', async () => {
    const reader = createEventCodec({ schemaRegistryUrl: registry.url })
    const id = registry.nextId()
    const message = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), CURRENT_TYPE.toBuffer(wrapped(sample('log')))])
    message.writeUInt32BE(id, 1)
    expect((await decodeFailure(reader.decode(message))).reason).toBe('unknown_schema_id')

    // The id appears later (say a lagging registry replica caught up): now the message decodes.
    expect(registry.add(JSON.stringify(CURRENT_SCHEMA, null, 1))).toBe(id)
    expect(await reader.decode(message)).toStrictEqual(sample('log'))
  })

  it('rejects a schema it cannot read as the envelope with incompatible_schema, and remembers', async () => {
    const reader = createEventCodec({ schemaRegistryUrl: registry.url })
    for (const [schema, schemaType] of [['"string"', undefined], ['syntax = "proto3";', 'PROTOBUF']] as const) {
      const id = registry.add(schema, schemaType)
      const message = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), Buffer.from([2, 0x41])])
      message.writeUInt32BE(id, 1)
      registry.requests.length = 0
      expect((await decodeFailure(reader.decode(message))).reason).toBe('incompatible_schema')
      expect((await decodeFailure(reader.decode(message))).reason).toBe('incompatible_schema')
      expect(registry.requests).toHaveLength(1)
    }
  })

  it('rejects a truncated Confluent header and a corrupt body', async () => {
    const codec = createEventCodec({ schemaRegistryUrl: registry.url })
    const message = await codec.encode(sample('log'))
    expect((await decodeFailure(codec.decode(message.subarray(0, 3)))).reason).toBe('corrupt_body')
    expect((await decodeFailure(codec.decode(message.subarray(0, message.length - 2)))).reason).toBe('corrupt_body')
  })

  it('surfaces registry outages as plain errors (retryable) and recovers', async () => {
    const writer = createEventCodec({ schemaRegistryUrl: registry.url })
    registry.fail(503)
    const registerError: unknown = await writer.encode(sample('log')).catch((err: unknown) => err)
    expect(registerError).toBeInstanceOf(Error)
    expect(registerError).not.toBeInstanceOf(UndecodableEventError)
    expect(String(registerError)).toMatch(/HTTP 503/)
    const message = await writer.encode(sample('log')) // retried: registry is back
    expect(message[0]).toBe(0)

    const reader = createEventCodec({ schemaRegistryUrl: registry.url })
    registry.fail(500)
    const fetchError: unknown = await reader.decode(message).catch((err: unknown) => err)
    expect(fetchError).toBeInstanceOf(Error)
    expect(fetchError).not.toBeInstanceOf(UndecodableEventError)
    expect(await reader.decode(message)).toStrictEqual(sample('log'))
  })

  it('turns a network failure into a plain error naming the registry', async () => {
    const codec = createEventCodec({ schemaRegistryUrl: 'http://127.0.0.1:1' })
    await expect(codec.encode(sample('log'))).rejects.toThrow(/schema registry: POST http:\/\/127\.0\.0\.1:1\/subjects/)
  })

  it('uses the fetch it is given', async () => {
    const calls: string[] = []
    const fetchImpl: typeof fetch = async (input, init) => {
      calls.push(`${init?.method ?? 'GET'} ${String(input)}`)
      return new Response(JSON.stringify({ id: 7 }), { status: 200 })
    }
    const codec = createEventCodec({ schemaRegistryUrl: 'http://registry.invalid', fetchImpl })
    const message = await codec.encode(sample('log'))
    expect(message.readUInt32BE(1)).toBe(7)
    expect(calls).toEqual(['POST http://registry.invalid/subjects/sluice.events-value/versions'])
  })
})
