/**
 * Avro codec for the events on Kafka (see schemas/event-envelope.avsc, subject
 * `sluice.events-value`). Two wire formats; `decode` accepts both whatever the write mode:
 *
 *  - single-object (default, no registry): `C3 01`, the 8-byte little-endian CRC-64-AVRO
 *    fingerprint of the writer schema's Parsing Canonical Form, then the Avro binary body. The
 *    reader knows every schema in schemas/history by fingerprint and resolves older writers to
 *    the current schema. It cannot read a writer it has no file for (a newer one): in this mode
 *    roll out consumers before producers when the schema changes.
 *  - Confluent (`schemaRegistryUrl` set): `00`, the 4-byte big-endian schema id, then the body.
 *    The writer registers the current schema under the subject on first encode; the reader
 *    fetches unknown ids from the registry (Confluent Schema Registry API, e.g. Redpanda's).
 *
 * Callers see plain objects exactly as typed in lib/event-types.ts; the payload union is wrapped
 * and unwrapped here based on `type`. Timestamps are plain epoch-millisecond numbers.
 */
import type { Type } from 'avsc'
import type { EventEnvelope } from '../event-types.ts'
import { EVENT_TYPES } from '../event-types.ts'
import { createAvroType, type AvroResolver } from './avro-type.ts'
import { fingerprintBytes, schemaFingerprint } from './fingerprint.ts'
import {
  EVENT_ENVELOPE_SUBJECT,
  PAYLOAD_RECORD_BY_TYPE,
  loadCurrentSchema,
  loadHistorySchemas,
} from './schema-files.ts'

export interface EventCodec {
  encode(event: EventEnvelope): Promise<Buffer>
  /**
   * Many at once, for ingest's hot path: one wait for the registry (Confluent mode), then every
   * event written back to back into one new buffer; the results are views of it, in order.
   */
  encodeMany(events: readonly EventEnvelope[]): Promise<Buffer[]>
  /** Accepts both wire formats; throws UndecodableEventError for messages that can never decode. */
  decode(message: Buffer): Promise<EventEnvelope>
  /**
   * The same without a promise, for the processors' hot loop; null when the writer schema must
   * first be fetched from the registry (then use `decode`).
   */
  decodeNow(message: Buffer): EventEnvelope | null
  readonly format: 'single-object' | 'confluent'
}

export interface EventCodecOptions {
  /** Confluent-compatible Schema Registry base URL; set = write the Confluent format. */
  schemaRegistryUrl?: string | undefined
  /** Registry subject of the current schema. Default `sluice.events-value`. */
  subject?: string
  fetchImpl?: typeof fetch
  /**
   * Writer schemas (parsed .avsc) to recognise by fingerprint in addition to schemas/history.
   * For tests and tools reading foreign data; production readers get theirs from the history.
   */
  extraWriterSchemas?: readonly unknown[]
}

export type UndecodableReason =
  | 'empty'
  | 'bad_magic'
  | 'unknown_fingerprint'
  | 'unknown_schema_id'
  | 'no_schema_registry'
  /** The registry's schema for the id is not Avro, or cannot be resolved to the reader schema. */
  | 'incompatible_schema'
  | 'corrupt_body'

/**
 * The message can never be decoded by this reader (dead-letter it). Transient trouble, such as
 * the registry being down, is a plain Error instead: retry those.
 */
export class UndecodableEventError extends Error {
  readonly reason: UndecodableReason

  constructor(reason: UndecodableReason, detail: string, options?: ErrorOptions) {
    super(`undecodable event (${reason}): ${detail}`, options)
    this.name = 'UndecodableEventError'
    this.reason = reason
  }
}

export function createEventCodec(options: EventCodecOptions = {}): EventCodec {
  const catalog = getCatalog()
  let writers = catalog.writers
  if (options.extraWriterSchemas?.length) {
    const extended = new Map(writers)
    for (const schema of options.extraWriterSchemas) {
      const fingerprint = schemaFingerprint(schema)
      extended.set(fingerprintKey(fingerprint), resolverFor(catalog, schema, fingerprint))
    }
    writers = extended
  }
  const registry = options.schemaRegistryUrl
    ? new SchemaRegistryClient(options.schemaRegistryUrl, options.fetchImpl ?? globalThis.fetch)
    : undefined
  return new AvroEventCodec(catalog, writers, registry, options.subject ?? EVENT_ENVELOPE_SUBJECT)
}

