/**
 * Image bytes in Deno KV, as numbered chunks: written as they arrive, chunks first and metadata
 * last. The records every image has are in `image_meta.ts`; the chunks add:
 *
 * ```
 * ["img_chunk", id, i]     -> Uint8Array         ≤ CHUNK_SIZE bytes each
 * ```
 *
 * Deno KV rejects values over 65,536 bytes and commits over 819,200 bytes, so an image of a few MB
 * cannot be written atomically. The layout makes a half-written image invisible instead: chunks go
 * in bounded batches, the first marked `img_pending` (only for images that need several commits),
 * and the metadata rides in the last commit. A crash mid-write leaves the marker; the sweeper
 * (`sweeper.ts`) later deletes its chunks.
 *
 * @module
 */
import { collectBytes } from "./download.ts";
import { HeaderBytes } from "./image_dims.ts";
import type { ImageAbout } from "./image_meta.ts";
import type { ImageType } from "./image_type.ts";
import {
  commit,
  commitMeta,
  committedAnyway,
  EXPIRY_GRACE_MS,
  type ImageMeta,
  newImageId,
  newMeta,
  pendingKey,
  sha256Hex,
  type StoredImage,
  unlinkImage,
} from "./image_meta.ts";

/** Bytes per chunk: under KV's 65,536-byte value limit for a bare `Uint8Array`. */
export const CHUNK_SIZE = 64_000;
/** Chunks per commit: 10 × 64,000 = 640,000 bytes, well under the 819,200-byte commit limit. */
const CHUNKS_PER_COMMIT = 10;
/** Chunks fetched per KV round trip when streaming: 256 KB held per reader at most. */
const READ_BATCH = 4;

const chunkKey = (id: string, i: number): Deno.KvKey => ["img_chunk", id, i];
const chunkPrefix = (id: string): Deno.KvKey => ["img_chunk", id];

/** What the caller knows of an image once all its bytes were written. */
export interface ImageFacts {
  type: ImageType;
  /** Hex SHA-256 of the bytes, computed while they arrived. */
  sha256: string;
  /** Who made it and how, for the gallery. */
  about?: ImageAbout;
  /** For a variant: the id of the image it was made from. */
  variantOf?: string;
}

/**
 * Writes one new image's bytes into KV chunks as they arrive. A full batch is committed once the
 * next chunk begins (so an image of exactly one batch still goes in a single commit), and while
 * it commits the next batch fills: at most one commit in flight and one batch held, 1.3 MB.
 * {@link close} commits the rest with the metadata; on any failure the chunks are removed (best
 * effort; a pending marker lets the sweeper finish).
 */
export class KvChunkWriter {
  readonly id = newImageId();
  readonly #kv: Deno.Kv;
  readonly #now: number;
  readonly #ttlMs: number;
  /** Full chunks not yet committed, and the one being filled. */
  #batch: Uint8Array[] = [];
  #part: Uint8Array | undefined;
  #partLength = 0;
  #committed = 0;
  #size = 0;
  #inFlight: Promise<unknown> | undefined;
  /** The versionstamp of the commit that placed the pending marker. */
  #marker: string | undefined;
  readonly #head = new HeaderBytes();

  constructor(kv: Deno.Kv, { now = Date.now(), ttlMs = 0 }: { now?: number; ttlMs?: number }) {
    this.#kv = kv;
    this.#now = now;
    this.#ttlMs = ttlMs;
  }

  get size(): number {
    return this.#size;
  }

