/**
 * Polls `probe` every 100 ms until it returns something other than null, and resolves with it;
 * rejects after `timeoutMs`.
 *
 *   const complaint = await waitFor(async () => (await list()).find((c) => c.status === 'open') ?? null)
 */
export async function waitFor<T>(probe: () => Promise<T | null>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== null) return value
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 100))
  }
}
