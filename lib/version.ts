import pkg from '../package.json' with { type: 'json' }

/** What is running: Sluice's version and the Node.js under it (shown by /health and the start log). */
export const VERSIONS: Readonly<{ sluice: string; node: string }> = Object.freeze({
  sluice: pkg.version,
  node: process.version,
})