  /** Takes the next bytes; resolves once they are held or committed. */
  async write(bytes: Uint8Array): Promise<void> {
    this.#head.push(bytes);
    let offset = 0;
    while (offset < bytes.length) {
      if (this.#partLength === 0 && this.#batch.length === CHUNKS_PER_COMMIT) await this.#flush();
      const take = Math.min(CHUNK_SIZE - this.#partLength, bytes.length - offset);
      if (this.#partLength === 0 && take === CHUNK_SIZE) {
        // A whole chunk at a chunk boundary is kept as a view: KV stores only the bytes it covers.
        this.#batch.push(bytes.subarray(offset, offset + take));
      } else {
        this.#part ??= new Uint8Array(CHUNK_SIZE);
        this.#part.set(bytes.subarray(offset, offset + take), this.#partLength);
        this.#partLength += take;
        if (this.#partLength === CHUNK_SIZE) this.#takePart();
      }
      offset += take;
      this.#size += take;
    }
  }

  /** Commits the remaining chunks and the metadata; the image exists once this resolves. */
  async close(facts: ImageFacts): Promise<StoredImage> {
    if (this.#partLength > 0) this.#takePart();
    const pending = this.#inFlight !== undefined;
    const meta = newMeta(facts, {
      size: this.#size,
      chunks: this.#committed + this.#batch.length,
      now: this.#now,
      ttlMs: this.#ttlMs,
      dims: this.#head.dims(),
    });
    try {
      await this.#inFlight;
      const op = this.#addChunks(this.#kv.atomic(), this.#batch);
      // The marker must still be ours: a sweeper that took a slow write for an orphan removed it
      // with the chunks, and metadata over missing chunks would be a broken image.
      if (pending) op.check({ key: pendingKey(this.id), versionstamp: this.#marker! });
      await commit(commitMeta(op, this.id, meta, { pending }), "metadata");
    } catch (err) {
      if (await committedAnyway(this.#kv, this.id, meta)) return { id: this.id, meta };
      await this.abort();
      throw err;
    }
    return { id: this.id, meta };
  }

  /** Gives up the write: removes its chunks, keeping any pending marker for the sweeper. */
  async abort(): Promise<void> {
    await this.#inFlight?.catch(() => {});
    this.#batch = [];
    await deleteChunks(this.#kv, this.id).catch(() => {});
  }

  #takePart(): void {
    this.#batch.push(this.#part!.subarray(0, this.#partLength));
    this.#part = undefined;
    this.#partLength = 0;
  }

  /** Commits the full batch in the background, after the previous one. */
  async #flush(): Promise<void> {
    await this.#inFlight;
    const op = this.#kv.atomic();
    // A crash between commits leaves chunks without meta; the marker lets the sweeper find them.
    const first = this.#committed === 0;
    if (first) op.set(pendingKey(this.id), { since: this.#now });
    this.#addChunks(op, this.#batch);
    this.#committed += this.#batch.length;
    this.#batch = [];
    this.#inFlight = commit(op, "chunks").then((versionstamp) => {
      if (first) this.#marker = versionstamp;
    });
    // Surfaced by the next write's flush or by close(); never an unhandled rejection meanwhile.
    this.#inFlight.catch(() => {});
  }

  #addChunks(op: Deno.AtomicOperation, chunks: Uint8Array[]): Deno.AtomicOperation {
    const expireIn = this.#ttlMs > 0 ? this.#ttlMs + EXPIRY_GRACE_MS : undefined;
    chunks.forEach((chunk, i) =>
      op.set(chunkKey(this.id, this.#committed + i), chunk, { expireIn })
    );
    return op;
  }
}

export interface PutImageOptions {
  type: ImageType;
  /** Hex SHA-256 of the bytes when the caller already computed it. */
  sha256?: string;
  /** 0 or absent keeps the image forever. */
  ttlMs?: number;
  now?: number;
}

/** Stores an image held in memory and returns its new id (see {@link KvChunkWriter}). */
export async function putImage(
  kv: Deno.Kv,
  bytes: Uint8Array,
  options: PutImageOptions,
): Promise<StoredImage> {
  const writer = new KvChunkWriter(kv, options);
  try {
    await writer.write(bytes);
  } catch (err) {
    await writer.abort();
    throw err;
  }
  return await writer.close({ type: options.type, sha256: options.sha256 ?? sha256Hex(bytes) });
}

/**
 * Streams bytes `[start, end)` of a stored image from its chunks, a few chunks per KV round trip
 * and only as fast as the reader takes them. The stream errors if a chunk is missing, so a client
 * never gets silently short data; cancelling it ends the KV listing.
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
      }, { batchSize: READ_BATCH })[Symbol.asyncIterator]();
      let next: IteratorResult<Deno.KvEntry<Uint8Array<ArrayBuffer>>>;
      try {
        next = await entries.next();
      } catch (err) {
        const failure = new Error(
          `Cannot read image ${id}: ${err instanceof Error ? err.message : err}`,
        );
        onError?.(failure);
        throw failure;
      }
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

/** Reads a whole image from its chunks into memory, checking its size. */
export async function readImageBytes(
  kv: Deno.Kv,
  id: string,
  meta: ImageMeta,
): Promise<Uint8Array<ArrayBuffer>> {
  return await collectBytes(readImage(kv, id, meta), id, meta.size);
}

/** Deletes an image whose bytes are in KV: meta first, so it vanishes at once, then its chunks. */
export async function deleteImage(kv: Deno.Kv, id: string): Promise<void> {
  const meta = await unlinkImage(kv, id);
  await deleteChunks(kv, id, meta?.chunks);
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
