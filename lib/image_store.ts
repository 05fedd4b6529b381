/**
 * Durable image storage in Deno KV: chunked blobs, written chunks first and metadata last.
 *
 * Deno KV rejects values over 65,536 bytes and commits over 819,200 bytes, so an image of a few MB
 * cannot be written atomically. The layout makes a half-written image invisible instead:
 *
 * ```
 * ["img", id]              -> ImageMeta          existence flag, committed last
 * ["img_chunk", id, i]     -> Uint8Array         ≤ CHUNK_SIZE bytes each
 * ["img_pending", id]      -> { since }          set with the first chunks, removed with meta
 *                                               (only for images that need several commits)
 * ["img_expiry", at, id]   -> null               index of images that expire, for the sweeper
 * ```
 *
 * A crash mid-write leaves an `img_pending` marker; {@link sweepImages} later deletes its chunks.
 * Expired images are found through the `img_expiry` index, so the sweeper never reads image bytes.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { ImageType } from "./image_type.ts";

/** Bytes per chunk: under KV's 65,536-byte value limit for a bare `Uint8Array`. */
export const CHUNK_SIZE = 64_000;
/** Chunks per commit: 10 × 64,000 = 640,000 bytes, well under the 819,200-byte commit limit. */
const CHUNKS_PER_COMMIT = 10;
/** Chunks of an unfinished write older than this are orphans (a write takes well under a second). */
const ORPHAN_GRACE_MS = 15 * 60_000;
/** KV may delete keys late, never early; chunks outlive meta by this much so reads never race. */
const CHUNK_EXPIRY_GRACE_MS = 24 * 3600_000;

export interface ImageMeta {
  v: 1;
  type: ImageType["mime"];
  size: number;
  /** Hex SHA-256 of the bytes; the strong ETag. */
  sha256: string;
  chunks: number;
  createdAt: number;
  /** Epoch ms after which the image is gone; `null` keeps it forever. */
  expiresAt: number | null;
}

export interface StoredImage {
  id: string;
  meta: ImageMeta;
}

export interface PutImageOptions {
  type: ImageType;
  /** Hex SHA-256 of the bytes when the caller already computed it (while downloading). */
  sha256?: string;
  /** 0 or absent keeps the image forever. */
  ttlMs?: number;
  now?: number;
}

const metaKey = (id: string) => ["img", id];
const chunkKey = (id: string, i: number) => ["img_chunk", id, i];
const chunkPrefix = (id: string) => ["img_chunk", id];
const pendingKey = (id: string) => ["img_pending", id];
const expiryKey = (at: number, id: string) => ["img_expiry", at, id];

/** A fresh URL-safe id of 96 random bits (16 base64url characters). */
export function newImageId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_");
}

/** Hex SHA-256 of the bytes. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Stores an image and returns its new id. Chunks are committed in bounded batches, one after
 * another; the metadata goes into the last commit, after every earlier batch is durable, and is
 * the only thing that makes the image visible. On failure the partial chunks are removed (best
 * effort; the sweeper handles the rest).
 */
export async function putImage(
  kv: Deno.Kv,
  bytes: Uint8Array,
  options: PutImageOptions,
): Promise<StoredImage> {
  const id = newImageId();
  const now = options.now ?? Date.now();
  const ttlMs = options.ttlMs ?? 0;
  const expiresAt = ttlMs > 0 ? now + ttlMs : null;
  const chunkExpireIn = expiresAt === null ? undefined : ttlMs + CHUNK_EXPIRY_GRACE_MS;
  const chunks = Math.ceil(bytes.length / CHUNK_SIZE);
  const meta: ImageMeta = {
    v: 1,
    type: options.type.mime,
    size: bytes.length,
    sha256: options.sha256 ?? sha256Hex(bytes),
    chunks,
    createdAt: now,
    expiresAt,
  };

  // Each commit carries at most CHUNKS_PER_COMMIT chunks; the last one also carries the meta.
  const commits = Math.max(1, Math.ceil(chunks / CHUNKS_PER_COMMIT));
  try {
    for (let n = 0; n < commits; n++) {
      const op = kv.atomic();
      const isLast = n === commits - 1;
      // A crash between commits leaves chunks without meta; the marker lets the sweeper find them.
      if (n === 0 && !isLast) op.set(pendingKey(id), { since: now });
      const end = Math.min((n + 1) * CHUNKS_PER_COMMIT, chunks);
      for (let i = n * CHUNKS_PER_COMMIT; i < end; i++) {
        // KV serialises only the bytes a view covers, so subarray() saves a copy.
        const chunk = bytes.subarray(i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE);
        op.set(chunkKey(id, i), chunk, { expireIn: chunkExpireIn });
      }
      if (isLast) {
        op.check({ key: metaKey(id), versionstamp: null })
          .set(metaKey(id), meta, { expireIn: ttlMs > 0 ? ttlMs : undefined });
        if (commits > 1) op.delete(pendingKey(id));
        if (expiresAt !== null) {
          op.set(expiryKey(expiresAt, id), null, { expireIn: chunkExpireIn });
        }
      }
      await commit(op, isLast ? "metadata" : "chunks");
    }
  } catch (err) {
    await deleteChunks(kv, id).catch(() => {});
    throw err;
  }
  return { id, meta };
}

