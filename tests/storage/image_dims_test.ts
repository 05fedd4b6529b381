/**
 * Pixel sizes read from image headers: each fixture's, and no answer for bytes that say none.
 *
 * @module
 */
import assert from "node:assert/strict";
import { imageDims } from "../../lib/storage/image_dims.ts";
import { randomPng, tinyGif, tinyJpeg, tinyPng, tinyWebp } from "../_support/images.ts";

Deno.test("imageDims reads the width and height of PNG, JPEG, WebP and GIF headers", () => {
  assert.deepEqual(imageDims(tinyPng), { width: 32, height: 32 });
  assert.deepEqual(imageDims(tinyJpeg), { width: 64, height: 48 });
  assert.deepEqual(imageDims(tinyWebp), { width: 64, height: 48 });
  assert.deepEqual(imageDims(tinyGif), { width: 16, height: 16 });
  assert.deepEqual(imageDims(randomPng(300, 7)), { width: 300, height: 7 });
});

Deno.test("imageDims reads WebP lossless and extended headers", () => {
  const riff = (kind: string, payload: number[]) =>
    new Uint8Array([
      ...new TextEncoder().encode(`RIFF\0\0\0\0WEBP${kind}\0\0\0\0`),
      ...payload,
      ...new Array(16).fill(0),
    ]);
  // VP8L: signature 0x2f, then 14 bits of width − 1 and 14 of height − 1.
  const bits = (300 - 1) | ((200 - 1) << 14);
  const lossless = riff("VP8L", [0x2f, bits & 0xff, (bits >> 8) & 0xff, (bits >> 16) & 0xff, 0]);
  assert.deepEqual(imageDims(lossless), { width: 300, height: 200 });
  // VP8X: flags and reserved bytes, then 24-bit width − 1 and height − 1.
  const extended = riff("VP8X", [0, 0, 0, 0, 0xff, 0x0f, 0, 0x3f, 0x02, 0]);
  assert.deepEqual(imageDims(extended), { width: 4096, height: 576 });
});

Deno.test("imageDims answers undefined for bytes that name no size", () => {
  assert.equal(imageDims(new Uint8Array(0)), undefined);
  assert.equal(imageDims(tinyPng.subarray(0, 20)), undefined);
  // A JPEG cut before its frame header, and one whose segments lose their markers.
  assert.equal(imageDims(tinyJpeg.subarray(0, 40)), undefined);
  assert.equal(imageDims(new Uint8Array([0xff, 0xd8, ...new Array(64).fill(0x12)])), undefined);
  // A JPEG of only fill bytes is walked in linear time.
  assert.equal(
    imageDims(new Uint8Array([0xff, 0xd8, ...new Array(100_000).fill(0xff)])),
    undefined,
  );
});
