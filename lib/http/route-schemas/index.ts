/** Every route's documentation; importing this module registers every component. */
export { adminDocs } from './admin-docs.ts'
export { complaintsDocs } from './complaints-docs.ts'
export { ingestDocs } from './ingest-docs.ts'
export { logsDocs } from './logs-docs.ts'
export { opsDocs } from './ops-docs.ts'
export { reactionsDocs } from './reactions-docs.ts'
export { runsDocs } from './runs-docs.ts'
