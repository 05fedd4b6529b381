/**
 * Stored variants of an image: the same picture in another format (`/i/<id>.webp`) or narrower
 * (`?w=256`), made once on first request by an injected {@link Convert} and kept with the image.
 *
 * A variant is itself an image record (`image_meta.ts`) with a fresh id, written by the image's
 * own backend exactly as an image is (bytes first under a pending marker, metadata last) and
 * expiring when its image does, so the sweeper removes both and a crashed write is swept as any
 * other. Only once it exists is it listed in its image's metadata (`variants`), in a commit that
 * checks that metadata's versionstamp: a half-written variant is never listed, and an image
 * deleted meanwhile gets none (the new one is deleted instead). Deleting the image deletes every
 * variant it lists, so after a deletion every variant's link answers 404 too.
 *
 * @module
 */
import { GatewayError, NotFoundError } from "../errors.ts";
import type { VariantFormat } from "../variant_kinds.ts";
import type { BlobStore } from "./blob_store.ts";
import { getImageMeta, type ImageMeta, isExpired, metaKey, sha256Hex } from "./image_meta.ts";
import type { StoredImage } from "./image_meta.ts";
import { type ImageType, isAvif, sniffImageType } from "./image_type.ts";
import type { ImageCache } from "./memory_cache.ts";

/** One variant: its format, and its width in pixels (`undefined`: the original's). */
export interface VariantWant {
  format: VariantFormat;
  width: number | undefined;
  /**
   * OpenAI's `output_compression` (0–100) it was asked with; `undefined` for the format's
   * default quality. Only the API makes such variants (`?q=` links find them, never make them):
   * 101 qualities a link could ask for would multiply an image's variants without end.
   */
  compression?: number;
}

/** Makes a variant's bytes from the original's; rejects (with a `GatewayError`) when it cannot. */
export type Convert = (
  original: Uint8Array,
  want: VariantWant,
) => Promise<{ bytes: Uint8Array; type: ImageType }>;

/** Until a codec is wired in: every variant is refused, and originals serve as before. */
export const refuseVariants: Convert = () =>
  Promise.reject(
    new GatewayError(501, "server_error", "Image conversion is not available on this gateway", {
      code: "variants_unavailable",
    }),
  );

/** The format of an image type, when variants can be made in it. */
export function formatOf(type: ImageType | undefined): VariantFormat | undefined {
  if (type === undefined || type.ext === "gif") return undefined;
  return type.ext === "jpg" ? "jpeg" : type.ext;
}

/** The format a link's extension names (`jpg` and `jpeg` alike), if it names one. */
export function formatOfExt(ext: string | undefined): VariantFormat | undefined {
  switch (ext) {
    case "png":
    case "webp":
    case "avif":
      return ext;
    case "jpg":
    case "jpeg":
      return "jpeg";
  }
  return undefined;
}

/** The key a variant is listed under in its image's metadata (`webp-256`, `png-full`, `webp-full-q50`). */
export function variantKey(want: VariantWant): string {
  const quality = want.compression === undefined ? "" : `-q${want.compression}`;
  return `${want.format}-${want.width ?? "full"}${quality}`;
}

/** Whether the bytes are what their stated type says: a codec's mistake is never served. */
function isType(bytes: Uint8Array, type: ImageType): boolean {
  return type.ext === "avif" ? isAvif(bytes) : sniffImageType(bytes)?.mime === type.mime;
}

export interface VariantStoreOptions {
  kv: Deno.Kv;
  cache: ImageCache;
  convert: Convert;
  /** The backend an image's bytes are in. */
  backend: (meta: ImageMeta) => BlobStore;
  /** A whole stored image. */
  bytes: (id: string, meta: ImageMeta) => Promise<Uint8Array>;
  /** Deletes one image record and its bytes (for a variant that lost a race). */
  deleteOne: (id: string) => Promise<void>;
}

/** Finds, or makes and stores, variants; one conversion per variant at a time on this instance. */
export class VariantStore {
  readonly #o: VariantStoreOptions;
  /** Variants being made, by image id and key, so concurrent first requests share one. */
  readonly #making = new Map<string, Promise<StoredImage>>();

  constructor(options: VariantStoreOptions) {
    this.#o = options;
  }

