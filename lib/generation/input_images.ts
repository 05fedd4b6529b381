/**
 * Input images for edit models, made ready for SiliconFlow: links to our own `/i/:id` images are
 * read from storage and sent inline as data URIs (SiliconFlow cannot reach a gateway on localhost
 * or a private network); everything a client sent is checked by the one validator of
 * `openai/edit_images.ts`, as edit uploads are: a data URI must be real base64 of a PNG, JPEG, WebP
 * or GIF within the size caps (and is sent typed by its content), other http(s) URLs pass.
 *
 * @module
 */
import { toDataUri } from "../base64.ts";
import { InvalidRequestError } from "../errors.ts";
import { type ImagePart, MAX_URL_CHARS, toInputImages } from "../openai/edit_images.ts";
import type { ImageStore } from "../storage/image_store.ts";
import { parseImageFileName } from "../storage/links.ts";

export interface InputImageDeps {
  images: ImageStore;
  /** The gateway's public origin: a link there whose image is gone is an error, not a URL to pass on. */
  ownOrigin: string;
  /** The request field errors name: `messages` for chat, `image` for edits. */
  param: string;
  /**
   * The refs were checked by `toInputImages` already (an edit upload, read by `edit_request.ts`):
   * only our own links are resolved, nothing is validated twice.
   */
  checked?: boolean;
}

/** The id of a link to one of our images (`…/i/<id>.<ext>`), or `undefined`. */
function ownImageId(ref: string): string | undefined {
  // Bounded first: a data URI of many MB is never parsed as a URL.
  if (ref.length > MAX_URL_CHARS || !/^https?:\/\//i.test(ref) || !URL.canParse(ref)) {
    return undefined;
  }
  // Also under a path prefix, as behind a proxy at https://example.com/gateway/i/<id>.png.
  const match = /\/i\/([^/]+)$/.exec(new URL(ref).pathname);
  return match ? parseImageFileName(match[1])?.id : undefined;
}

/** A data URI of one stored image, or `undefined` if the id is not ours (or has expired). */
async function storedAsDataUri(id: string, { images }: InputImageDeps) {
  const meta = images.cache.get(id)?.meta ?? await images.getMeta(id);
  if (meta === null) return undefined;
  return toDataUri(meta.type, await images.bytes(id, meta));
}

/**
 * Resolves input images in order. Ids are 96 random bits, so a link whose id is in our KV is ours
 * whatever host it names (the gateway may be reached under several names).
 *
 * @throws {InvalidRequestError} for references that are neither http(s) URLs nor image data URIs,
 *   and for our own links whose image is gone
 * @throws {PayloadTooLargeError} for images over the caps of `openai/edit_images.ts`
 */
export async function resolveInputImages(
  refs: readonly string[],
  deps: InputImageDeps,
): Promise<string[]> {
  const parts = await Promise.all(refs.map(async (ref, i): Promise<ImagePart> => {
    const trimmed = ref.trim();
    const id = ownImageId(trimmed);
    const inline = id === undefined ? undefined : await storedAsDataUri(id, deps);
    // Our own images are trusted, and count against no client cap.
    if (inline) return { value: inline, param: deps.param, rank: 0, trusted: true };
    if (id !== undefined && trimmed.startsWith(`${deps.ownOrigin}/`)) {
      throw new InvalidRequestError(
        `Input image ${i + 1} is no longer stored on this gateway (it expired or was deleted); ` +
          "attach the picture again",
        { param: deps.param, code: "image_not_found" },
      );
    }
    return { value: trimmed, param: deps.param, rank: 0, trusted: deps.checked };
  }));
  return toInputImages(parts, { param: deps.param, uploads: false });
}
