/**
 * The gateway's image store: metadata in Deno KV (the source of truth for existence and expiry),
 * bytes in the configured backend (KV chunks or S3), whole images only in the memory cache.
 *
 * Each image is read from the backend its metadata names, so images stored in KV before a switch
 * to S3 still serve. Reads for a client stream; an image the cache would take is loaded into it
 * once however many clients miss it at the same moment, within the cache's fill budget.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import type { BlobStore, BlobWriter, ByteRange } from "./blob_store.ts";
import {
  type BlobKind,
  blobKind,
  getImageMeta,
  type ImageMeta,
  isExpired,
  pendingKey,
  unlinkImage,
} from "./image_meta.ts";
import { collectBytes } from "./download.ts";
import { HEADER_BYTES, type ImageDims, imageDims } from "./image_dims.ts";
import { type Convert, refuseVariants, VariantStore, type VariantWant } from "./image_variants.ts";
import type { StoredImage } from "./image_meta.ts";
import { inSlot, MAX_STORAGE_STREAMS, Slots } from "./stream_slots.ts";
import type { CachedImage, ImageCache } from "./memory_cache.ts";

/** How long a cached image is served without reading its metadata again. */
export const REVALIDATE_MS = 30_000;

/** Purges CDN caches by tag after a deletion (Deno Deploy's CDN; none elsewhere). */
export type CdnPurge = (tags: string[]) => Promise<void>;

export interface ImageStoreOptions {
  kv: Deno.Kv;
  cache: ImageCache;
  /** Where new images go. */
  blobs: BlobStore;
  /** Every backend images may be in, by kind; `blobs` and KV chunks at least. */
  backends: readonly BlobStore[];
  log: Logger;
  cdnPurge?: CdnPurge;
  /** Makes variants (`image_variants.ts`); by default every variant is refused. */
  convert?: Convert;
}

/** The CDN tag of one image's responses: purging it after a deletion stops the CDN serving it. */
export function cacheTag(id: string): string {
  return `img-${id}`;
}

export class ImageStore {
  readonly kv: Deno.Kv;
  readonly cache: ImageCache;
  readonly #blobs: BlobStore;
  readonly #backends: ReadonlyMap<string, BlobStore>;
  readonly #log: Logger;
  readonly #cdnPurge: CdnPurge | undefined;
  readonly #slots = new Slots(MAX_STORAGE_STREAMS);
  /** Images being loaded into the cache, so concurrent misses share one read. */
  readonly #loading = new Map<string, Promise<Uint8Array<ArrayBuffer> | undefined>>();
  readonly #variants: VariantStore;

