/**
 * Smooth test pictures for the conversion tests: a colour gradient with soft rings, something like
 * a photograph to a lossy codec (random pixels are not), made in the test and encoded as PNG or
 * JPEG by the gateway's own codecs. Real photographs are not committed.
 *
 * @module
 */
import { codecs, type Pixels } from "../../lib/variants/codecs.ts";

/** RGBA pixels of a gradient with rings, `width × height`. */
export function gradientPixels(width: number, height: number): Pixels {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      const ring = Math.sin(Math.hypot(x - width / 2, y - height / 2) / 9) * 40;
      data[i] = (255 * x) / width + ring;
      data[i + 1] = (255 * y) / height - ring;
      data[i + 2] = 128 + ring;
      data[i + 3] = 255;
    }
  }
  return { data, width, height };
}

/** The gradient as a PNG file. */
export async function gradientPng(width: number, height: number): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await (await codecs()).encodePng(gradientPixels(width, height)));
}

/** The gradient as a JPEG file (quality 90). */
export async function gradientJpeg(
  width: number,
  height: number,
): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await (await codecs()).encodeJpeg(gradientPixels(width, height), 90));
}