// ---------------------------------------------------------------------------------------------
// Schemas, loaded once per process.

const SINGLE_OBJECT_MAGIC_0 = 0xc3
const SINGLE_OBJECT_MAGIC_1 = 0x01
const SINGLE_OBJECT_HEADER_LENGTH = 10
const CONFLUENT_MAGIC = 0x00
const CONFLUENT_HEADER_LENGTH = 5

interface PayloadSpec {
  branchName: string
  /** The union index, zigzag-encoded: a single byte for the first 64 branches. */
  indexByte: number
  branchType: Type
  /** Field names of the (reader) payload record, copied into plain objects on decode. */
  fields: readonly string[]
}

interface Catalog {
  readerType: Type
  /** The envelope record without its last field, `payload`: encode writes the payload itself. */
  headerType: Type
  /** The current schema as compact JSON, as registered with a schema registry. */
  schemaText: string
  fingerprint: bigint
  /** Single-object header of the current schema. */
  singleObjectHeader: Buffer
  /** The fingerprint's two little-endian 32-bit halves, for an allocation-free comparison. */
  fingerprintLow: number
  fingerprintHigh: number
  payloadByType: ReadonlyMap<string, PayloadSpec>
  /** Known writers by fingerprint key; `null` = the current schema (no resolution needed). */
  writers: ReadonlyMap<string, AvroResolver | null>
}

let cachedCatalog: Catalog | undefined

function getCatalog(): Catalog {
  cachedCatalog ??= buildCatalog(loadCurrentSchema(), loadHistorySchemas().map((entry) => entry.schema))
  return cachedCatalog
}

interface SchemaJson {
  fields: unknown[]
  [key: string]: unknown
}

interface FieldJson {
  name: string
}

function buildCatalog(schema: unknown, history: readonly unknown[]): Catalog {
  const readerType = createAvroType(schema)
  const json = schema as SchemaJson
  const lastField = json.fields.at(-1) as FieldJson | undefined
  if (lastField?.name !== 'payload') {
    throw new Error('schemas/event-envelope.avsc: `payload` must be the last field of EventEnvelope')
  }
  const headerType = createAvroType({ ...json, fields: json.fields.slice(0, -1) })

  const payloadField = readerFields(readerType).at(-1)
  const branches = (payloadField?.type as unknown as { types?: readonly Type[] } | undefined)?.types ?? []
  const payloadByType = new Map<string, PayloadSpec>()
  for (const eventType of EVENT_TYPES) {
    const branchName = PAYLOAD_RECORD_BY_TYPE[eventType]
    const index = branches.findIndex((branch) => branch.name === branchName)
    const branchType = branches[index]
    if (branchType === undefined || index >= 64) {
      throw new Error(`schemas/event-envelope.avsc: payload union has no branch ${branchName} for ${eventType}`)
    }
    payloadByType.set(eventType, {
      branchName,
      indexByte: index * 2,
      branchType,
      fields: readerFields(branchType).map((field) => field.name),
    })
  }
  if (branches.length !== EVENT_TYPES.length) {
    throw new Error('schemas/event-envelope.avsc: every payload branch must belong to an event type')
  }

  const fingerprint = schemaFingerprint(readerType)
  const singleObjectHeader = Buffer.alloc(SINGLE_OBJECT_HEADER_LENGTH)
  singleObjectHeader[0] = SINGLE_OBJECT_MAGIC_0
  singleObjectHeader[1] = SINGLE_OBJECT_MAGIC_1
  singleObjectHeader.writeBigUInt64LE(fingerprint, 2)

  const catalog: Catalog = {
    readerType,
    headerType,
    schemaText: JSON.stringify(schema),
    fingerprint,
    singleObjectHeader,
    fingerprintLow: singleObjectHeader.readUInt32LE(2),
    fingerprintHigh: singleObjectHeader.readUInt32LE(6),
    payloadByType,
    writers: new Map(),
  }
  const writers = new Map<string, AvroResolver | null>([[fingerprintKey(fingerprint), null]])
  for (const old of history) {
    const oldFingerprint = schemaFingerprint(old)
    writers.set(fingerprintKey(oldFingerprint), resolverFor(catalog, old, oldFingerprint))
  }
  catalog.writers = writers
  return catalog
}

