/**
 * One conversion: decode a PNG, JPEG or WebP, resize it to a width (never larger, aspect kept) and
 * encode it as WebP, AVIF, JPEG or PNG with the quality `options.ts` chose.
 *
 * This runs inside a worker of `worker_pool.ts`; the pool has already refused what is too large by
 * its header, and the check is repeated here so that no path decodes a bomb.
 *
 * @module
 */
import { UnprocessableImageError } from "../errors.ts";
import { codecs, type Pixels } from "./codecs.ts";
import { checkDecodable } from "../image_header.ts";
import type { VariantFormat } from "../variant_kinds.ts";

/** What to make of one image. */
export interface ConversionJob {
  format: VariantFormat;
  /** The width wanted; the original's when absent or wider than it. */
  width?: number;
  /** The codec's quality, from `qualityFor` (`options.ts`). */
  quality: number;
  /** Refuse images whose header declares more pixels than this. */
  maxPixels: number;
}

/** A conversion's output. */
export interface Converted {
  bytes: ArrayBuffer;
  width: number;
  height: number;
}

/** Decodes, resizes and encodes one image as `job` says. */
export async function convert(input: ArrayBuffer, job: ConversionJob): Promise<Converted> {
  const header = checkDecodable(new Uint8Array(input), job.maxPixels);
  const codec = await codecs();
  let pixels: Pixels = header.type === "png"
    ? await codec.decodePng(input)
    : header.type === "jpeg"
    ? await codec.decodeJpeg(input)
    : await codec.decodeWebp(input);
  // The header is trusted only as far as the decoder agrees with it.
  if (pixels.width * pixels.height > job.maxPixels) {
    throw new UnprocessableImageError("the image decodes larger than its header said", {
      param: "image",
      code: "image_too_large",
    });
  }
  const asked = Number.isFinite(job.width) ? Math.max(1, Math.round(job.width!)) : pixels.width;
  const width = Math.min(asked, pixels.width);
  if (width !== pixels.width) {
    const height = Math.max(1, Math.round(pixels.height * width / pixels.width));
    pixels = await codec.resize(pixels, width, height);
  }
  const bytes = job.format === "webp"
    ? await codec.encodeWebp(pixels, job.quality)
    : job.format === "avif"
    ? await codec.encodeAvif(pixels, job.quality)
    : job.format === "jpeg"
    ? await codec.encodeJpeg(pixels, job.quality)
    : await codec.encodePng(pixels);
  return { bytes, width: pixels.width, height: pixels.height };
}