async function commit(op: Deno.AtomicOperation, what: string): Promise<void> {
  const result = await op.commit();
  if (!result.ok) throw new Error(`Cannot store image ${what}: commit was rejected`);
}

/** The image's metadata, or `null` if it does not exist or has expired (checked here, not by KV). */
export async function getImageMeta(
  kv: Deno.Kv,
  id: string,
  now = Date.now(),
): Promise<ImageMeta | null> {
  const entry = await kv.get<ImageMeta>(metaKey(id));
  const meta = entry.value;
  if (meta === null || isExpired(meta, now)) return null;
  return meta;
}

export function isExpired(meta: ImageMeta, now = Date.now()): boolean {
  return meta.expiresAt !== null && meta.expiresAt <= now;
}

/**
 * Streams bytes `[start, end)` of a stored image from its chunks, fetching a few chunks per KV
 * round trip. The stream errors if a chunk is missing, so a client never gets silently short data.
 */
export function readImage(
  kv: Deno.Kv,
  id: string,
  meta: ImageMeta,
  range: { start: number; end: number } = { start: 0, end: meta.size },
): ReadableStream<Uint8Array<ArrayBuffer>> {
  const firstChunk = Math.floor(range.start / CHUNK_SIZE);
  const lastChunk = Math.floor((range.end - 1) / CHUNK_SIZE);
  let expected = firstChunk;
  let entries: AsyncIterator<Deno.KvEntry<Uint8Array<ArrayBuffer>>> | undefined;

  return new ReadableStream<Uint8Array<ArrayBuffer>>({
    async pull(controller) {
      if (expected > lastChunk) return controller.close();
      entries ??= kv.list<Uint8Array<ArrayBuffer>>({
        start: chunkKey(id, firstChunk),
        end: chunkKey(id, lastChunk + 1),
      }, { batchSize: 16 })[Symbol.asyncIterator]();
      const next = await entries.next();
      if (next.done || next.value.key[2] !== expected) {
        throw new Error(`Cannot read image ${id}: chunk ${expected} is missing`);
      }
      const offset = expected * CHUNK_SIZE;
      const chunk = next.value.value;
      const from = Math.max(range.start - offset, 0);
      const to = Math.min(range.end - offset, chunk.length);
      controller.enqueue(from === 0 && to === chunk.length ? chunk : chunk.subarray(from, to));
      expected++;
      if (expected > lastChunk) controller.close();
    },
  }, { highWaterMark: 0 });
}

/** Reads a whole image into memory, checking its size. */
export async function readImageBytes(
  kv: Deno.Kv,
  id: string,
  meta: ImageMeta,
): Promise<Uint8Array<ArrayBuffer>> {
  const bytes = new Uint8Array(meta.size);
  let offset = 0;
  for await (const chunk of readImage(kv, id, meta)) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  if (offset !== meta.size) throw new Error(`Cannot read image ${id}: size mismatch`);
  return bytes;
}

/** Deletes an image: meta first, so it vanishes at once, then its chunks. */
export async function deleteImage(kv: Deno.Kv, id: string): Promise<void> {
  const entry = await kv.get<ImageMeta>(metaKey(id));
  const op = kv.atomic().delete(metaKey(id));
  // Marking the chunks pending makes the sweeper finish the job if we crash in between.
  op.set(pendingKey(id), { since: 0 });
  if (entry.value?.expiresAt) op.delete(expiryKey(entry.value.expiresAt, id));
  await commit(op, "deletion");
  await deleteChunks(kv, id);
  await kv.delete(pendingKey(id));
}

async function deleteChunks(kv: Deno.Kv, id: string): Promise<void> {
  let op = kv.atomic();
  let count = 0;
  // Chunk values are read here only because KV has no key-only listing; batches stay small.
  for await (const entry of kv.list({ prefix: chunkPrefix(id) }, { batchSize: 100 })) {
    op.delete(entry.key);
    if (++count % 500 === 0) {
      await commit(op, "chunk deletion");
      op = kv.atomic();
    }
  }
  await commit(op, "chunk deletion");
}

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
