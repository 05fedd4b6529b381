/**
 * An answer's images in the format the client asked for (`output_format`, `output_compression`,
 * or `CHAT_IMAGE_FORMAT` for chat links): each stored image is converted at once, the variant
 * stored with it, and the answer links to it (`/i/<id>.webp`, `?q=` for a compression) and
 * carries its bytes. The original is kept either way, under its own link.
 *
 * The images are paid for before this runs, so nothing here fails an answer: an image that cannot
 * be converted (the pool busy, a timeout) is answered as the original, whose format the answer
 * then names, and a line is logged.
 *
 * @module
 */
import type { Logger } from "../observability/log.ts";
import type { ImageStore } from "../storage/image_store.ts";
import { imageTypeOf } from "../storage/image_type.ts";
import { formatOf, type VariantWant } from "../storage/image_variants.ts";
import type { VariantFormat } from "../variant_kinds.ts";
import type { GeneratedImage } from "./persist.ts";

/** The format an answer's images are asked in. */
export interface OutputWant {
  format: VariantFormat;
  /** OpenAI's `output_compression` (0–100); lossless PNG takes none. */
  compression?: number;
}

/** The extension of a format's links. */
const EXT: Record<VariantFormat, string> = { png: "png", jpeg: "jpg", webp: "webp", avif: "avif" };

/**
 * The variant an image needs for `output`, or `undefined` when the original already is it: the
 * same format, and no compression asked of a lossy one.
 */
export function variantFor(
  original: VariantFormat | undefined,
  output: OutputWant,
): VariantWant | undefined {
  const compression = output.format === "png" ? undefined : output.compression;
  if (original === output.format && compression === undefined) return undefined;
  return compression === undefined
    ? { format: output.format, width: undefined }
    : { format: output.format, width: undefined, compression };
}

/**
 * Converts each stored image of `images` to `output` in place: `served` names the link's
 * extension and compression, `bytes` (when the answer keeps them) and `type` become the
 * variant's. Conversions run together; the pool bounds them.
 */
export async function convertOutputs(
  images: GeneratedImage[],
  output: OutputWant | undefined,
  deps: { images: ImageStore; log: Logger; keepBytes: boolean },
): Promise<void> {
  if (output === undefined) return;
  await Promise.all(images.map(async (image) => {
    const stored = image.stored;
    if (!stored) return;
    const want = variantFor(formatOf(imageTypeOf(stored.meta.type)), output);
    if (want === undefined) return;
    try {
      const variant = await deps.images.makeVariant(stored.id, stored.meta, want);
      const bytes = deps.keepBytes ? await deps.images.bytes(variant.id, variant.meta) : undefined;
      image.served = { ext: EXT[want.format], compression: want.compression };
      image.type = imageTypeOf(variant.meta.type) ?? image.type;
      if (bytes) image.bytes = bytes;
    } catch (err) {
      deps.log.warn(
        `cannot convert image ${stored.id} to ${want.format}; answering the original: ` +
          (err instanceof Error ? err.message : String(err)),
      );
    }
  }));
}
