/**
 * Input images for edit models, made ready for SiliconFlow: links to our own `/i/:id` images are
 * read from KV and sent inline as data URIs (SiliconFlow cannot reach a gateway on localhost or a
 * private network), other http(s) URLs and `data:image/…` URIs pass through unchanged.
 *
 * @module
 */
import { InvalidRequestError } from "../errors.ts";
import type { ImageCache } from "../storage/memory_cache.ts";
import { getImageMeta, readImageBytes } from "../storage/kv_store.ts";
import { toBase64 } from "../openai/images_response.ts";
import { parseImageFileName } from "../storage/links.ts";
import type { ConversationInput } from "../openai/chat_messages.ts";
import type { ModelInfo } from "./model_catalog.ts";

export interface InputImageDeps {
  kv: Deno.Kv;
  cache: ImageCache;
  /** The gateway's public origin: a link there whose image is gone is an error, not a URL to pass on. */
  ownOrigin: string;
}

/** The id of a link to one of our images (`…/i/<id>.<ext>`), or `undefined`. */
function ownImageId(ref: string): string | undefined {
  if (!/^https?:\/\//i.test(ref) || !URL.canParse(ref)) return undefined;
  // Also under a path prefix, as behind a proxy at https://example.com/gateway/i/<id>.png.
  const match = /\/i\/([^/]+)$/.exec(new URL(ref).pathname);
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
    if (id !== undefined && trimmed.startsWith(`${deps.ownOrigin}/`)) {
      throw new InvalidRequestError(
        `Input image ${i + 1} is no longer stored on this gateway (it expired or was deleted); ` +
          "attach the picture again",
        { param: "messages", code: "image_not_found" },
      );
    }
    if (/^https?:\/\//i.test(trimmed) || /^data:image\/[a-z0-9.+-]+;base64,/i.test(trimmed)) {
      return trimmed;
    }
    throw new InvalidRequestError(
      `Input image ${i + 1} cannot be used: send an http(s) URL or a data:image/…;base64 URI`,
      { param: "messages", code: "invalid_image" },
    );
  }));
}

/**
 * The input images for this model: the latest user message's (or, failing that, the body's), and
 * for edit models with none, the most recent image earlier in the conversation.
 *
 * @throws {InvalidRequestError} when the model needs images it did not get, or gets too many
 */
export function chooseInputImages(
  info: ModelInfo,
  conversation: ConversationInput,
  bodyImages: readonly string[],
): string[] {
  let images = conversation.images.length > 0 ? [...conversation.images] : [...bodyImages];
  if (images.length === 0 && info.minInputImages > 0 && conversation.previousImage) {
    images = [conversation.previousImage];
  }
  const range = info.minInputImages === info.maxInputImages
    ? `${info.maxInputImages}`
    : `${Math.max(info.minInputImages, 1)} to ${info.maxInputImages}`;
  if (images.length < info.minInputImages) {
    throw new InvalidRequestError(
      `${info.id} edits images: attach ${range} image(s) to your message, or ask for a change ` +
        "after an image in this conversation",
      { param: "messages", code: "missing_image" },
    );
  }
  if (images.length > info.maxInputImages) {
    throw new InvalidRequestError(
      info.maxInputImages === 0
        ? `${info.id} does not take input images; to edit an image, choose an edit model such ` +
          "as Qwen/Qwen-Image-Edit-2509"
        : `${info.id} takes at most ${info.maxInputImages} input image(s); the message has ${images.length}`,
      { param: "messages", code: "too_many_images" },
    );
  }
  return images;
}
