import kafkajs from 'kafkajs'

// kafkajs is CommonJS, and Node's ESM loader finds only some of its exports by name (Kafka,
// Partitioners, CompressionTypes...), not these: `import { ConfigSource } from 'kafkajs'` works
// under vitest and fails under `node --import tsx`. Read them from the module object instead.
export const { ConfigResourceTypes, ConfigSource } = kafkajs
