/**
 * Bounded waiting for tests: a pause, a promise raced against a deadline whose timer never
 * outlives the call (the sanitizers check), and polling until a condition holds.
 *
 * @module
 */

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `p`'s value if it settles within `ms`, else `fallback`; the timer never outlives the call. */
export async function within<T, F>(p: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<F>((r) => timer = setTimeout(() => r(fallback), ms));
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits until `done()` holds, checking every 10 ms; throws naming `what` after `ms`. */
export async function until(done: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
