/**
 * The WebAssembly codecs (the @jsquash family, Squoosh's codecs built for the web), loaded so that
 * they work under the gateway's own permissions (`-R=./data,.env`) and on Deno Deploy.
 *
 * Each codec's `.wasm` is imported as bytes (`with { type: "bytes" }`, Deno's `raw-imports`), so it
 * travels in the module graph like code: nothing is read or fetched from the npm cache at run time,
 * which the gateway's read permission does not cover and which Deploy does not have. The bytes are
 * compiled once and handed to each codec's `init(module)`.
 *
 * @module
 */
import pngWasm from "@jsquash/png/codec/pkg/squoosh_png_bg.wasm" with { type: "bytes" };
import webpEncWasm from "@jsquash/webp/codec/enc/webp_enc_simd.wasm" with { type: "bytes" };
import webpDecWasm from "@jsquash/webp/codec/dec/webp_dec.wasm" with { type: "bytes" };
import avifEncWasm from "@jsquash/avif/codec/enc/avif_enc.wasm" with { type: "bytes" };
import jpegEncWasm from "@jsquash/jpeg/codec/enc/mozjpeg_enc.wasm" with { type: "bytes" };
import jpegDecWasm from "@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm" with { type: "bytes" };
import resizeWasm from "@jsquash/resize/lib/resize/pkg/squoosh_resize_bg.wasm" with {
  type: "bytes",
};
import pngDecode, { init as pngDecInit } from "@jsquash/png/decode.js";
import pngEncode, { init as pngEncInit } from "@jsquash/png/encode.js";
import webpEncode, { init as webpEncInit } from "@jsquash/webp/encode.js";
import webpDecode, { init as webpDecInit } from "@jsquash/webp/decode.js";
import avifEncode, { init as avifEncInit } from "@jsquash/avif/encode.js";
import jpegEncode, { init as jpegEncInit } from "@jsquash/jpeg/encode.js";
import jpegDecode, { init as jpegDecInit } from "@jsquash/jpeg/decode.js";
import resize, { initResize } from "@jsquash/resize/index.js";

/** Pixels as the codecs take and give them: RGBA, 4 bytes a pixel. */
export interface Pixels {
  data: Uint8ClampedArray;
  width: number;
  height: number;
}

/** The codec calls, once their WebAssembly is ready. */
export interface Codecs {
  decodePng(bytes: ArrayBuffer): Promise<Pixels>;
  decodeJpeg(bytes: ArrayBuffer): Promise<Pixels>;
  decodeWebp(bytes: ArrayBuffer): Promise<Pixels>;
  encodePng(pixels: Pixels): Promise<ArrayBuffer>;
  encodeJpeg(pixels: Pixels, quality: number): Promise<ArrayBuffer>;
  encodeWebp(pixels: Pixels, quality: number): Promise<ArrayBuffer>;
  encodeAvif(pixels: Pixels, quality: number): Promise<ArrayBuffer>;
  resize(pixels: Pixels, width: number, height: number): Promise<Pixels>;
}

let ready: Promise<Codecs> | undefined;

// The typings want the DOM's ImageData; the codecs only read `data`, `width` and `height`.
// deno-lint-ignore no-explicit-any
const asImage = (pixels: Pixels) => pixels as any;
const asPixels = (image: ImageData) => image as unknown as Pixels;

async function load(): Promise<Codecs> {
  const compile = (bytes: Uint8Array<ArrayBuffer>) => WebAssembly.compile(bytes);
  // AVIF's encoder is the single-threaded build: its threaded one starts workers of its own from
  // files, and the pool already keeps every CPU busy.
  await Promise.all([
    compile(pngWasm).then((m) => Promise.all([pngDecInit(m), pngEncInit(m)])),
    compile(webpEncWasm).then((m) => webpEncInit(m)),
    compile(webpDecWasm).then((m) => webpDecInit(m)),
    compile(avifEncWasm).then((m) => avifEncInit(m)),
    compile(jpegEncWasm).then((m) => jpegEncInit(m)),
    compile(jpegDecWasm).then((m) => jpegDecInit(m)),
    compile(resizeWasm).then((m) => initResize(m)),
  ]);
  return {
    decodePng: (bytes) => pngDecode(bytes).then(asPixels),
    decodeJpeg: (bytes) => jpegDecode(bytes).then(asPixels),
    decodeWebp: (bytes) => webpDecode(bytes).then(asPixels),
    encodePng: (pixels) => pngEncode(asImage(pixels)),
    encodeJpeg: (pixels, quality) => jpegEncode(asImage(pixels), { quality }),
    encodeWebp: (pixels, quality) => webpEncode(asImage(pixels), { quality }),
    encodeAvif: (pixels, quality) => avifEncode(asImage(pixels), { quality }),
    // Lanczos3 in linear light, as Squoosh resizes photographs.
    resize: (pixels, width, height) =>
      resize(asImage(pixels), { width, height, method: "lanczos3", linearRGB: true }).then(
        asPixels,
      ),
  };
}

/** The codecs, their WebAssembly compiled on first use (once per worker). */
export function codecs(): Promise<Codecs> {
  ready ??= load();
  return ready;
}