  constructor({ kv, cache, blobs, backends, log, cdnPurge, convert }: ImageStoreOptions) {
    this.kv = kv;
    this.cache = cache;
    this.#blobs = blobs;
    this.#backends = new Map([...backends, blobs].map((b) => [b.kind, b]));
    this.#log = log;
    this.#cdnPurge = cdnPurge;
    this.#variants = new VariantStore({
      kv,
      cache,
      convert: convert ?? refuseVariants,
      backend: (meta) => this.#backend(meta),
      bytes: (id, meta) => this.bytes(id, meta),
      deleteOne: (id) => this.#deleteOne(id).then(() => {}),
    });
  }

  /**
   * A stored variant of an image for its link, made and stored now if it is not yet
   * (`image_variants.ts`); one of a compression only when the API made it.
   */
  variant(id: string, meta: ImageMeta, want: VariantWant, now = Date.now()): Promise<StoredImage> {
    return this.#variants.get(id, meta, want, now);
  }

  /** A stored variant of an image, made now whatever it is: for an answer's `output_format`. */
  makeVariant(id: string, meta: ImageMeta, want: VariantWant, now = Date.now()) {
    return this.#variants.make(id, meta, want, now);
  }

  /**
   * An image's pixel size: from its metadata, or (an image stored before sizes were kept) read
   * from its header, in the cached copy or its first bytes.
   */
  async dims(id: string, meta: ImageMeta): Promise<ImageDims | undefined> {
    if (meta.width && meta.height) return { width: meta.width, height: meta.height };
    const cached = this.cache.get(id)?.bytes;
    if (cached) return imageDims(cached.subarray(0, HEADER_BYTES));
    const size = Math.min(meta.size, HEADER_BYTES);
    return imageDims(await collectBytes(this.open(id, meta, { start: 0, end: size }), id, size));
  }

  /** Starts storing a new image. */
  create(options: { ttlMs: number; size?: number }): BlobWriter {
    return this.#blobs.create(options);
  }

  getMeta(id: string, now = Date.now()): Promise<ImageMeta | null> {
    return getImageMeta(this.kv, id, now);
  }

  /** Streams bytes of a stored image from its backend; `onError` hears of a failure once. */
  open(
    id: string,
    meta: ImageMeta,
    range: ByteRange = { start: 0, end: meta.size },
    onError?: (err: Error) => void,
  ): ReadableStream<Uint8Array> {
    return inSlot(this.#backend(meta).read(id, meta, range, onError), this.#slots);
  }

  /** A whole image: from the cache, or read (and cached when it fits). */
  async bytes(id: string, meta: ImageMeta): Promise<Uint8Array<ArrayBuffer>> {
    const cached = this.cache.get(id);
    if (cached) return cached.bytes;
    const bytes = await collectBytes(this.open(id, meta), id, meta.size);
    this.cache.set(id, { meta, bytes });
    return bytes;
  }

  /**
   * The bytes to answer a request for `[start, end)` with: the cached image, or the image loaded
   * into the cache by this or a concurrent request, or else a stream from storage. Never more than
   * one whole copy per image, and loads only within the cache's fill budget.
   */
  async body(
    id: string,
    meta: ImageMeta,
    range: ByteRange,
    onError: (err: Error) => void,
  ): Promise<Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array>> {
    const whole = this.cache.get(id)?.bytes ?? await this.#load(id, meta);
    if (whole) return whole.subarray(range.start, range.end);
    return this.open(id, meta, range, onError);
  }

  #load(id: string, meta: ImageMeta): Promise<Uint8Array<ArrayBuffer> | undefined> {
    const loading = this.#loading.get(id);
    if (loading) return loading;
    const release = this.cache.reserveFill(meta.size);
    if (!release) return Promise.resolve(undefined);
    // A failure reaches every waiting reader before any byte is sent: each answers a 500.
    const load = collectBytes(this.open(id, meta), id, meta.size).then((bytes) => {
      this.cache.set(id, { meta, bytes });
      return bytes;
    }).finally(() => {
      release();
      this.#loading.delete(id);
    });
    this.#loading.set(id, load);
    return load;
  }

  /**
   * Deletes an image: its metadata first, so it vanishes at once, then its bytes, then the CDN's
   * copies. Returns whether it existed.
   */
  async delete(id: string): Promise<boolean> {
    const meta = await this.#deleteOne(id, true);
    // Each has its own pending marker once unlinked: one that fails now is swept later.
    for (const variant of Object.values(meta?.variants ?? {})) await this.#deleteOne(variant);
    return meta !== null;
  }

  /** Deletes one image record (an image or a variant) and its bytes; returns its metadata. */
  async #deleteOne(id: string, purge = false): Promise<ImageMeta | null> {
    const meta = await unlinkImage(this.kv, id);
    this.cache.delete(id);
    // The CDN first: its copies must go even if the bytes cannot be deleted right now (the
    // pending marker lets the sweeper finish that).
    if (meta && purge && this.#cdnPurge) {
      await this.#cdnPurge([cacheTag(id)]).catch((err) =>
        this.#log.warn(`cannot purge the CDN copies of image ${id}: ${err.message}`)
      );
    }
    if (meta) await this.#backend(meta).delete(id, meta);
    await this.kv.delete(pendingKey(id));
    return meta;
  }

  /**
   * The cached copy of an image, when there is one that is still right: older than
   * {@link REVALIDATE_MS}, its metadata is read again, so an image deleted through another
   * instance stops being served here within that time.
   */
  async cached(id: string, now = Date.now()): Promise<CachedImage | undefined> {
    const entry = this.cache.get(id);
    if (!entry) return undefined;
    if (isExpired(entry.meta, now)) {
      this.cache.delete(id);
      return undefined;
    }
    if (now - entry.checkedAt <= REVALIDATE_MS) return entry;
    const meta = await getImageMeta(this.kv, id, now);
    if (meta === null || meta.sha256 !== entry.meta.sha256) {
      this.cache.delete(id);
      return undefined;
    }
    entry.checkedAt = now;
    // Variants listed since it was cached.
    entry.meta = meta;
    return entry;
  }

  /**
   * Deletes an image's bytes in the named backend (for the sweeper: an expired image, or what an
   * unfinished write left); `meta` when it is still known.
   */
  deleteBytes = async (id: string, kind: BlobKind, meta: ImageMeta | null): Promise<void> => {
    await this.#backend(kind).delete(id, meta);
  };

  /** The backend an image's bytes are in: its metadata's, or one named. */
  #backend(of: ImageMeta | BlobKind): BlobStore {
    const kind = typeof of === "string" ? of : blobKind(of);
    const backend = this.#backends.get(kind);
    if (!backend) throw new Error(`image bytes are in ${kind}, which this gateway has not set up`);
    return backend;
  }
}
