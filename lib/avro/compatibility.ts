/**
 * Schema evolution checks for the event envelope, used by schemas/compatibility.test.ts.
 *
 * "Reader R can read writer W" is proven, not assumed: avsc must build a resolver from W to R
 * (this is where a new field without a default, a changed type or a missing union branch fails),
 * and then sample envelopes of every payload type, encoded with W, must decode with R into values
 * R accepts. Backward = the newer schema reads data of the older one; forward = the older schema
 * reads data of the newer one.
 */
import type { Type } from 'avsc'
import type { EventEnvelope } from '../event-types.ts'
import { createAvroType, type AvroResolver } from './avro-type.ts'
import { SAMPLE_ENVELOPES } from './sample-envelopes.ts'
import { PAYLOAD_RECORD_BY_TYPE } from './schema-files.ts'

export interface CompatibilityReport {
  /** Problems when the newer schema reads data written with the older one. */
  backward: string[]
  /** Problems when the older schema reads data written with the newer one. */
  forward: string[]
}

export interface CheckOptions {
  /** Realistic envelopes to push through (each used with every writer that can encode it). */
  samples?: readonly EventEnvelope[]
  /** Extra avsc-generated random values per payload branch of the writer. */
  randomPerBranch?: number
}

/** Both directions between two versions of the envelope schema. Empty arrays = fully compatible. */
export function checkCompatibility(
  olderSchema: unknown,
  newerSchema: unknown,
  options: CheckOptions = {},
): CompatibilityReport {
  return {
    backward: checkReadable(olderSchema, newerSchema, options),
    forward: checkReadable(newerSchema, olderSchema, options),
  }
}

/** Problems reading data written with `writerSchema` using `readerSchema`; empty when it works. */
export function checkReadable(writerSchema: unknown, readerSchema: unknown, options: CheckOptions = {}): string[] {
  const { samples = SAMPLE_ENVELOPES, randomPerBranch = 5 } = options
  let writer: Type
  let reader: Type
  try {
    writer = createAvroType(writerSchema)
    reader = createAvroType(readerSchema)
  } catch (err) {
    return [`invalid schema: ${message(err)}`]
  }

  let resolver: AvroResolver
  try {
    resolver = reader.createResolver(writer)
  } catch (err) {
    return [`reader cannot resolve writer: ${message(err)}`, ...explainPayloadProblems(writer, reader)]
  }

  const problems: string[] = []
  for (const { label, value } of writerValues(writer, samples, randomPerBranch)) {
    let bytes: Buffer
    try {
      bytes = writer.toBuffer(value)
    } catch (err) {
      problems.push(`${label}: writer cannot encode its own sample: ${message(err)}`)
      continue
    }
    try {
      const decoded: unknown = reader.fromBuffer(bytes, resolver)
      if (!reader.isValid(decoded)) problems.push(`${label}: decoded value is not valid for the reader`)
    } catch (err) {
      problems.push(`${label}: reader cannot decode: ${message(err)}`)
    }
  }
  return problems
}

interface LabelledValue {
  label: string
  value: unknown
}

/** Values valid for `writer`: the samples it can represent, plus random values for each payload branch. */
function writerValues(writer: Type, samples: readonly EventEnvelope[], randomPerBranch: number): LabelledValue[] {
  const branches = payloadBranches(writer)
  const values: LabelledValue[] = []

  for (const sample of samples) {
    const branchName = PAYLOAD_RECORD_BY_TYPE[sample.type]
    if (!branches.some((branch) => branch.name === branchName)) continue
    const value = { ...sample, payload: { [branchName]: sample.payload } }
    // A sample made for another version may lack a field this writer requires: skip it; the
    // random values below still cover every branch.
    if (writer.isValid(value)) values.push({ label: `sample ${sample.id}`, value })
  }

  if (branches.length === 0) {
    for (let i = 0; i < randomPerBranch; i++) values.push({ label: `random #${i}`, value: writer.random() })
    return values
  }
  for (const branch of branches) {
    for (let i = 0; i < randomPerBranch; i++) {
      const value = writer.random() as unknown as Record<string, unknown>
      value['payload'] = branch.wrap(branch.random())
      values.push({ label: `random ${branch.name ?? '?'} #${i}`, value })
    }
  }
  return values
}

/**
 * avsc reports a failed union resolution as "cannot read X as [union]" and drops the reason. Retry
 * branch by branch (same name) to surface it, e.g. "no matching field for default-less ...".
 */
function explainPayloadProblems(writer: Type, reader: Type): string[] {
  const readerBranches = payloadBranches(reader)
  const problems: string[] = []
  for (const writerBranch of payloadBranches(writer)) {
    const readerBranch = readerBranches.find((branch) => branch.name === writerBranch.name)
    if (!readerBranch) {
      problems.push(`payload branch ${writerBranch.name ?? '?'}: the reader has no such branch`)
      continue
    }
    try {
      readerBranch.createResolver(writerBranch)
    } catch (err) {
      problems.push(`payload branch ${writerBranch.name ?? '?'}: ${message(err)}`)
    }
  }
  return problems
}

function payloadBranches(writer: Type): readonly Type[] {
  const fields = (writer as unknown as { fields?: readonly { name: string; type: Type }[] }).fields ?? []
  const payload = fields.find((field) => field.name === 'payload')
  return (payload?.type as unknown as { types?: readonly Type[] } | undefined)?.types ?? []
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
