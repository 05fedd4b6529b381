/**
 * The periodic clean-up of the image store: removes images past their expiry (found through the
 * `img_expiry` index) and the bytes of writes or deletions that never finished (found through
 * `img_pending` markers), in whichever backend holds them. Runs from `Deno.cron` in `main.ts`
 * under a KV lease, so one instance sweeps at a time; reading an expired image is already refused
 * on read.
 *
 * @module
 */
import {
  type BlobKind,
  blobKind,
  type ImageMeta,
  metaKey,
  pendingKey,
  type PendingMarker,
  unlinkImage,
} from "./image_meta.ts";
import { deleteChunks } from "./kv_store.ts";

/** Chunks of an unfinished write older than this are orphans (a write takes well under a second). */
export const ORPHAN_GRACE_MS = 15 * 60_000;

export interface SweepResult {
  expired: number;
  orphans: number;
}

/** Deletes an image's bytes in the named backend; `meta` when it is still known. */
export type DeleteBytes = (id: string, kind: BlobKind, meta: ImageMeta | null) => Promise<void>;

/** For a gateway that keeps every image in KV. */
const kvChunksOnly = (kv: Deno.Kv): DeleteBytes => async (id, kind, meta) => {
  if (kind !== "kv") throw new Error(`image ${id} is in ${kind}, which is not set up`);
  await deleteChunks(kv, id, meta?.chunks);
};

/**
 * Removes expired images and the bytes of writes that never finished. Safe to run concurrently
 * with writers: a pending write younger than {@link ORPHAN_GRACE_MS} is left alone.
 */
export async function sweepImages(
  kv: Deno.Kv,
  now = Date.now(),
  deleteBytes: DeleteBytes = kvChunksOnly(kv),
  onError: (id: string, err: unknown) => void = () => {},
): Promise<SweepResult> {
  const result: SweepResult = { expired: 0, orphans: 0 };
  // One entry that cannot be removed now (an object store down, say) is left for the next sweep
  // and never stops this one.
  const each = async (id: string, work: () => Promise<void>) => {
    try {
      await work();
    } catch (err) {
      onError(id, err);
    }
  };
  const expired = kv.list<{ store?: "s3" } | null>({
    start: ["img_expiry", 0],
    end: ["img_expiry", now + 1],
  });
  for await (const entry of expired) {
    const id = entry.key[2] as string;
    await each(id, async () => {
      // Meta first, so the image vanishes at once; KV may already have dropped it on its own.
      const meta = await unlinkImage(kv, id, entry.value?.store);
      await deleteBytes(id, meta ? blobKind(meta) : entry.value?.store ?? "kv", meta);
      await kv.delete(pendingKey(id));
      await kv.delete(entry.key);
      result.expired++;
    });
  }
  for await (const entry of kv.list<PendingMarker>({ prefix: ["img_pending"] })) {
    if (entry.value.since > now - ORPHAN_GRACE_MS) continue;
    const id = entry.key[1] as string;
    await each(id, async () => {
      if ((await kv.get(metaKey(id))).value === null) {
        await deleteBytes(id, entry.value.store ?? "kv", null);
        result.orphans++;
      }
      await kv.delete(entry.key);
    });
  }
  return result;
}

const LEASE_KEY: Deno.KvKey = ["sweep_lease"];
/** The cron runs hourly; a sweep still running after this may be joined by another (harmless). */
export const LEASE_MS = 30 * 60_000;

interface Lease {
  owner: string;
  until: number;
}

/**
 * Runs `sweep` only if no other instance holds the sweep lease, holding it meanwhile. Returns
 * `undefined` when another instance is sweeping.
 */
export async function underSweepLease<T>(
  kv: Deno.Kv,
  sweep: () => Promise<T>,
  { owner = crypto.randomUUID(), now = Date.now() }: { owner?: string; now?: number } = {},
): Promise<T | undefined> {
  const current = await kv.get<Lease>(LEASE_KEY);
  if (current.value && current.value.until > now) return undefined;
  const taken = await kv.atomic().check(current)
    .set(LEASE_KEY, { owner, until: now + LEASE_MS }, { expireIn: LEASE_MS }).commit();
  if (!taken.ok) return undefined;
  try {
    return await sweep();
  } finally {
    const held = await kv.get<Lease>(LEASE_KEY);
    if (held.value?.owner === owner) await kv.atomic().check(held).delete(LEASE_KEY).commit();
  }
}
