/**
 * Each owner's images, newest first, from the `["img_owner", owner, createdAt, id]` index that the
 * metadata commit writes: listing in pages, and deleting one's own. An image of another owner is
 * answered as missing, so that no one learns it exists. Pure KV reads; deletion goes through the
 * image store (metadata, bytes, the CDN's copies).
 *
 * @module
 */
import { getImageMeta, type ImageMeta, ownerKey } from "./image_meta.ts";
import type { ImageStore } from "./image_store.ts";

export interface GalleryPage {
  images: { id: string; meta: ImageMeta }[];
  /** More images are older than the last one. */
  hasMore: boolean;
}

/** Largest page. */
export const MAX_GALLERY_PAGE = 100;

/**
 * Up to `limit` of `owner`'s images, newest first, older than the image `after` when given;
 * `undefined` when `after` is none of the owner's images (another's, deleted, expired): restarting
 * from the newest would show a page twice. Index entries whose image has gone are skipped.
 */
export async function listOwned(
  kv: Deno.Kv,
  owner: string,
  { limit, after, now = Date.now() }: { limit: number; after?: string; now?: number },
): Promise<GalleryPage | undefined> {
  const prefix = ["img_owner", owner];
  const start = after ? await getImageMeta(kv, after, now) : null;
  if (after && start?.owner !== owner) return undefined;
  const end = start ? ownerKey(owner, start.createdAt, after!) : undefined;
  const images: GalleryPage["images"] = [];
  // One more than asked tells whether there is a next page. Entries of images that are gone are
  // read past: they linger only until KV's own expiry removes them.
  const entries = kv.list<null>(end ? { prefix, end } : { prefix }, {
    reverse: true,
    batchSize: limit + 1,
  });
  let hasMore = false;
  for await (const entry of entries) {
    const id = String(entry.key[3]);
    const meta = await getImageMeta(kv, id, now);
    if (meta === null || meta.owner !== owner) continue;
    if (images.length === limit) {
      hasMore = true;
      break;
    }
    images.push({ id, meta });
  }
  return { images, hasMore };
}

/** Deletes `owner`'s image `id`; `false` when there is none of theirs by that id. */
export async function deleteOwned(images: ImageStore, owner: string, id: string): Promise<boolean> {
  const meta = await images.getMeta(id);
  if (meta === null || meta.owner !== owner) return false;
  return await images.delete(id);
}
