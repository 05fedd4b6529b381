/**
 * One conversion run as a child process under the gateway's own permissions, to show where the
 * codecs' WebAssembly comes from: `direct` converts on the main thread (the `.wasm` imported as
 * bytes, nothing read from the npm cache: `-R=./data,.env` is enough); `pool` converts in a
 * worker, whose modules Deno loads only with read access to them (`./lib` added). Prints the
 * output's type and size as JSON.
 *
 * @module
 */
import { convert } from "../../lib/variants/convert.ts";
import { imageHeader } from "../../lib/image_header.ts";
import { ConversionPool } from "../../lib/variants/worker_pool.ts";
import { gradientPng } from "./gradient.ts";

const png = await gradientPng(320, 240);
const job = { format: "webp", width: 128, quality: 80 } as const;
let bytes: ArrayBuffer;
if (Deno.args[0] === "pool") {
  const pool = new ConversionPool({ workers: 1, queue: 1, maxPixels: 40e6, timeoutMs: 30_000 });
  try {
    bytes = (await pool.convert(png, job)).bytes;
  } finally {
    pool.dispose();
  }
} else {
  bytes = (await convert(png.buffer, { ...job, maxPixels: 40e6 })).bytes;
}
console.log(JSON.stringify(imageHeader(new Uint8Array(bytes))));
