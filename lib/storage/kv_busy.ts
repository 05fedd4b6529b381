/**
 * SQLite's "database is locked": what a Deno KV file answers a write that meets another process's
 * (or another handle's) write to the same file. For a checked commit it is a lost commit like any
 * other; any write may simply be tried again a moment later. KV Connect and Deno Deploy never
 * answer it, so these cost nothing there.
 *
 * @module
 */

/** Back-off between tries: a random wait below 2, 4, 8 … up to 64 ms ("full jitter"). */
export const BACKOFF_FIRST_MS = 2;

export const BACKOFF_MAX_MS = 64;

/** Whether `err` is SQLite's "database is locked". */
export function isBusy(err: unknown): boolean {
  return err instanceof Error && err.message.includes("database is locked");
}

/** The commit's result, or `null` when it lost to another writer. */
export async function commitOrLose(op: Deno.AtomicOperation): Promise<Deno.KvCommitResult | null> {
  try {
    const done = await op.commit();
    return done.ok ? done : null;
  } catch (err) {
    if (isBusy(err)) return null;
    throw err;
  }
}

/** Runs `write` again while the store is busy, until `deadline` (from `performance.now()`). */
export async function whileBusy<T>(write: () => Promise<T>, deadline: number): Promise<T> {
  for (let attempt = 0;; attempt++) {
    try {
      return await write();
    } catch (err) {
      if (!isBusy(err) || performance.now() >= deadline) throw err;
    }
    await backOff(attempt);
  }
}

/** A random wait under a ceiling that doubles with each attempt. */
export function backOff(attempt: number): Promise<void> {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
}
