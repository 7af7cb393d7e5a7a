/**
 * The one place that turns an Avro schema into an avsc `Type`. Everything in lib/avro (codec,
 * fingerprints, compatibility checks) goes through `createAvroType` so they all see the same
 * types, built with the same options.
 *
 * Two deliberate departures from stock avsc, both about maps and both on the read side:
 *  - A corrupt (or hostile) message can claim a map block of 2^50 entries in a few bytes; stock
 *    avsc keeps looping past the end of the buffer (~25 ns per phantom entry: hours to years), which
 *    would wedge a consumer on one poison message. Our map reader stops as soon as it has run off
 *    the end, and the codec then reports the message as truncated.
 *  - Stock avsc assigns keys with `obj[key] = value`, so a key spelled `__proto__` silently
 *    disappears. We define it as an own property instead, so it round-trips like any other key.
 */
import avro from 'avsc'
import type { Type } from 'avsc'

/** The parts of avsc's internal `Tap` (its read cursor) that the map reader uses. */
interface AvscTap {
  buf: Buffer
  pos: number
  readLong(): number
  skipLong(): void
  readString(): string
  isValid(): boolean
}

/** A type or a resolver: anything with avsc's internal `_read`. */
interface AvscReader {
  _read(tap: AvscTap): unknown
}

const StockMapType = avro.types.MapType as unknown as new (schema: unknown, opts: unknown) => {
  readonly valuesType: AvscReader
}

/**
 * avsc's map type with a `_read` that cannot spin past the end of the buffer. avsc resolvers copy
 * `_read` from the reader type and call it with the resolver as `this` (whose `valuesType` is the
 * values resolver), so the override also covers schema resolution. No instance fields: avsc
 * freezes types in their constructor.
 */
class BoundedMapType extends StockMapType {
  _read(tap: AvscTap): Record<string, unknown> {
    const values = this.valuesType
    const map: Record<string, unknown> = {}
    for (;;) {
      let n = tap.readLong()
      if (n === 0) return map
      if (n < 0) {
        // A negative count is followed by the block's size in bytes (used only for skipping).
        n = -n
        tap.skipLong()
      }
      for (; n > 0; n--) {
        if (!tap.isValid()) return map // ran off the end: the caller sees a truncated buffer
        const key = tap.readString()
        const value = values._read(tap)
        if (key === '__proto__') {
          Object.defineProperty(map, key, { value, enumerable: true, writable: true, configurable: true })
        } else {
          map[key] = value
        }
      }
      if (!tap.isValid()) return map
    }
  }
}

function typeHook(schema: unknown, opts: unknown): Type | undefined {
  if (typeof schema === 'object' && schema !== null && (schema as { type?: unknown }).type === 'map') {
    return new BoundedMapType(schema, opts) as unknown as Type
  }
  return undefined
}

/**
 * An avsc type for `schema` (a parsed .avsc document). Logical types are not registered, so
 * `timestamp-millis` longs stay plain numbers. Unions are unwrapped where avsc can tell the
 * branches apart (`["null", T]`, `["string", "double", "boolean"]`) and wrapped otherwise (the
 * payload union of records: `{ "dev.sluice.RunStart": {...} }`).
 */
export function createAvroType(schema: unknown): Type {
  return avro.Type.forSchema(schema as Parameters<typeof avro.Type.forSchema>[0], {
    wrapUnions: 'auto',
    typeHook: typeHook as never,
  })
}

/** What `Type#createResolver` returns (avsc does not export the class). */
export type AvroResolver = ReturnType<Type['createResolver']>
