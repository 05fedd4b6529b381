/**
 * The records every stored image has in Deno KV, whichever backend holds its bytes: the metadata
 * that makes it exist, the marker of an unfinished write, and the expiry index.
 *
 * ```
 * ["img", id]              -> ImageMeta          existence flag, committed last
 * ["img_pending", id]      -> { since, store? }  an unfinished write or deletion, for the sweeper
 * ["img_expiry", at, id]   -> null | { store }   images that expire, for the sweeper
 * ["img_owner", owner, createdAt, id] -> null     the gallery: each owner's images by age
 * ```
 *
 * KV stays the source of truth for existence and expiry: bytes without metadata are never served.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { ImageDims } from "./image_dims.ts";
import type { ImageType } from "./image_type.ts";

/** Where an image's bytes are: KV chunks (the default, and every image stored before S3) or S3. */
export type BlobKind = "kv" | "s3";

export interface ImageMeta {
  v: 1;
  type: ImageType["mime"];
  size: number;
  /** Hex SHA-256 of the bytes; the strong ETag. */
  sha256: string;
  /** KV chunks holding the bytes; 0 for images in an object store. */
  chunks: number;
  createdAt: number;
  /** Epoch ms after which the image is gone; `null` keeps it forever. */
  expiresAt: number | null;
  /** Set for bytes outside KV; absent means KV chunks. */
  store?: "s3";
  /** A hash of the key that made it (`clientId`); images stored before the gallery have none. */
  owner?: string;
  /** The prompt, cut to {@link MAX_STORED_PROMPT} code points. */
  prompt?: string;
  model?: string;
  /** The size asked of the upstream (`1024x1024`), when the model takes one. */
  imageSize?: string;
  /** Pixels, from the header when stored; older images have none (read from the bytes then). */
  width?: number;
  height?: number;
  /**
   * The stored variants of this image (`image_variants.ts`), by variant key (`webp-256`): the id
   * of the record holding each, itself an image record with the same expiry.
   */
  variants?: Record<string, string>;
  /** Set on a variant's own record: the image it belongs to. Never served by its own id. */
  variantOf?: string;
}

/** Who made an image and how, stored with it for the gallery. */
export interface ImageAbout {
  owner: string;
  prompt: string;
  model: string;
  imageSize?: string;
}

/** Prompts kept with an image: enough to recognise it, far under KV's 64 KiB per value. */
export const MAX_STORED_PROMPT = 1000;

export interface StoredImage {
  id: string;
  meta: ImageMeta;
}

/** A write or deletion in progress; `store` says where its bytes may be left. */
export interface PendingMarker {
  since: number;
  store?: "s3";
}

export const metaKey = (id: string): Deno.KvKey => ["img", id];
export const pendingKey = (id: string): Deno.KvKey => ["img_pending", id];
export const expiryKey = (at: number, id: string): Deno.KvKey => ["img_expiry", at, id];
export const ownerKey = (owner: string, at: number, id: string): Deno.KvKey => [
  "img_owner",
  owner,
  at,
  id,
];

/** KV may delete keys late, never early; bytes outlive meta by this much so reads never race. */
export const EXPIRY_GRACE_MS = 24 * 3600_000;

/** A fresh URL-safe id of 96 random bits (16 base64url characters). */
export function newImageId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_");
}

/** Hex SHA-256 of the bytes. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export function blobKind(meta: ImageMeta): BlobKind {
  return meta.store ?? "kv";
}

/**
 * Adds the commit that makes an image exist to `op`: the metadata with a must-not-exist check,
 * its expiry index entry, and the removal of its pending marker when it had one.
 */
