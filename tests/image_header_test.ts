/**
 * `imageHeader` and `checkDecodable`: the size of every type read from its header, and hostile
 * headers (truncated, huge claims, a megabyte of JPEG junk) answered in bounded, linear time.
 *
 * @module
 */
import assert from "node:assert/strict";
import { UnprocessableImageError } from "../lib/errors.ts";
import { checkDecodable, imageHeader, JPEG_SCAN_LIMIT } from "../lib/image_header.ts";
import { concat, randomPng, tinyGif, tinyJpeg, tinyPng, tinyWebp } from "./_support/images.ts";

/** A PNG signature and IHDR claiming `width × height`, padded with zeros to `size` bytes. */
function claimedPng(width: number, height: number, size = 1024): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  out.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
  const view = new DataView(out.buffer);
  view.setUint32(16, width);
  view.setUint32(20, height);
  return out;
}

/** A baseline JPEG's start: SOI, an APP0 of `appBytes`, then SOF0 declaring `width × height`. */
function jpegHeader(width: number, height: number, appBytes = 14): Uint8Array<ArrayBuffer> {
  const app = new Uint8Array(4 + appBytes);
  app.set([0xff, 0xe0, (appBytes + 2) >> 8, (appBytes + 2) & 0xff]);
  const sof = new Uint8Array([0xff, 0xff, 0xc0, 0, 17, 8, height >> 8, height & 0xff]);
  return concat([
    new Uint8Array([0xff, 0xd8]),
    app,
    sof,
    new Uint8Array([width >> 8, width & 0xff]),
  ]);
}

Deno.test("imageHeader reads the size of each fixture's type", () => {
  assert.deepEqual(imageHeader(tinyPng), { type: "png", width: 32, height: 32 });
  assert.deepEqual(imageHeader(tinyJpeg), { type: "jpeg", width: 64, height: 48 });
  assert.deepEqual(imageHeader(tinyWebp), { type: "webp", width: 64, height: 48 });
  assert.deepEqual(imageHeader(tinyGif), { type: "gif", width: 16, height: 16 });
  assert.deepEqual(imageHeader(randomPng(300, 7)), { type: "png", width: 300, height: 7 });
});

Deno.test("imageHeader reads lossless (VP8L) and extended (VP8X) WebP headers", () => {
  const riff = (chunk: string, body: number[]) =>
    new Uint8Array([
      ...new TextEncoder().encode("RIFF"),
      0,
      0,
      0,
      0,
      ...new TextEncoder().encode("WEBP" + chunk),
      0,
      0,
      0,
      0,
      ...body,
    ]);
  // VP8L: 0x2f, then (width - 1) in 14 bits and (height - 1) in the next 14: 400 × 300.
  const bits = 399 | (299 << 14);
  const lossless = riff("VP8L", [0x2f, bits & 0xff, (bits >> 8) & 0xff, (bits >> 16) & 0xff, 0]);
  assert.deepEqual(imageHeader(lossless), { type: "webp", width: 400, height: 300 });
  // VP8X: flags and reserved (4 bytes), then 24-bit (width - 1) and (height - 1): 5000 × 70000.
  const extended = riff("VP8X", [0, 0, 0, 0, 0x87, 0x13, 0, 0x6f, 0x11, 0x01]);
  assert.deepEqual(imageHeader(extended), { type: "webp", width: 5000, height: 70000 });
});

Deno.test("imageHeader finds a JPEG's frame after other segments, and through fill bytes", () => {
  assert.deepEqual(imageHeader(jpegHeader(1328, 1024)), {
    type: "jpeg",
    width: 1328,
    height: 1024,
  });
  // An EXIF-sized APP segment before the frame is jumped over, not scanned.
  assert.deepEqual(imageHeader(jpegHeader(640, 480, 60_000)), {
    type: "jpeg",
    width: 640,
    height: 480,
  });
});

