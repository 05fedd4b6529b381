/**
 * An image's pixel size read from its header alone (PNG, JPEG, WebP, GIF), without decoding: what
 * `?w=` needs to never enlarge an image. Reads only the bytes it is given (the first KV chunk of
 * a stored image is plenty) and scans them once, so hostile bytes cost linear time at most.
 *
 * @module
 */

export interface ImageDims {
  width: number;
  height: number;
}

const be16 = (b: Uint8Array, i: number) => (b[i] << 8) | b[i + 1];
const le16 = (b: Uint8Array, i: number) => b[i] | (b[i + 1] << 8);
const le24 = (b: Uint8Array, i: number) => b[i] | (b[i + 1] << 8) | (b[i + 2] << 16);
const ascii = (b: Uint8Array, i: number, n: number) => String.fromCharCode(...b.subarray(i, i + n));

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
  if (bytes.length < 30) return undefined;
  let dims: ImageDims | undefined;
  if (bytes[0] === 0x89 && ascii(bytes, 1, 3) === "PNG" && ascii(bytes, 12, 4) === "IHDR") {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    dims = { width: view.getUint32(16), height: view.getUint32(20) };
  } else if (ascii(bytes, 0, 4) === "GIF8") {
    dims = { width: le16(bytes, 6), height: le16(bytes, 8) };
  } else if (ascii(bytes, 0, 4) === "RIFF" && ascii(bytes, 8, 4) === "WEBP") {
    dims = webpDims(bytes);
  } else if (bytes[0] === 0xff && bytes[1] === 0xd8) {
    dims = jpegDims(bytes);
  }
  return dims && dims.width > 0 && dims.height > 0 ? dims : undefined;
}

function webpDims(b: Uint8Array): ImageDims | undefined {
  switch (ascii(b, 12, 4)) {
    case "VP8 ": // lossy: 14-bit sizes after the frame tag and start code
      return { width: le16(b, 26) & 0x3fff, height: le16(b, 28) & 0x3fff };
    case "VP8L": { // lossless: 14-bit sizes minus one, packed after the signature byte
      const bits = (le16(b, 21) | (le16(b, 23) << 16)) >>> 0;
      return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
    }
    case "VP8X": // extended: 24-bit sizes minus one
      return { width: le24(b, 24) + 1, height: le24(b, 27) + 1 };
  }
  return undefined;
}

/** Walks the JPEG segments to the first start-of-frame marker (SOF0–SOF15 but DHT, JPG, DAC). */
function jpegDims(b: Uint8Array): ImageDims | undefined {
  let i = 2;
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) return undefined;
    const marker = b[i + 1];
    if (marker === 0xff) { // fill byte
      i++;
      continue;
    }
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { width: be16(b, i + 7), height: be16(b, i + 5) };
    }
    // Markers without a length: TEM and the restart markers.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) i += 2;
    else i += 2 + be16(b, i + 2);
  }
  return undefined;
}
