/**
 * The WebAssembly codecs (the @jsquash family, Squoosh's codecs built for the web), loaded so that
 * they work under the gateway's own permissions (`-R=./data,.env`) and on Deno Deploy.
 *
 * Each codec's `.wasm` is imported as bytes (`with { type: "bytes" }`, Deno's `raw-imports`), so it
 * travels in the module graph like code: nothing is read or fetched from the npm cache at run time,
 * which the gateway's read permission does not cover and which Deploy does not have. The bytes are
 * compiled when the codec is first used and handed to its `init(module)`.
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

// The typings want the DOM's ImageData; the codecs only read `data`, `width` and `height`.
// deno-lint-ignore no-explicit-any
const asImage = (pixels: Pixels) => pixels as any;
const asPixels = (image: ImageData) => image as unknown as Pixels;

/** `start` run once, on the first call; every call gets its promise. */
function once<T>(start: () => Promise<T>): () => Promise<T> {
  let started: Promise<T> | undefined;
  return () => started ??= start();
}

/**
 * A codec call whose WebAssembly is compiled and instantiated (`ready`) on its first call, so a
 * worker holds only the codecs of the conversions it ran: each instance's memory grows to its
 * largest image and never shrinks, and a worker runs one conversion (`worker_pool.ts`), which needs
 * two or three of them.
 */
function lazy<A extends unknown[], R>(
  ready: () => Promise<unknown>,
  call: (...args: A) => Promise<R>,
): (...args: A) => Promise<R> {
  const instantiated = once(ready);
  return async (...args) => {
    await instantiated();
    return call(...args);
  };
}

/**
 * Compiled modules by codec. Compiling is most of a fresh worker's start (AVIF's encoder alone is
 * hundreds of milliseconds), while a compiled `WebAssembly.Module` crosses `postMessage` and
 * instantiates in microseconds: so a worker hands what it compiled back to the pool, and the pool
 * gives every later worker all of them (`convert_worker.ts`).
 */
export type CompiledCodecs = Record<string, WebAssembly.Module>;
const compiled: CompiledCodecs = {};
/** How many modules this worker compiled itself, rather than being given them. */
let compilations = 0;

/** Modules compiled by earlier workers, so this one instantiates instead of compiling. */
export function adoptCompiled(modules: CompiledCodecs): void {
  Object.assign(compiled, modules);
}

/** Every module this worker compiled or was given, and how many it compiled itself. */
export function compiledCodecs(): { modules: CompiledCodecs; compilations: number } {
  return { modules: { ...compiled }, compilations };
}

/** The codec's module: given by the pool, or compiled here. */
async function compile(name: string, wasm: Uint8Array<ArrayBuffer>) {
  if (!compiled[name]) {
    compiled[name] = await WebAssembly.compile(wasm);
    compilations++;
  }
  return compiled[name];
}

// AVIF's encoder is the single-threaded build: its threaded one starts workers of its own from
// files, and the pool already keeps every CPU busy.
const CODECS: Codecs = {
  decodePng: lazy(
    () => compile("png", pngWasm).then(pngDecInit),
    (b) => pngDecode(b).then(asPixels),
  ),
  encodePng: lazy(() => compile("png", pngWasm).then(pngEncInit), (p) => pngEncode(asImage(p))),
  decodeJpeg: lazy(
    () => compile("jpegDec", jpegDecWasm).then(jpegDecInit),
    (b) => jpegDecode(b).then(asPixels),
  ),
  decodeWebp: lazy(
    () => compile("webpDec", webpDecWasm).then(webpDecInit),
    (b) => webpDecode(b).then(asPixels),
  ),
  encodeJpeg: lazy(
    () => compile("jpegEnc", jpegEncWasm).then(jpegEncInit),
    (p, quality) => jpegEncode(asImage(p), { quality }),
  ),
  encodeWebp: lazy(
    () => compile("webpEnc", webpEncWasm).then(webpEncInit),
    (p, quality) => webpEncode(asImage(p), { quality }),
  ),
  encodeAvif: lazy(
    () => compile("avifEnc", avifEncWasm).then(avifEncInit),
    (p, quality) => avifEncode(asImage(p), { quality }),
  ),
  // Lanczos3 in linear light, as Squoosh resizes photographs.
  resize: lazy(
    () => compile("resize", resizeWasm).then(initResize),
    (p, width, height) =>
      resize(asImage(p), { width, height, method: "lanczos3", linearRGB: true }).then(asPixels),
  ),
};

/** The codecs; each compiles and instantiates its WebAssembly on its first call. */
export function codecs(): Promise<Codecs> {
  return Promise.resolve(CODECS);
}
