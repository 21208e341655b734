/**
 * Runs fn over [0, n) in chunks of `batch`, `parallel` chunks in flight: how the scale scenarios
 * seed a million tasks through a system's bulk API quickly (seeding time is not measured).
 */
export async function inChunks(
  n: number,
  batch: number,
  parallel: number,
  fn: (from: number, count: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    for (;;) {
      const from = next;
      if (from >= n) return;
      next += batch;
      await fn(from, Math.min(batch, n - from));
    }
  };
  await Promise.all(Array.from({ length: parallel }, lane));
}

/** `count` payloads numbered from `from`. */
export function payloads(from: number, count: number): Array<{ i: number }> {
  return Array.from({ length: count }, (_, k) => ({ i: from + k }));
}