function readerFields(type: Type): readonly { name: string; type: Type }[] {
  return (type as unknown as { fields?: readonly { name: string; type: Type }[] }).fields ?? []
}

/** How a fingerprint appears in a single-object header, as hex (the map key for writers). */
function fingerprintKey(fingerprint: bigint): string {
  return fingerprintBytes(fingerprint).toString('hex')
}

/** `null` when `schema` is the current schema; throws when the reader cannot resolve it. */
function resolverFor(catalog: Catalog, schema: unknown, fingerprint = schemaFingerprint(schema)): AvroResolver | null {
  if (fingerprint === catalog.fingerprint) return null
  return catalog.readerType.createResolver(createAvroType(schema))
}

// ---------------------------------------------------------------------------------------------
// The codec.

/** A registry schema id that can never be read by this reader, and why. */
class SchemaRejection {
  readonly detail: string
  constructor(detail: string) {
    this.detail = detail
  }
}

/** Encodes write into a reusable buffer; one that grew past this is not kept. */
const INITIAL_SCRATCH_SIZE = 16 * 1024
const MAX_RETAINED_SCRATCH_SIZE = 1024 * 1024

/** What avsc decodes an envelope into (records are avsc record instances, maps plain objects). */
interface DecodedEnvelope {
  id: string
  project_id: string
  type: string
  timestamp: number
  received_at: number
  request_id: string | null
  /** A wrapped union: `{ "dev.sluice.RunStart": {...} }`. */
  payload: Record<string, Record<string, unknown> | undefined>
}

class AvroEventCodec implements EventCodec {
  readonly format: 'single-object' | 'confluent'
  private scratch: Buffer
  private headerLength: number
  /** Confluent mode: the id the registry gave the current schema, once registered. */
  private schemaId: number | undefined
  private registration: Promise<number> | undefined
  /** Registry ids seen: resolver (`null` = current schema), or why they can never be read. */
  private readonly schemasById = new Map<number, AvroResolver | null | SchemaRejection>()
  private readonly pendingIds = new Map<number, Promise<AvroResolver | null>>()
  private readonly catalog: Catalog
  private readonly writers: ReadonlyMap<string, AvroResolver | null>
  private readonly registry: SchemaRegistryClient | undefined
  private readonly subject: string

  constructor(
    catalog: Catalog,
    writers: ReadonlyMap<string, AvroResolver | null>,
    registry: SchemaRegistryClient | undefined,
    subject: string,
  ) {
    this.catalog = catalog
    this.writers = writers
    this.registry = registry
    this.subject = subject
    this.format = registry ? 'confluent' : 'single-object'
    this.scratch = Buffer.allocUnsafe(INITIAL_SCRATCH_SIZE)
    if (registry) {
      this.headerLength = CONFLUENT_HEADER_LENGTH // header bytes written once the id is known
    } else {
      this.headerLength = SINGLE_OBJECT_HEADER_LENGTH
      catalog.singleObjectHeader.copy(this.scratch, 0)
    }
  }

  async encode(event: EventEnvelope): Promise<Buffer> {
    if (this.registry && this.schemaId === undefined) await this.register()
    return this.encodeNow(event)
  }

