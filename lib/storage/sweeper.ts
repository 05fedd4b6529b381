/**
 * The periodic clean-up of the image store: removes images past their expiry (found through the
 * `img_expiry` index) and the chunks of writes that never finished (found through `img_pending`
 * markers). Runs from `Deno.cron` in `main.ts`; reading an expired image is already refused on read.
 *
 * @module
 */
import { deleteChunks, deleteImage, metaKey } from "./kv_store.ts";

/** Chunks of an unfinished write older than this are orphans (a write takes well under a second). */
export const ORPHAN_GRACE_MS = 15 * 60_000;

export interface SweepResult {
  expired: number;
  orphans: number;
}

/**
 * Removes expired images and the chunks of writes that never finished. Safe to run concurrently
 * with writers: a pending write younger than {@link ORPHAN_GRACE_MS} is left alone.
 */
export async function sweepImages(kv: Deno.Kv, now = Date.now()): Promise<SweepResult> {
  const result: SweepResult = { expired: 0, orphans: 0 };
  const expired = kv.list<null>({ start: ["img_expiry", 0], end: ["img_expiry", now + 1] });
  for await (const entry of expired) {
    const id = entry.key[2] as string;
    await deleteImage(kv, id);
    await kv.delete(entry.key);
    result.expired++;
  }
  for await (const entry of kv.list<{ since: number }>({ prefix: ["img_pending"] })) {
    if (entry.value.since > now - ORPHAN_GRACE_MS) continue;
    const id = entry.key[1] as string;
    if ((await kv.get(metaKey(id))).value === null) {
      await deleteChunks(kv, id);
      result.orphans++;
    }
    await kv.delete(entry.key);
  }
  return result;
}
