import type { Admin } from 'kafkajs'
import type { Config } from '../lib/config.ts'
import type { Logger } from '../lib/logger.ts'

/** A consumer group an older Sluice ran, whose processor now reads the fetches of another group. */
export interface RetiredGroup {
  retired: string
  into: string
}

/**
 * Until 2026-12, the logs processor had a consumer group of its own (`SLUICE_LOGS_GROUP`); it now
 * reads the runs-funnel group's fetches (one fetch and one decode of each message for both).
 */
export function retiredGroups(config: Config): RetiredGroup[] {
  const { logsGroup, runsFunnelGroup } = config.processor
  return logsGroup === runsFunnelGroup ? [] : [{ retired: logsGroup, into: runsFunnelGroup }]
}

const IDLE_STATES = new Set(['Empty', 'Dead'])

/**
 * Takes over the offsets of retired groups, once: where a retired group is behind the group that
 * took over its processor, that group goes back to the retired group's offset (what it already
 * stored there is skipped again: every processor's handle is idempotent), so nothing the retired
 * group had still to read is lost. Then the retired group is deleted.
 *
 * Both groups must be idle (an older Sluice's processors stopped, this one's not yet joined): the
 * first processor of this version to start does it; while an older processor still runs the
 * retired group, this says so and leaves it for a later start.
 */
export async function adoptRetiredGroups(admin: Admin, topic: string, groups: readonly RetiredGroup[], logger: Logger): Promise<void> {
  for (const { retired, into } of groups) {
    const retiredOffsets = await committedOffsets(admin, retired, topic)
    if (![...retiredOffsets.values()].some((o) => o >= 0)) continue
    const { groups: described } = await admin.describeGroups([retired, into])
    const busy = described.filter((g) => !IDLE_STATES.has(g.state)).map((g) => g.groupId)
    if (busy.includes(retired)) {
      logger.warn({ retired, into }, 'a consumer group of an older Sluice is still running: stop its processors and start this one again, so that its offsets are taken over')
      continue
    }
    if (busy.includes(into)) {
      logger.info({ retired, into }, 'another processor of this version is running: the retired group is left to it')
      continue
    }
    const intoOffsets = await committedOffsets(admin, into, topic)
    const earliest = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.low)]))
    const moves: Array<{ partition: number; offset: string }> = []
    for (const [partition, current] of intoOffsets) {
      const behind = retiredOffsets.get(partition) ?? -1
      // The retired group never committed here: it had everything still to read.
      const target = behind >= 0 ? behind : (earliest.get(partition) ?? 0)
      if (current >= 0 && target < current) moves.push({ partition, offset: String(target) })
    }
    if (moves.length > 0) await admin.setOffsets({ groupId: into, topic, partitions: moves })
    await admin.deleteGroups([retired])
    logger.info({ retired, into, moved: moves }, 'took over the offsets of a retired consumer group')
  }
}

/** partition → committed offset (-1: none). */
async function committedOffsets(admin: Admin, groupId: string, topic: string): Promise<Map<number, number>> {
  const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] })
  return new Map((entry?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]))
}