  async encodeMany(events: readonly EventEnvelope[]): Promise<Buffer[]> {
    if (this.registry && this.schemaId === undefined) await this.register()
    // A guess; the buffer doubles when it was short.
    let batch = Buffer.allocUnsafe(Math.max(INITIAL_SCRATCH_SIZE, events.length * 512))
    const ends: number[] = new Array<number>(events.length)
    let at = 0
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!
      const spec = this.catalog.payloadByType.get(event.type)
      if (spec === undefined) throw new Error(`cannot encode an event of unknown type ${JSON.stringify(event.type)}`)
      let end = this.writeAt(event, spec, batch, at)
      while (end < 0) {
        const bigger = Buffer.allocUnsafe(Math.max(batch.length * 2, batch.length - end))
        batch.copy(bigger, 0, 0, at)
        batch = bigger
        end = this.writeAt(event, spec, batch, at)
      }
      ends[i] = end
      at = end
    }
    const out: Buffer[] = new Array<Buffer>(events.length)
    let start = 0
    for (let i = 0; i < ends.length; i++) {
      out[i] = batch.subarray(start, ends[i])
      start = ends[i]!
    }
    return out
  }

  /** The header, then the body, at `at`; the end offset, or minus the bytes missing (see writeBody). */
  private writeAt(event: EventEnvelope, spec: PayloadSpec, buffer: Buffer, at: number): number {
    const bodyAt = at + this.headerLength
    if (bodyAt >= buffer.length) return -(bodyAt - buffer.length + 1)
    this.scratch.copy(buffer, at, 0, this.headerLength)
    const pos = this.catalog.headerType.encode(event, buffer, bodyAt)
    if (pos < 0) return pos
    if (pos >= buffer.length) return -1
    buffer[pos] = spec.indexByte
    return spec.branchType.encode(event.payload, buffer, pos + 1)
  }

  async decode(message: Buffer): Promise<EventEnvelope> {
    const now = this.decodeNow(message)
    if (now !== null) return now
    const id = message.readUInt32BE(1)
    const known = await this.fetchSchema(id)
    if (known instanceof SchemaRejection) throw new UndecodableEventError('incompatible_schema', known.detail)
    return this.readBody(message, CONFLUENT_HEADER_LENGTH, known ?? undefined)
  }

  decodeNow(message: Buffer): EventEnvelope | null {
    const length = message.length
    if (length === 0) throw new UndecodableEventError('empty', 'empty message')
    const magic = message[0]

    if (magic === SINGLE_OBJECT_MAGIC_0) {
      if (length < 2) throw new UndecodableEventError('corrupt_body', 'truncated single-object header')
      if (message[1] !== SINGLE_OBJECT_MAGIC_1) {
        throw new UndecodableEventError('bad_magic', `unknown single-object marker c3 ${hexByte(message[1])}`)
      }
      if (length < SINGLE_OBJECT_HEADER_LENGTH) {
        throw new UndecodableEventError('corrupt_body', 'truncated single-object header')
      }
      if (
        message.readUInt32LE(2) === this.catalog.fingerprintLow &&
        message.readUInt32LE(6) === this.catalog.fingerprintHigh
      ) {
        return this.readBody(message, SINGLE_OBJECT_HEADER_LENGTH, undefined)
      }
      const key = message.toString('hex', 2, SINGLE_OBJECT_HEADER_LENGTH)
      const resolver = this.writers.get(key)
      if (resolver === undefined) {
        throw new UndecodableEventError('unknown_fingerprint', `no known writer schema has fingerprint ${key} (LE)`)
      }
      return this.readBody(message, SINGLE_OBJECT_HEADER_LENGTH, resolver ?? undefined)
    }

    if (magic === CONFLUENT_MAGIC) {
      if (!this.registry) {
        throw new UndecodableEventError('no_schema_registry', 'Confluent-framed message but no schema registry is configured')
      }
      if (length < CONFLUENT_HEADER_LENGTH) throw new UndecodableEventError('corrupt_body', 'truncated Confluent header')
      const id = message.readUInt32BE(1)
      const known = this.schemasById.get(id)
      if (known === undefined) return null
      if (known instanceof SchemaRejection) throw new UndecodableEventError('incompatible_schema', known.detail)
      return this.readBody(message, CONFLUENT_HEADER_LENGTH, known ?? undefined)
    }

    throw new UndecodableEventError('bad_magic', `unknown first byte ${hexByte(magic)}`)
  }

  private encodeNow(event: EventEnvelope): Buffer {
    const spec = this.catalog.payloadByType.get(event.type)
    if (spec === undefined) throw new Error(`cannot encode an event of unknown type ${JSON.stringify(event.type)}`)
    let buffer = this.scratch
    let end = this.writeBody(event, spec, buffer)
    while (end < 0) {
      // avsc keeps counting past the end, so -end is how many bytes were missing (at least).
      const bigger = Buffer.allocUnsafe(Math.max(buffer.length * 2, buffer.length - end))
      buffer.copy(bigger, 0, 0, this.headerLength)
      buffer = bigger
      if (buffer.length <= MAX_RETAINED_SCRATCH_SIZE) this.scratch = buffer
      end = this.writeBody(event, spec, buffer)
    }
    const out = Buffer.allocUnsafe(end)
    buffer.copy(out, 0, 0, end)
    return out
  }

  /**
   * Writes the Avro body after the header already in `buffer`; returns the end offset, or minus
   * the number of bytes missing (a lower bound) when `buffer` is too small. A record is its
   * fields back to back and `payload` is the envelope's last field, so this is the envelope
   * without `payload`, the union index, then the payload record: byte for byte what avsc writes
   * for the whole envelope, without building a `{ "dev.sluice.X": payload }` wrapper per event.
   */
  private writeBody(event: EventEnvelope, spec: PayloadSpec, buffer: Buffer): number {
    const pos = this.catalog.headerType.encode(event, buffer, this.headerLength)
    if (pos < 0) return pos
    if (pos >= buffer.length) return -1
    buffer[pos] = spec.indexByte
    return spec.branchType.encode(event.payload, buffer, pos + 1)
  }

  private readBody(message: Buffer, offset: number, resolver: AvroResolver | undefined): EventEnvelope {
    let result: { value: unknown; offset: number }
    try {
      result = this.catalog.readerType.decode(message, offset, resolver)
    } catch (err) {
      throw new UndecodableEventError('corrupt_body', `Avro body does not decode: ${errorMessage(err)}`, { cause: err })
    }
    if (result.offset < 0) throw new UndecodableEventError('corrupt_body', 'truncated Avro body')
    if (result.offset !== message.length) {
      throw new UndecodableEventError('corrupt_body', `${message.length - result.offset} trailing bytes after the Avro body`)
    }
    return this.toEnvelope(result.value as DecodedEnvelope)
  }

  /** avsc's records and wrapped union into the plain objects of lib/event-types.ts. */
  private toEnvelope(decoded: DecodedEnvelope): EventEnvelope {
    const type = decoded.type
    const spec = this.catalog.payloadByType.get(type)
    if (spec === undefined) throw new UndecodableEventError('corrupt_body', `unknown event type ${JSON.stringify(type)}`)
    const record = decoded.payload[spec.branchName]
    if (record === undefined) {
      throw new UndecodableEventError('corrupt_body', `event type ${type} does not match its payload record`)
    }
    const payload: Record<string, unknown> = {}
    for (const field of spec.fields) payload[field] = record[field]
    // The reader schema guarantees the shapes; `type` was checked against the payload branch.
    const envelope = {
      id: decoded.id,
      project_id: decoded.project_id,
      type,
      timestamp: decoded.timestamp,
      received_at: decoded.received_at,
      request_id: decoded.request_id,
      payload,
    }
    return envelope as unknown as EventEnvelope
  }

  private register(): Promise<number> {
    const registry = this.registry
    if (!registry) throw new Error('no schema registry configured')
    this.registration ??= registry.register(this.subject, this.catalog.schemaText).then(
      (id) => {
        this.scratch[0] = CONFLUENT_MAGIC
        this.scratch.writeUInt32BE(id, 1)
        this.schemaId = id
        this.schemasById.set(id, null)
        return id
      },
      (err: unknown) => {
        this.registration = undefined // let the next encode try again
        throw err
      },
    )
    return this.registration
  }

  /** Fetches an unknown id once, however many decodes are waiting for it. */
  private fetchSchema(id: number): Promise<AvroResolver | null> {
    let pending = this.pendingIds.get(id)
    if (!pending) {
      pending = this.loadSchema(id).finally(() => this.pendingIds.delete(id))
      this.pendingIds.set(id, pending)
    }
    return pending
  }

  private async loadSchema(id: number): Promise<AvroResolver | null> {
    const registry = this.registry
    if (!registry) throw new Error('no schema registry configured')
    // Transient errors (registry down, 5xx) reject with a plain Error and nothing is cached.
    const found = await registry.schemaById(id)
    // Not cached either: a registry replica that lags behind may not know a new id yet.
    if (found === undefined) throw new UndecodableEventError('unknown_schema_id', `schema id ${id} is not in the registry`)

    let resolved: AvroResolver | null
    try {
      if (found.schemaType !== undefined && found.schemaType !== 'AVRO') {
        throw new Error(`it is a ${found.schemaType} schema, not Avro`)
      }
      const schema: unknown = JSON.parse(found.schema)
      const fingerprint = schemaFingerprint(schema)
      const known = this.writers.get(fingerprintKey(fingerprint))
      resolved = known !== undefined ? known : resolverFor(this.catalog, schema, fingerprint)
    } catch (err) {
      // Ids are immutable, so this answer is final: remember it.
      const detail = `schema id ${id} cannot be read as the current event schema: ${errorMessage(err)}`
      this.schemasById.set(id, new SchemaRejection(detail))
      throw new UndecodableEventError('incompatible_schema', detail, { cause: err })
    }
    this.schemasById.set(id, resolved)
    return resolved
  }
}

