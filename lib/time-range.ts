/**
 * The instants Sluice stores: 1970-01-01 to 2199-12-31 (UTC), inclusive. Ingest refuses event
 * times outside it and the query API refuses such bounds, so nothing is clamped or wrapped by a
 * store on the way (ClickHouse's DateTime64 and Avro longs could each hold a different range).
 */
export const MIN_TIME = Date.UTC(1970, 0, 1)
export const MAX_TIME = Date.UTC(2200, 0, 1) - 1
export const TIME_RANGE_MESSAGE = 'must be between 1970-01-01 and 2199-12-31'

export function inTimeRange(ms: number): boolean {
  return Number.isInteger(ms) && ms >= MIN_TIME && ms <= MAX_TIME
}
