/**
 * A fake image converter for variant tests: answers each format with real bytes of that format (a
 * PNG of the asked width, the JPEG and WebP fixtures, a minimal AVIF header) and records its calls.
 *
 * @module
 */
import type { Convert, VariantWant } from "../../lib/storage/image_variants.ts";
import { AVIF, JPEG, PNG, WEBP } from "../../lib/storage/image_type.ts";
import { concat, randomPng, tinyJpeg, tinyWebp } from "./images.ts";

/** An `ftyp` box of brand `avif`: all a test needs of an AVIF file. */
export const tinyAvif = concat([
  new Uint8Array([0, 0, 0, 0x14]),
  new TextEncoder().encode("ftypavif\0\0\0\0avif"),
]);

export interface FakeConverter {
  convert: Convert;
  /** Every call's wish, in order. */
  calls: VariantWant[];
  /** Made to throw (or wait) before answering the next calls, when set. */
  before?: (want: VariantWant) => Promise<void> | void;
}

/** A converter whose PNGs are `width` (8 for the original's width) by 8 random pixels. */
export function fakeConverter(): FakeConverter {
  const fake: FakeConverter = {
    calls: [],
    convert: async (_original, want) => {
      fake.calls.push(want);
      await fake.before?.(want);
      switch (want.format) {
        case "png":
          return { bytes: randomPng(want.width ?? 8, 8), type: PNG };
        case "jpeg":
          return { bytes: tinyJpeg.slice(), type: JPEG };
        case "webp":
          return { bytes: tinyWebp.slice(), type: WEBP };
        case "avif":
          return { bytes: tinyAvif, type: AVIF };
      }
    },
  };
  return fake;
}