// ---------------------------------------------------------------------------------------------
// Schema Registry (Confluent API: Confluent, Redpanda, Apicurio's compatibility layer, ...).

const REGISTRY_CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json'
const REGISTRY_TIMEOUT_MS = 10_000

interface RegistrySchema {
  schema: string
  schemaType?: string
}

class SchemaRegistryClient {
  private readonly baseUrl: string
  private readonly fetchImpl: typeof fetch

  constructor(baseUrl: string, fetchImpl: typeof fetch) {
    this.baseUrl = baseUrl.replace(/\/+$/, '')
    this.fetchImpl = fetchImpl
  }

  /** POST /subjects/{subject}/versions: registers (or finds) the schema, returns its global id. */
  async register(subject: string, schemaText: string): Promise<number> {
    const path = `/subjects/${encodeURIComponent(subject)}/versions`
    const response = await this.request(path, {
      method: 'POST',
      headers: { 'content-type': REGISTRY_CONTENT_TYPE, accept: REGISTRY_CONTENT_TYPE },
      body: JSON.stringify({ schema: schemaText }),
    })
    if (!response.ok) throw await registryError(`registering the event schema under ${subject}`, response)
    const body = (await response.json()) as { id?: unknown }
    if (typeof body.id !== 'number' || !Number.isInteger(body.id) || body.id < 0) {
      throw new Error(`schema registry: unexpected answer registering under ${subject}: ${JSON.stringify(body)}`)
    }
    return body.id
  }

