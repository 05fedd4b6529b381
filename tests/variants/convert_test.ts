/**
 * `convert` (run here on the main thread, as a worker runs it), `snapWidth` and `qualityFor`:
 * outputs that decode, of the type their magic bytes say, at the width asked, never enlarged.
 *
 * @module
 */
import assert from "node:assert/strict";
import { UnprocessableImageError } from "../../lib/errors.ts";
import { codecs } from "../../lib/variants/codecs.ts";
import { convert } from "../../lib/variants/convert.ts";
import { imageHeader } from "../../lib/image_header.ts";
import { snapWidth, type VariantFormat } from "../../lib/variant_kinds.ts";
import { DEFAULT_QUALITY, qualityFor } from "../../lib/variants/options.ts";
import { gradientJpeg, gradientPng } from "../_support/gradient.ts";
import { tinyJpeg, tinyPng, tinyWebp } from "../_support/images.ts";

const MAX_PIXELS = 40e6;

/** The type by magic bytes: PNG, JPEG, RIFF…WEBP, or an ISO BMFF `ftyp` box of brand `avif`. */
function magicType(bytes: Uint8Array): string {
  const ascii = (from: number, to: number) => new TextDecoder().decode(bytes.subarray(from, to));
  if (bytes[0] === 0x89 && ascii(1, 4) === "PNG") return "png";
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "jpeg";
  if (ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP") return "webp";
  if (ascii(4, 12) === "ftypavif") return "avif";
  return "unknown";
}

/** An AVIF's size from its `ispe` box (version and flags, then width and height). */
function avifSize(bytes: Uint8Array): { width: number; height: number } {
  const at = new TextDecoder("latin1").decode(bytes.subarray(0, 4096)).indexOf("ispe");
  assert.ok(at > 0, "no ispe box");
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  return { width: view.getUint32(at + 8), height: view.getUint32(at + 12) };
}

/** The output decoded by the codec of its type, to its pixel size (AVIF: by its header). */
async function decodedSize(format: VariantFormat, bytes: ArrayBuffer) {
  const codec = await codecs();
  if (format === "avif") return avifSize(new Uint8Array(bytes));
  const decode = { webp: codec.decodeWebp, jpeg: codec.decodeJpeg, png: codec.decodePng }[format];
  const { width, height } = await decode(bytes);
  return { width, height };
}

const copy = (bytes: Uint8Array) => bytes.slice().buffer;

Deno.test("convert makes each format at the width asked, from PNG, JPEG and WebP", async () => {
  const inputs = {
    png: await gradientPng(300, 200),
    jpeg: await gradientJpeg(300, 200),
    webp: tinyWebp, // 64 × 48
  };
  for (const [from, bytes] of Object.entries(inputs)) {
    const original = imageHeader(bytes)!;
    const width = Math.round(original.width / 2);
    const height = Math.round(original.height / 2);
    for (const format of ["webp", "avif", "jpeg", "png"] as const) {
      const label = `${from} → ${format}`;
      const out = await convert(copy(bytes), {
        format,
        width,
        quality: qualityFor(format),
        maxPixels: MAX_PIXELS,
      });
      assert.equal(magicType(new Uint8Array(out.bytes)), format, label);
      assert.deepEqual([out.width, out.height], [width, height], label);
      assert.deepEqual(await decodedSize(format, out.bytes), { width, height }, label);
    }
  }
});

Deno.test("convert never enlarges: a width past the original's keeps the original's", async () => {
  const png = await gradientPng(300, 200);
  for (const width of [300, 301, 2048, undefined]) {
    const out = await convert(copy(png), {
      format: "webp",
      width,
      quality: 80,
      maxPixels: MAX_PIXELS,
    });
    assert.deepEqual([out.width, out.height], [300, 200], `width ${width}`);
    assert.deepEqual(imageHeader(new Uint8Array(out.bytes)), {
      type: "webp",
      width: 300,
      height: 200,
    });
  }
});

Deno.test("convert reads the 16-bit grey PNG and the JPEG fixtures", async () => {
  const grey = await convert(copy(tinyPng), { format: "jpeg", quality: 85, maxPixels: MAX_PIXELS });
  assert.deepEqual([grey.width, grey.height, magicType(new Uint8Array(grey.bytes))], [
    32,
    32,
    "jpeg",
  ]);
  const jpeg = await convert(copy(tinyJpeg), {
    format: "png",
    width: 16,
    quality: 100,
    maxPixels: MAX_PIXELS,
  });
  assert.deepEqual(imageHeader(new Uint8Array(jpeg.bytes)), { type: "png", width: 16, height: 12 });
});

Deno.test("convert refuses an image over maxPixels by its header, with a 422", async () => {
  const png = await gradientPng(300, 200);
  await assert.rejects(
    () => convert(copy(png), { format: "webp", quality: 80, maxPixels: 300 * 200 - 1 }),
    (err: unknown) => err instanceof UnprocessableImageError && err.code === "image_too_large",
  );
});

Deno.test("snapWidth takes the smallest width of the set at least as wide, or the largest", () => {
  assert.deepEqual(
    [1, 64, 65, 300, 1024, 1100, 1536, 2048, 9999].map(snapWidth),
    [64, 64, 128, 384, 1024, 1536, 1536, 2048, 2048],
  );
});

Deno.test("qualityFor maps output_compression onto each codec, defaults without it", () => {
  assert.deepEqual(
    ["webp", "avif", "jpeg", "png"].map((f) => qualityFor(f as VariantFormat)),
    [DEFAULT_QUALITY.webp, DEFAULT_QUALITY.avif, DEFAULT_QUALITY.jpeg, 100],
  );
  assert.equal(qualityFor("webp", 55), 55);
  assert.equal(qualityFor("jpeg", 55), 55);
  assert.equal(qualityFor("avif", 80), DEFAULT_QUALITY.avif);
  assert.equal(qualityFor("avif", 0), 0);
  assert.equal(qualityFor("avif", 100), 100 + DEFAULT_QUALITY.avif - DEFAULT_QUALITY.webp);
  assert.equal(qualityFor("webp", 140), 100);
  assert.equal(qualityFor("webp", -3), 0);
  assert.equal(qualityFor("png", 10), 100);
});
