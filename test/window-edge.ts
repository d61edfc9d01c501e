/**
 * Rate limits count in fixed windows aligned to the epoch (a sliding window over two of them,
 * core/keys/rate-limit.ts): a test that spends a small limit and expects the next call refused
 * fails if a window boundary falls between the calls, since the new window weighs the old one's
 * count at less than one. Called just before such a sequence, this waits until at least `marginMs`
 * are left in the current window of `windowSeconds`: at most `marginMs`, never when there is room.
 */
export async function clearOfWindowEdge(windowSeconds: number, marginMs = 10_000): Promise<void> {
  const windowMs = windowSeconds * 1000;
  const left = windowMs - (Date.now() % windowMs);
  if (left < marginMs) await new Promise((resolve) => setTimeout(resolve, left + 50));
}