  /** GET /schemas/ids/{id}; `undefined` when the registry does not know the id. */
  async schemaById(id: number): Promise<RegistrySchema | undefined> {
    const response = await this.request(`/schemas/ids/${id}`, { headers: { accept: REGISTRY_CONTENT_TYPE } })
    if (response.status === 404) return undefined
    if (!response.ok) throw await registryError(`fetching schema id ${id}`, response)
    const body = (await response.json()) as { schema?: unknown; schemaType?: unknown }
    if (typeof body.schema !== 'string') {
      throw new Error(`schema registry: unexpected answer for schema id ${id}: ${JSON.stringify(body)}`)
    }
    return typeof body.schemaType === 'string' ? { schema: body.schema, schemaType: body.schemaType } : { schema: body.schema }
  }

  private async request(path: string, init: RequestInit): Promise<Response> {
    const url = this.baseUrl + path
    try {
      return await this.fetchImpl(url, { ...init, signal: AbortSignal.timeout(REGISTRY_TIMEOUT_MS) })
    } catch (err) {
      throw new Error(`schema registry: ${init.method ?? 'GET'} ${url} failed: ${errorMessage(err)}`, { cause: err })
    }
  }
}

async function registryError(what: string, response: Response): Promise<Error> {
  const text = await response.text().catch(() => '')
  return new Error(`schema registry: ${what} failed: HTTP ${response.status} ${text.slice(0, 500)}`)
}

function hexByte(byte: number | undefined): string {
  return (byte ?? 0).toString(16).padStart(2, '0')
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