export function commitMeta(
  op: Deno.AtomicOperation,
  id: string,
  meta: ImageMeta,
  { pending }: { pending: boolean },
): Deno.AtomicOperation {
  const ttlMs = meta.expiresAt === null ? undefined : meta.expiresAt - meta.createdAt;
  op.check({ key: metaKey(id), versionstamp: null }).set(metaKey(id), meta, { expireIn: ttlMs });
  if (pending) op.delete(pendingKey(id));
  if (meta.owner) op.set(ownerKey(meta.owner, meta.createdAt, id), null, { expireIn: ttlMs });
  if (meta.expiresAt !== null) {
    // The index outlives the meta (KV may drop expired meta on its own), so it names the backend.
    // An object store's entry never expires by itself: it is the object's only record once the
    // meta is gone, and the sweeper removes it with the object.
    const value = meta.store ? { store: meta.store } : null;
    op.set(expiryKey(meta.expiresAt, id), value, {
      expireIn: meta.store ? undefined : ttlMs! + EXPIRY_GRACE_MS,
    });
  }
  return op;
}

/** The metadata of a new image, whichever backend holds its bytes. */
export function newMeta(
  facts: { type: ImageType; sha256: string; about?: ImageAbout; variantOf?: string },
  { size, chunks, now, ttlMs, store, dims }: {
    size: number;
    chunks: number;
    now: number;
    ttlMs: number;
    store?: "s3";
    dims?: ImageDims;
  },
): ImageMeta {
  const meta: ImageMeta = {
    v: 1,
    type: facts.type.mime,
    size,
    sha256: facts.sha256,
    chunks,
    createdAt: now,
    expiresAt: ttlMs > 0 ? now + ttlMs : null,
  };
  if (store) meta.store = store;
  if (dims) Object.assign(meta, { width: dims.width, height: dims.height });
  if (facts.variantOf) meta.variantOf = facts.variantOf;
  if (facts.about) {
    const { owner, prompt, model, imageSize } = facts.about;
    Object.assign(meta, { owner, prompt: [...prompt].slice(0, MAX_STORED_PROMPT).join(""), model });
    if (imageSize) meta.imageSize = imageSize;
  }
  return meta;
}

/**
 * Whether a metadata commit that failed was applied all the same: a remote KV can lose the reply
 * of a commit it applied, and then the image exists.
 */
export async function committedAnyway(kv: Deno.Kv, id: string, meta: ImageMeta): Promise<boolean> {
  const written = await kv.get<ImageMeta>(metaKey(id)).catch(() => null);
  return written?.value?.sha256 === meta.sha256;
}

/** Commits `op`, or throws naming `what`; returns the commit's versionstamp. */
export async function commit(op: Deno.AtomicOperation, what: string): Promise<string> {
  const result = await op.commit();
  if (!result.ok) throw new Error(`Cannot store image ${what}: commit was rejected`);
  return result.versionstamp;
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
 * Removes an image's metadata and index entry, leaving a pending marker so that the sweeper
 * finishes the job if the bytes cannot be removed now. Returns the metadata that was there.
 *
 * @param store where the bytes are when the metadata is already gone (an expired image)
 */
export async function unlinkImage(
  kv: Deno.Kv,
  id: string,
  store?: "s3",
): Promise<ImageMeta | null> {
  // Checked against the metadata read: a variant listed meanwhile makes it read again, so the
  // caller learns of every variant it must delete. Bounded: each retry follows another's commit.
  for (let attempt = 0;; attempt++) {
    const entry = await kv.get<ImageMeta>(metaKey(id));
    const op = kv.atomic().check(entry).delete(metaKey(id));
    const where = entry.value ? entry.value.store : store;
    const marker: PendingMarker = where ? { since: 0, store: where } : { since: 0 };
    op.set(pendingKey(id), marker);
    if (entry.value?.expiresAt) op.delete(expiryKey(entry.value.expiresAt, id));
    if (entry.value?.owner) op.delete(ownerKey(entry.value.owner, entry.value.createdAt, id));
    if ((await op.commit()).ok) return entry.value;
    if (attempt === 4) throw new Error(`Cannot store image deletion: commit was rejected`);
  }
}
