import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { ConfigResourceTypes, ConfigSource } from './kafka-enums.ts'

describe('kafkajs enums', () => {
  it('are the protocol numbers', () => {
    expect([ConfigResourceTypes.TOPIC, ConfigSource.TOPIC_CONFIG]).toEqual([2, 1])
  })

  // Regression: `import { ConfigResourceTypes } from 'kafkajs'` passed under vitest but made the
  // server fail to start under `node --import tsx` (Node's ESM loader does not see that export).
  it('load under plain Node, as the server runs', () => {
    const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', "import('./lib/kafka/topics.ts').then(() => import('./lib/kafka/event-producer.ts')).then(() => console.log('ok'))"], {
      encoding: 'utf8',
    })
    expect(out.trim()).toBe('ok')
  })
})
