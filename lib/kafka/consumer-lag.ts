import type { Admin } from 'kafkajs'

export interface PartitionLag {
  group: string
  topic: string
  partition: number
  committed_offset: number
  end_offset: number
  lag: number
}

/**
 * Lag of each group on each partition of its topics: end offset minus committed offset. A partition
 * the group never committed on counts from the start of the log (low watermark).
 */
export async function fetchConsumerLag(
  admin: Admin,
  subscriptions: ReadonlyArray<{ group: string; topics: readonly string[] }>,
): Promise<PartitionLag[]> {
  const rows: PartitionLag[] = []
  const topicOffsets = new Map<string, Awaited<ReturnType<Admin['fetchTopicOffsets']>>>()
  for (const { group, topics } of subscriptions) {
    const committed = await admin.fetchOffsets({ groupId: group, topics: [...topics] })
    for (const t of committed) {
      let ends = topicOffsets.get(t.topic)
      if (!ends) {
        ends = await admin.fetchTopicOffsets(t.topic)
        topicOffsets.set(t.topic, ends)
      }
      for (const p of t.partitions) {
        const end = ends.find((e) => e.partition === p.partition)
        const endOffset = Number(end?.high ?? 0)
        const low = Number(end?.low ?? 0)
        const committedOffset = Number(p.offset) < 0 ? low : Number(p.offset)
        rows.push({
          group,
          topic: t.topic,
          partition: p.partition,
          committed_offset: committedOffset,
          end_offset: endOffset,
          lag: Math.max(endOffset - committedOffset, 0),
        })
      }
    }
  }
  return rows.sort((a, b) => a.group.localeCompare(b.group) || a.topic.localeCompare(b.topic) || a.partition - b.partition)
}
