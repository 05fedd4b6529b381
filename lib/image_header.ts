/**
 * An image's type, width and height read from its header, without decoding it: what lets a
 * conversion refuse a decompression bomb (a 1 KB PNG may claim 100000×100000 pixels, 40 GB
 * decoded) before any codec allocates for it, and `?w=` never enlarge a stored image.
 *
 * PNG, GIF and WebP keep their size at fixed offsets. A JPEG's size is in its SOF segment, found by
 * jumping from segment to segment by their lengths: each byte is looked at most once, and the walk
 * stops after {@link JPEG_SCAN_LIMIT} bytes, so hostile input costs a bounded, linear time.
 * {@link checkDecodable} turns what the header says into a refusal (a 422) or a go-ahead.
 *
 * @module
 */
import { UnprocessableImageError } from "./errors.ts";

/** The types a conversion can decode (GIF is only measured, to be refused with a clear message). */
export type HeaderType = "png" | "jpeg" | "webp" | "gif";

/** What a header says. */
export interface ImageHeader {
  type: HeaderType;
  width: number;
  height: number;
}

/**
 * How far into a JPEG the SOF segment is looked for. Segments before it (EXIF with its thumbnail,
 * ICC profiles, XMP) are each under 64 KiB; a real file's SOF comes well within 1 MiB.
 */
export const JPEG_SCAN_LIMIT = 1024 * 1024;

const u16be = (b: Uint8Array, i: number) => (b[i] << 8) | b[i + 1];
const u16le = (b: Uint8Array, i: number) => b[i] | (b[i + 1] << 8);
const u24le = (b: Uint8Array, i: number) => b[i] | (b[i + 1] << 8) | (b[i + 2] << 16);
const u32be = (b: Uint8Array, i: number) =>
  ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;

function startsWith(bytes: Uint8Array, at: number, ascii: string): boolean {
  if (bytes.length < at + ascii.length) return false;
  for (let i = 0; i < ascii.length; i++) {
    if (bytes[at + i] !== ascii.charCodeAt(i)) return false;
  }
  return true;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function png(bytes: Uint8Array): ImageHeader | undefined {
  // The signature, then IHDR first (the PNG specification requires it): width and height at 16.
  if (bytes.length < 24 || !startsWith(bytes, 12, "IHDR")) return undefined;
  return { type: "png", width: u32be(bytes, 16), height: u32be(bytes, 20) };
}

function gif(bytes: Uint8Array): ImageHeader | undefined {
  if (bytes.length < 10) return undefined;
  return { type: "gif", width: u16le(bytes, 6), height: u16le(bytes, 8) };
}

function webp(bytes: Uint8Array): ImageHeader | undefined {
  if (startsWith(bytes, 12, "VP8X") && bytes.length >= 30) {
    // Canvas width and height minus one, 24 bits each.
    return { type: "webp", width: u24le(bytes, 24) + 1, height: u24le(bytes, 27) + 1 };
  }
  if (startsWith(bytes, 12, "VP8L") && bytes.length >= 25 && bytes[20] === 0x2f) {
    // 14 bits of width minus one, then 14 bits of height minus one, little-endian.
    const bits = bytes[21] | (bytes[22] << 8) | (bytes[23] << 16) | (bytes[24] << 24);
    return { type: "webp", width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
  }
  if (
    startsWith(bytes, 12, "VP8 ") && bytes.length >= 30 &&
    bytes[23] === 0x9d && bytes[24] === 0x01 && bytes[25] === 0x2a
  ) {
    // A key frame's start code, then 14-bit width and height (the top 2 bits are scaling).
    return { type: "webp", width: u16le(bytes, 26) & 0x3fff, height: u16le(bytes, 28) & 0x3fff };
  }
  return undefined;
}

/** Start-of-frame markers: C0–CF except C4 (DHT), C8 (JPG) and CC (DAC). */
const isSof = (marker: number) =>
  marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;

function jpeg(bytes: Uint8Array): ImageHeader | undefined {
  const end = Math.min(bytes.length, JPEG_SCAN_LIMIT);
  let i = 2; // after SOI
  while (i < end) {
    if (bytes[i] !== 0xff) return undefined; // not at a marker: corrupt
    // Fill bytes: any number of 0xFF before the marker code; each is passed once.
    while (i < end && bytes[i] === 0xff) i++;
    if (i >= end) return undefined;
    const marker = bytes[i++];
    // Markers that stand alone, without a length: TEM, RST0–7, SOI, EOI.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd9)) {
      if (marker === 0xd9 || marker === 0xd8) return undefined; // an image without a frame
      continue;
    }
    if (i + 2 > end) return undefined;
    const length = u16be(bytes, i);
    if (length < 2) return undefined;
    if (isSof(marker)) {
      if (i + 7 > end) return undefined;
      return { type: "jpeg", height: u16be(bytes, i + 3), width: u16be(bytes, i + 5) };
    }
    if (marker === 0xda) return undefined; // scan data before any frame header: corrupt
    i += length; // the length counts its own two bytes
  }
  return undefined;
}

/**
 * The type and size an image's header declares, or `undefined` when the bytes are not a PNG, JPEG,
 * WebP or GIF, or end before the size. Reads at most {@link JPEG_SCAN_LIMIT} bytes, each once.
 */
export function imageHeader(bytes: Uint8Array): ImageHeader | undefined {
  if (PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return png(bytes);
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return jpeg(bytes);
  if (startsWith(bytes, 0, "RIFF") && startsWith(bytes, 8, "WEBP")) return webp(bytes);
  if (startsWith(bytes, 0, "GIF87a") || startsWith(bytes, 0, "GIF89a")) return gif(bytes);
  return undefined;
}

/**
 * Refuses, by its header alone, an image that cannot or may not be decoded: an unknown or truncated
 * type, a GIF, or more than `maxPixels`. Returns the declared size otherwise.
 */
export function checkDecodable(bytes: Uint8Array, maxPixels: number): ImageHeader {
  const header = imageHeader(bytes);
  if (!header || header.width === 0 || header.height === 0) {
    throw new UnprocessableImageError("the image is not a PNG, JPEG or WebP that can be read", {
      param: "image",
    });
  }
  if (header.type === "gif") {
    throw new UnprocessableImageError("GIF images are not converted; use PNG, JPEG or WebP", {
      param: "image",
    });
  }
  const megapixels = (header.width * header.height) / 1e6;
  if (header.width * header.height > maxPixels) {
    throw new UnprocessableImageError(
      `the image is ${header.width}x${header.height} (${megapixels.toFixed(1)} megapixels); ` +
        `at most ${(maxPixels / 1e6).toFixed(1)} megapixels are converted`,
      { param: "image", code: "image_too_large" },
    );
  }
  return header;
}
