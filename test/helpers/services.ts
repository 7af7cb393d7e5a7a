/**
 * Where the test services are. test/global-setup.ts decides (environment, Docker containers, or
 * the local services of scripts/services-up.sh) and provides the answer to every test file:
 *
 *   import { testServices } from '../test/helpers/services.ts'
 *   const { kafkaBrokers, databaseUrl, redisUrl, clickhouseUrl } = testServices()
 *
 * clickhouseUrl is null when no ClickHouse server is available: tests then use embedded chdb.
 */
import { inject } from 'vitest'

export interface TestServices {
  kafkaBrokers: string[]
  databaseUrl: string
  redisUrl: string
  clickhouseUrl: string | null
}

declare module 'vitest' {
  export interface ProvidedContext {
    services: TestServices
  }
}

export function testServices(): TestServices {
  const services = inject('services')
  if (!services) {
    throw new Error("no 'services' were provided: is test/global-setup.ts in vitest.config.ts globalSetup?")
  }
  return services
}
