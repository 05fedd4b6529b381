/**
 * Input images for edit models, made ready for SiliconFlow: links to our own `/i/:id` images are
 * read from KV and sent inline as data URIs (SiliconFlow cannot reach a gateway on localhost or a
 * private network), other http(s) URLs and `data:image/…` URIs pass through unchanged.
 *
 * @module
 */
import { InvalidRequestError } from "./errors.ts";
import type { ImageCache } from "./image_cache.ts";
import { getImageMeta, readImageBytes } from "./image_store.ts";
import { toBase64 } from "./images_response.ts";
import { parseImageFileName } from "./links.ts";

export interface InputImageDeps {
  kv: Deno.Kv;
  cache: ImageCache;
}

/** The id of a link to one of our images (`…/i/<id>.<ext>`), or `undefined`. */
function ownImageId(ref: string): string | undefined {
  if (!/^https?:\/\//i.test(ref) || !URL.canParse(ref)) return undefined;
  const match = /^\/i\/([^/]+)$/.exec(new URL(ref).pathname);
  return match ? parseImageFileName(match[1]) : undefined;
}

/** A data URI of one stored image, or `undefined` if the id is not ours (or has expired). */
async function storedAsDataUri(id: string, { kv, cache }: InputImageDeps) {
  const cached = cache.get(id);
  const meta = cached?.meta ?? await getImageMeta(kv, id);
  if (meta === null) return undefined;
  const bytes = cached?.bytes ?? await readImageBytes(kv, id, meta);
  return `data:${meta.type};base64,${toBase64(bytes)}`;
}

/**
 * Resolves input images in order. Ids are 96 random bits, so a link whose id is in our KV is ours
 * whatever host it names (the gateway may be reached under several names).
 *
 * @throws {InvalidRequestError} for references that are neither http(s) URLs nor image data URIs
 */
export async function resolveInputImages(
  refs: readonly string[],
  deps: InputImageDeps,
): Promise<string[]> {
  return await Promise.all(refs.map(async (ref, i) => {
    const trimmed = ref.trim();
    const id = ownImageId(trimmed);
    const inline = id === undefined ? undefined : await storedAsDataUri(id, deps);
    if (inline) return inline;
    if (/^https?:\/\//i.test(trimmed) || /^data:image\/[a-z0-9.+-]+;base64,/i.test(trimmed)) {
      return trimmed;
    }
    throw new InvalidRequestError(
      `Input image ${i + 1} cannot be used: send an http(s) URL or a data:image/…;base64 URI`,
      { param: "messages", code: "invalid_image" },
    );
  }));
}
