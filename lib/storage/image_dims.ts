/**
 * An image's pixel size read from its header alone (PNG, JPEG, WebP, GIF; `lib/image_header.ts`),
 * without decoding: what `?w=` needs to never enlarge an image, kept from the first bytes of an
 * image as it is written ({@link HeaderBytes}).
 *
 * @module
 */
import { imageHeader } from "../image_header.ts";

export interface ImageDims {
  width: number;
  height: number;
}

/** Bytes read for a header: a JPEG's frame header may follow up to 64 KiB of EXIF data. */
export const HEADER_BYTES = 64_000;

/** Keeps the first {@link HEADER_BYTES} of an image being written, for its size. */
export class HeaderBytes {
  readonly #head = new Uint8Array(HEADER_BYTES);
  #length = 0;

  push(bytes: Uint8Array): void {
    const take = Math.min(bytes.length, HEADER_BYTES - this.#length);
    if (take > 0) this.#head.set(bytes.subarray(0, take), this.#length);
    this.#length += take;
  }

  dims(): ImageDims | undefined {
    return imageDims(this.#head.subarray(0, this.#length));
  }
}

/** The width and height in an image's header, or `undefined` when the bytes do not say. */
export function imageDims(bytes: Uint8Array): ImageDims | undefined {
  const header = imageHeader(bytes);
  return header && header.width > 0 && header.height > 0
    ? { width: header.width, height: header.height }
    : undefined;
}