Deno.test("imageHeader answers undefined for truncated headers and other bytes", () => {
  // Each cut just short of where the size ends: PNG 24 bytes, WebP (VP8) 30, GIF 10, JPEG's SOF.
  const needs = [[tinyPng, 24], [tinyWebp, 30], [tinyGif, 10], [jpegHeader(10, 10), 30]] as const;
  for (const [bytes, need] of needs) {
    assert.notEqual(imageHeader(bytes.subarray(0, need)), undefined);
    for (const cut of [0, 1, 3, 8, need - 1]) {
      const header = imageHeader(bytes.subarray(0, cut));
      assert.equal(header, undefined, `${cut} bytes of ${bytes.length}`);
    }
  }
  assert.equal(imageHeader(new TextEncoder().encode("<svg xmlns='…'></svg>")), undefined);
  // A JPEG whose scan starts before any frame header, and one that ends at once.
  assert.equal(imageHeader(new Uint8Array([0xff, 0xd8, 0xff, 0xda, 0, 2, 1, 2])), undefined);
  assert.equal(imageHeader(new Uint8Array([0xff, 0xd8, 0xff, 0xd9])), undefined);
});

Deno.test("checkDecodable refuses a 1 KB PNG claiming 100000x100000 pixels with a 422", () => {
  const bomb = claimedPng(100_000, 100_000);
  assert.equal(bomb.length, 1024);
  assert.throws(() => checkDecodable(bomb, 40e6), (err: unknown) => {
    assert.ok(err instanceof UnprocessableImageError);
    assert.equal(err.status, 422);
    assert.equal(err.code, "image_too_large");
    assert.equal(err.param, "image");
    assert.equal(
      err.message,
      "the image is 100000x100000 (10000.0 megapixels); at most 40.0 megapixels are converted",
    );
    return true;
  });
  // Just at the cap is allowed; one row more is not.
  assert.deepEqual(checkDecodable(claimedPng(4000, 10_000), 40e6), {
    type: "png",
    width: 4000,
    height: 10_000,
  });
  assert.throws(() => checkDecodable(claimedPng(4000, 10_001), 40e6), UnprocessableImageError);
});

Deno.test("checkDecodable refuses GIFs, unknown bytes and zero sizes with a 422", () => {
  for (const bytes of [tinyGif, new Uint8Array(100), claimedPng(0, 10), claimedPng(10, 0)]) {
    assert.throws(() => checkDecodable(bytes, 40e6), (err: unknown) => {
      assert.ok(err instanceof UnprocessableImageError);
      assert.equal(err.code, "unprocessable_image");
      return true;
    });
  }
});

Deno.test("imageHeader walks a megabyte of JPEG junk in linear time and stops at its limit", () => {
  // Empty APP0 segments (4 bytes each: 262,144 jumps), and a megabyte of 0xFF fill bytes.
  const segments = new Uint8Array(1024 * 1024);
  segments.set([0xff, 0xd8]);
  for (let i = 2; i + 4 <= segments.length; i += 4) segments.set([0xff, 0xe0, 0, 2], i);
  const fill = new Uint8Array(1024 * 1024).fill(0xff);
  fill[1] = 0xd8;
  // Ten megabytes of segments: the walk stops at JPEG_SCAN_LIMIT, so it costs what one does.
  const long = new Uint8Array(10 * 1024 * 1024);
  for (let i = 0; i < 10; i++) long.set(segments, i * segments.length);
  for (const [label, bytes] of [["segments", segments], ["fill", fill], ["10 MB", long]] as const) {
    const started = performance.now();
    for (let round = 0; round < 5; round++) assert.equal(imageHeader(bytes), undefined);
    const ms = (performance.now() - started) / 5;
    assert.ok(ms < 50, `${label}: ${ms.toFixed(1)} ms a walk`);
  }
  assert.ok(long.length > JPEG_SCAN_LIMIT);
});
