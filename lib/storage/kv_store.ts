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
 * A crash mid-write leaves an `img_pending` marker; the sweeper (`sweeper.ts`) later deletes
 * its chunks. Expired images are found through the `img_expiry` index, so it never reads image bytes.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { ImageType } from "./image_type.ts";

/** Bytes per chunk: under KV's 65,536-byte value limit for a bare `Uint8Array`. */
export const CHUNK_SIZE = 64_000;
/** Chunks per commit: 10 × 64,000 = 640,000 bytes, well under the 819,200-byte commit limit. */
const CHUNKS_PER_COMMIT = 10;
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

export const metaKey = (id: string): Deno.KvKey => ["img", id];
const chunkKey = (id: string, i: number) => ["img_chunk", id, i];
const chunkPrefix = (id: string) => ["img_chunk", id];
export const pendingKey = (id: string): Deno.KvKey => ["img_pending", id];
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
    // A remote KV can lose the reply of a commit it applied: if the meta is there, the image is.
    const written = await kv.get<ImageMeta>(metaKey(id)).catch(() => null);
    if (written?.value?.sha256 === meta.sha256) return { id, meta };
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
  onError?: (err: Error) => void,
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
        const err = new Error(`Cannot read image ${id}: chunk ${expected} is missing`);
        // The response headers are sent by now, so this error cannot become an error response.
        onError?.(err);
        throw err;
      }
      const offset = expected * CHUNK_SIZE;
      const chunk = next.value.value;
      const from = Math.max(range.start - offset, 0);
      const to = Math.min(range.end - offset, chunk.length);
      controller.enqueue(from === 0 && to === chunk.length ? chunk : chunk.subarray(from, to));
      expected++;
      if (expected > lastChunk) controller.close();
    },
    async cancel() {
      await entries?.return?.();
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
  await deleteChunks(kv, id, entry.value?.chunks);
  await kv.delete(pendingKey(id));
}

/** Deletes per commit; KV allows 1,000 mutations in one. */
const DELETES_PER_COMMIT = 500;

/**
 * Deletes an image's chunks: by number when the meta says how many (no chunk is read), otherwise
 * (an interrupted write) by listing them, which reads their values: KV has no key-only listing.
 */
export async function deleteChunks(kv: Deno.Kv, id: string, count?: number): Promise<void> {
  let keys: Deno.KvKey[] = Array.from({ length: count ?? 0 }, (_, i) => chunkKey(id, i));
  if (count === undefined) {
    keys = [];
    for await (const entry of kv.list({ prefix: chunkPrefix(id) }, { batchSize: 100 })) {
      keys.push(entry.key);
    }
  }
  for (let i = 0; i < keys.length; i += DELETES_PER_COMMIT) {
    const op = kv.atomic();
    for (const key of keys.slice(i, i + DELETES_PER_COMMIT)) op.delete(key);
    await commit(op, "chunk deletion");
  }
}