  /**
   * The stored variant `want` of image `id`, made now if it is not stored yet; one of a
   * compression only if it is listed (made by the API), else a 404.
   */
  async get(id: string, meta: ImageMeta, want: VariantWant, now: number): Promise<StoredImage> {
    return await this.#get(id, meta, want, now, want.compression !== undefined);
  }

  /** The stored variant `want` of image `id`, made now whatever its compression (the API's own). */
  async make(id: string, meta: ImageMeta, want: VariantWant, now: number): Promise<StoredImage> {
    return await this.#get(id, meta, want, now, false);
  }

  async #get(
    id: string,
    meta: ImageMeta,
    want: VariantWant,
    now: number,
    listedOnly: boolean,
  ): Promise<StoredImage> {
    const key = variantKey(want);
    const listed = await this.#listed(meta, key, now);
    if (listed) return listed;
    if (listedOnly) {
      const fresh = await getImageMeta(this.#o.kv, id, now);
      const stored = fresh && await this.#listed(fresh, key, now);
      if (stored) return stored;
      throw new NotFoundError("Image not found");
    }
    const name = `${id}/${key}`;
    let making = this.#making.get(name);
    if (!making) {
      making = this.#make(id, want, key, now).finally(() => this.#making.delete(name));
      this.#making.set(name, making);
    }
    return await making;
  }

  async #listed(meta: ImageMeta, key: string, now: number): Promise<StoredImage | undefined> {
    const id = meta.variants?.[key];
    if (id === undefined) return undefined;
    const variant = this.#o.cache.get(id)?.meta ?? await getImageMeta(this.#o.kv, id, now);
    return variant && !isExpired(variant, now) ? { id, meta: variant } : undefined;
  }

  async #make(id: string, want: VariantWant, key: string, now: number): Promise<StoredImage> {
    // Read afresh: a cached image's metadata may not list a variant made since.
    const image = await getImageMeta(this.#o.kv, id, now);
    if (image === null) throw new NotFoundError("Image not found");
    const listed = await this.#listed(image, key, now);
    if (listed) return listed;
    const made = await this.#o.convert(await this.#o.bytes(id, image), want);
    if (!isType(made.bytes, made.type) || formatOf(made.type) !== want.format) {
      throw new Error(`the converter made no ${want.format} of image ${id}`);
    }
    const writer = this.#o.backend(image).create({
      now,
      // The same expiry as the image: the sweeper removes both together.
      ttlMs: image.expiresAt === null ? 0 : image.expiresAt - now,
      size: made.bytes.length,
    });
    try {
      await writer.write(made.bytes);
    } catch (err) {
      await writer.abort();
      throw err;
    }
    const stored = await writer.close({
      type: made.type,
      sha256: sha256Hex(made.bytes),
      variantOf: id,
    });
    try {
      return await this.#list(id, key, stored, now);
    } catch (err) {
      await this.#o.deleteOne(stored.id);
      throw err;
    }
  }

  /** Lists a stored variant in its image's metadata, or returns the one listed meanwhile. */
  async #list(id: string, key: string, stored: StoredImage, now: number): Promise<StoredImage> {
    const { kv, cache } = this.#o;
    // Bounded: each retry follows another writer's commit to the same metadata.
    for (let attempt = 0; attempt < 5; attempt++) {
      const entry = await kv.get<ImageMeta>(metaKey(id));
      const image = entry.value;
      if (image === null || isExpired(image, now)) throw new NotFoundError("Image not found");
      const other = await this.#listed(image, key, now);
      if (other) {
        await this.#o.deleteOne(stored.id);
        return other;
      }
      const updated: ImageMeta = { ...image, variants: { ...image.variants, [key]: stored.id } };
      const expireIn = image.expiresAt === null ? undefined : image.expiresAt - now;
      const result = await kv.atomic().check(entry).set(metaKey(id), updated, { expireIn })
        .commit();
      if (result.ok) {
        const cached = cache.get(id);
        if (cached && cached.meta.sha256 === updated.sha256) cached.meta = updated;
        return stored;
      }
    }
    throw new Error(`Cannot list variant ${key} of image ${id}: its metadata keeps changing`);
  }
}
