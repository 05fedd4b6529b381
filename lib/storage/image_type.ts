/**
 * Image type detection from magic bytes. Upstream `Content-Type` headers and file extensions are
 * never trusted: SiliconFlow's docs do not say which format a model returns.
 *
 * @module
 */

export interface ImageType {
  mime: "image/png" | "image/jpeg" | "image/webp" | "image/gif" | "image/avif";
  ext: "png" | "jpg" | "webp" | "gif" | "avif";
}

export const PNG: ImageType = { mime: "image/png", ext: "png" };
export const JPEG: ImageType = { mime: "image/jpeg", ext: "jpg" };
export const WEBP: ImageType = { mime: "image/webp", ext: "webp" };
export const GIF: ImageType = { mime: "image/gif", ext: "gif" };
/** Only ever a converted variant (`/i/<id>.avif`): no upstream is asked for AVIF. */
export const AVIF: ImageType = { mime: "image/avif", ext: "avif" };

const BY_MIME = new Map([PNG, JPEG, WEBP, GIF, AVIF].map((t) => [t.mime, t]));

function startsWith(bytes: Uint8Array, signature: number[], offset = 0): boolean {
  return signature.every((b, i) => bytes[offset + i] === b);
}

/** Returns the image type the bytes really are, or `undefined` if they are none we serve. */
export function sniffImageType(bytes: Uint8Array): ImageType | undefined {
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return PNG;
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return JPEG;
  // "RIFF" <4-byte size> "WEBP"
  if (
    startsWith(bytes, [0x52, 0x49, 0x46, 0x46]) && startsWith(bytes, [0x57, 0x45, 0x42, 0x50], 8)
  ) {
    return WEBP;
  }
  // "GIF87a" or "GIF89a"
  if (startsWith(bytes, [0x47, 0x49, 0x46, 0x38]) && (bytes[4] === 0x37 || bytes[4] === 0x39)) {
    return bytes[5] === 0x61 ? GIF : undefined;
  }
  return undefined;
}

/** Whether the bytes are an AVIF file: an ISO-BMFF `ftyp` box of brand `avif` or `avis`. */
export function isAvif(bytes: Uint8Array): boolean {
  // "ftyp" at 4, then "avi"
  return startsWith(bytes, [0x66, 0x74, 0x79, 0x70, 0x61, 0x76, 0x69], 4) &&
    (bytes[11] === 0x66 || bytes[11] === 0x73);
}

/** The type for a stored MIME string. */
export function imageTypeOf(mime: string): ImageType | undefined {
  return BY_MIME.get(mime as ImageType["mime"]);
}
