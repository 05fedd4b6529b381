/**
 * Chooses the image variants' codecs by measurement (issue 16); not run by CI.
 *
 * Takes three photographs of Debian's `mate-backgrounds` (GPL-2+, installed with apt-get when
 * missing, never committed), cuts them to 1024×1024 and 1328×1328 PNGs (the sizes SiliconFlow's
 * models make), and measures each WebAssembly candidate that runs in Deno: the @jsquash family,
 * wasm-vips and @cf-wasm/photon. For each: encode time per megapixel (median of 3 runs; AVIF's quality sweep, one run a photograph; one
 * thread), bytes
 * against the PNG, SSIM against the original at the same size (`ssim.js`), for WebP q80, AVIF (the
 * lowest quality whose SSIM reaches WebP q80's), JPEG q85 and a 256 px WebP thumbnail; each
 * candidate's peak RSS in a process of its own; what it adds to the Deno cache; and the memory one
 * conversion of the chosen codecs takes (1328 and 2048 px PNGs, an 18 MP JPEG), each in a fresh
 * process.
 *
 * `deno run -A --no-lock --config tests/deno.jsonc bench/codecs.ts` (the tests' configuration, for
 * `ssim.js`) prints a table and writes `bench/out/codecs.json`;
 * `… bench/codecs.ts memory` measures the memory cases alone, into that file.
 *
 * @module
 */
import { ssim } from "ssim.js";
import { codecs, type Pixels } from "../lib/variants/codecs.ts";
import avifDecode from "@jsquash/avif/decode.js";
import { convert } from "../lib/variants/convert.ts";
import { imageHeader } from "../lib/image_header.ts";
import { runQuiet } from "./proc.ts";

const TESTS_CONFIG = new URL("../tests/deno.jsonc", import.meta.url).pathname;
const PHOTO_DIR = "/usr/share/backgrounds/mate/nature";
const PHOTOS = ["Garden.jpg", "Dune.jpg", "LadyBird.jpg"];
const SIZES = [1024, 1328];
const AVIF_QUALITIES = [45, 50, 55, 60, 65];
const RUNS = 3;

/** An output of the comparison: each format at its defaults, and the 256 px WebP thumbnail. */
export type Format = "webp" | "avif" | "jpeg" | "thumb";

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** One candidate's encoders: PNG bytes in, encoded bytes out; `undefined` where it has none. */
interface Candidate {
  name: string;
  packages: string[];
  encode: Record<Format, ((png: Uint8Array, quality: number) => Promise<Uint8Array>) | undefined>;
}

/** Installs `mate-backgrounds` with apt-get when its photographs are missing. */
export async function ensurePhotos(): Promise<void> {
  try {
    await Deno.stat(`${PHOTO_DIR}/${PHOTOS[0]}`);
  } catch {
    console.error("mate-backgrounds missing: apt-get install -y mate-backgrounds");
    const env = { DEBIAN_FRONTEND: "noninteractive" };
    await runQuiet("apt-get", ["update"], env);
    const done = await runQuiet("apt-get", ["install", "-y", "mate-backgrounds"], env);
    if (!done.ok) throw new Error(`apt-get failed:\n${done.output.slice(-800)}`);
  }
}

/** The photographs as square PNGs of each size, centre-cut, with their pixels. */
export async function testImages() {
  const c = await codecs();
  const out: { label: string; png: Uint8Array; pixels: Pixels }[] = [];
  for (const name of PHOTOS) {
    const photo = await c.decodeJpeg(Deno.readFileSync(`${PHOTO_DIR}/${name}`).buffer);
    const side = Math.min(photo.width, photo.height);
    const cut = crop(photo, (photo.width - side) >> 1, (photo.height - side) >> 1, side);
    for (const size of SIZES) {
      const pixels = await c.resize(cut, size, size);
      const png = new Uint8Array(await c.encodePng(pixels));
      out.push({ label: `${name} ${size}`, png, pixels });
    }
  }
  return out;
}

function crop(p: Pixels, x: number, y: number, side: number): Pixels {
  const data = new Uint8ClampedArray(side * side * 4);
  for (let row = 0; row < side; row++) {
    const from = ((y + row) * p.width + x) * 4;
    data.set(p.data.subarray(from, from + side * 4), row * side * 4);
  }
  return { data, width: side, height: side };
}

/** Decodes any output back to pixels with the @jsquash decoders (the reference for SSIM). */
export async function decode(format: Format, bytes: Uint8Array): Promise<Pixels> {
  const c = await codecs();
  const buffer = bytes.slice().buffer;
  if (format === "avif") return (await avifDecode(buffer))! as unknown as Pixels;
  if (format === "jpeg") return c.decodeJpeg(buffer);
  return c.decodeWebp(buffer);
}

async function jsquash(): Promise<Candidate> {
  const c = await codecs();
  const pixels = (png: Uint8Array) => c.decodePng(png.slice().buffer);
  const bytes = (b: ArrayBuffer) => new Uint8Array(b);
  return {
    name: "@jsquash",
    packages: [
      "@jsquash/png",
      "@jsquash/webp",
      "@jsquash/avif",
      "@jsquash/jpeg",
      "@jsquash/resize",
    ],
    encode: {
      webp: async (png, q) => bytes(await c.encodeWebp(await pixels(png), q)),
      avif: async (png, q) => bytes(await c.encodeAvif(await pixels(png), q)),
      jpeg: async (png, q) => bytes(await c.encodeJpeg(await pixels(png), q)),
      thumb: async (png, q) => {
        const p = await pixels(png);
        return bytes(await c.encodeWebp(await c.resize(p, 256, 256 * p.height / p.width), q));
      },
    },
  };
}

/**
 * A candidate other than the chosen codecs, imported by a specifier the type checker does not
 * follow: `deno check` and the lock file of the gateway stay without them.
 */
// deno-lint-ignore no-explicit-any
function importUnchecked(specifier: string): Promise<any> {
  return import(specifier);
}

async function wasmVips(): Promise<Candidate> {
  const { default: Vips } = await importUnchecked("npm:wasm-vips@0.0.19");
  const vips = await Vips();
  vips.concurrency(1); // one thread, as one worker of the pool would have
  const write = (png: Uint8Array, ext: string, options: Record<string, unknown>) => {
    const image = vips.Image.newFromBuffer(png);
    try {
      return Promise.resolve(new Uint8Array(image.writeToBuffer(ext, options)));
    } finally {
      image.delete();
    }
  };
  return {
    name: "wasm-vips",
    packages: ["wasm-vips"],
    encode: {
      webp: (png, q) => write(png, ".webp", { Q: q }),
      avif: (png, q) => write(png, ".avif", { Q: q }),
      jpeg: (png, q) => write(png, ".jpg", { Q: q }),
      thumb: (png, q) => {
        const image = vips.Image.thumbnailBuffer(png, 256);
        try {
          return Promise.resolve(new Uint8Array(image.writeToBuffer(".webp", { Q: q })));
        } finally {
          image.delete();
        }
      },
    },
  };
}

async function photon(): Promise<Candidate> {
  const p = await importUnchecked("npm:@cf-wasm/photon@0.4.0");
  const withImage = (
    png: Uint8Array,
    // deno-lint-ignore no-explicit-any
    fn: (image: any) => Uint8Array,
  ) => {
    const image = p.PhotonImage.new_from_byteslice(png);
    try {
      return Promise.resolve(fn(image));
    } finally {
      image.free();
    }
  };
  return {
    name: "@cf-wasm/photon",
    packages: ["@cf-wasm/photon", "@cf-wasm/internals"],
    encode: {
      // Photon's WebP is lossless only (it takes no quality), and it has no AVIF encoder.
      webp: (png) => withImage(png, (image) => image.get_bytes_webp()),
      avif: undefined,
      jpeg: (png, q) => withImage(png, (image) => image.get_bytes_jpeg(q)),
      thumb: (png) =>
        withImage(png, (image) => {
          const small = p.resize(image, 256, 256 * image.get_height() / image.get_width(), 5);
          try {
            return small.get_bytes_webp();
          } finally {
            small.free();
          }
        }),
    },
  };
}

const CANDIDATES: Record<string, () => Promise<Candidate>> = {
  jsquash,
  "wasm-vips": wasmVips,
  photon,
};

/** Peak and current RSS of this process, in MiB, from /proc. */
function rss(): { peak: number; now: number } {
  const status = Deno.readTextFileSync("/proc/self/status");
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? 0);
  return { peak: kb("VmHWM") / 1024, now: kb("VmRSS") / 1024 };
}

async function timed(
  fn: () => Promise<Uint8Array>,
  runs: number,
): Promise<{ ms: number; out: Uint8Array }> {
  const times: number[] = [];
  let out: Uint8Array = new Uint8Array();
  for (let run = 0; run < runs; run++) {
    const started = performance.now();
    out = await fn();
    times.push(performance.now() - started);
  }
  return { ms: median(times), out };
}

/** One candidate measured in this process; printed as JSON for the parent. */
async function measure(name: string) {
  const images = await testImages();
  const before = rss().now;
  const candidate = await CANDIDATES[name]();
  const c = await codecs();
  const rows: Record<string, unknown>[] = [];
  const qualities: Record<Format, number[]> = {
    webp: [80],
    avif: AVIF_QUALITIES,
    jpeg: [85],
    thumb: [80],
  };
  for (const image of images) {
    const mp = image.pixels.width * image.pixels.height / 1e6;
    for (const format of ["webp", "avif", "jpeg", "thumb"] as const) {
      const encode = candidate.encode[format];
      if (!encode) continue;
      for (const quality of qualities[format]) {
        // AVIF takes seconds a picture: its quality sweep is timed once per photograph.
        const runs = format === "avif" ? 1 : RUNS;
        const { ms, out } = await timed(() => encode(image.png, quality), runs);
        const decoded = await decode(format, out);
        const reference = format === "thumb"
          ? await c.resize(image.pixels, decoded.width, decoded.height)
          : image.pixels;
        const score = ssim(reference, decoded).mssim;
        rows.push({
          image: image.label,
          format,
          quality,
          bytes: out.length,
          pngBytes: image.png.length,
          percentOfPng: 100 * out.length / image.png.length,
          ssim: score,
          msPerMegapixel: ms / mp,
          ms,
        });
      }
    }
  }
  const { peak } = rss();
  return { name, packages: candidate.packages, rows, rssBeforeMiB: before, peakRssMiB: peak };
}

/** MiB a package's versions take in the Deno npm cache. */
async function cacheMiB(pkg: string): Promise<number> {
  const home = Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`;
  const { ok, output } = await runQuiet("du", ["-sk", `${home}/npm/registry.npmjs.org/${pkg}`]);
  return ok ? Number(output.split(/\s/)[0]) / 1024 : NaN;
}

/**
 * Memory one conversion takes, in a fresh process: peak RSS less the RSS with the codecs loaded,
 * per megapixel decoded. What `VARIANT_MAX_MEGAPIXELS` is sized from.
 */
async function conversionMemory(spec: string) {
  const [file, format, width] = spec.split(",");
  const input = Deno.readFileSync(file);
  await codecs();
  const before = rss().now;
  const out = await convert(input.buffer, {
    format: format as "webp",
    width: width ? Number(width) : undefined,
    quality: 80,
    maxPixels: 100e6,
  });
  const header = imageHeader(input)!;
  const megapixels = header.width * header.height / 1e6;
  const extraMiB = rss().peak - before;
  return {
    spec,
    megapixels,
    outWidth: out.width,
    extraMiB,
    bytesPerPixel: (extraMiB * 1024 * 1024) / (megapixels * 1e6),
  };
}

const ELEPHANTS = "/usr/share/backgrounds/mate/abstract/Elephants_5640x3172.jpg"; // 17.9 MP

/** `file,format,width` cases: PNGs of 1328 and 2048 px made from Garden.jpg, and an 18 MP JPEG. */
async function memoryCases(): Promise<string[]> {
  const c = await codecs();
  const dir = await Deno.makeTempDir({ prefix: "codecs-bench-" });
  const photo = await c.decodeJpeg(Deno.readFileSync(`${PHOTO_DIR}/Garden.jpg`).buffer);
  for (const side of [1328, 2048]) {
    const png = await c.encodePng(await c.resize(photo, side, side));
    await Deno.writeFile(`${dir}/garden${side}.png`, new Uint8Array(png));
  }
  return [
    `${dir}/garden1328.png,webp,256`,
    `${dir}/garden1328.png,webp,1024`,
    `${dir}/garden1328.png,avif,1024`,
    `${dir}/garden1328.png,avif,`,
    `${dir}/garden2048.png,avif,1024`,
    `${ELEPHANTS},webp,`,
    `${ELEPHANTS},webp,1024`,
    `${ELEPHANTS},avif,1024`,
  ];
}

/** Each memory case in a fresh process. */
async function memoryRuns() {
  const memory = [];
  for (const spec of await memoryCases()) memory.push(await child(["memory", spec]));
  return memory;
}

async function child(args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    // `--no-lock`: the other candidates stay out of the lock files; the tests' config has `ssim.js`.
    args: [
      "run",
      "-A",
      "--no-lock",
      "--config",
      TESTS_CONFIG,
      new URL(import.meta.url).pathname,
      ...args,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) return undefined;
  return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
}

async function main() {
  const only = Deno.args[0];
  if (only === "memory" && Deno.args[1]) {
    console.log(JSON.stringify(await conversionMemory(Deno.args[1])));
    return;
  }
  const out = new URL("./out/codecs.json", import.meta.url);
  if (only === "memory") {
    // The memory cases alone, into the last recorded run.
    await ensurePhotos();
    const memory = await memoryRuns();
    const recorded = JSON.parse(await Deno.readTextFile(out).catch(() => "{}"));
    await Deno.writeTextFile(out, JSON.stringify({ ...recorded, memory }, null, 2));
    console.log(JSON.stringify(memory, null, 2));
    return;
  }
  if (only) {
    console.log(JSON.stringify(await measure(only)));
    return;
  }
  await ensurePhotos();
  const results = [];
  for (const name of Object.keys(CANDIDATES)) {
    console.error(`measuring ${name} …`);
    const result = await child([name]);
    if (!result) {
      results.push({ name, error: "the measuring process failed" });
      continue;
    }
    const weights = await Promise.all(result.packages.map(cacheMiB));
    results.push({ ...result, packageMiB: weights.reduce((a: number, b: number) => a + b, 0) });
  }
  const memory = await memoryRuns();
  await Deno.mkdir(new URL("./out/", import.meta.url), { recursive: true });
  const recorded = { recorded: new Date().toISOString(), deno: Deno.version.deno, results, memory };
  await Deno.writeTextFile(out, JSON.stringify(recorded, null, 2));
  console.log(JSON.stringify({ summary: summary(results), memory }, null, 2));
}

/** Per candidate and format: mean % of the PNG, mean and lowest SSIM, median ms per megapixel. */
// deno-lint-ignore no-explicit-any
export function summary(results: any[]) {
  const out: Record<string, unknown>[] = [];
  for (const result of results) {
    if (!result.rows) continue;
    const groups = Map.groupBy(
      // deno-lint-ignore no-explicit-any
      result.rows as any[],
      (row) => `${row.format} q${row.quality}`,
    );
    for (const [key, rows] of groups) {
      const mean = (f: (r: (typeof rows)[0]) => number) =>
        rows.reduce((s, r) => s + f(r), 0) / rows.length;
      out.push({
        candidate: result.name,
        encoding: key,
        percentOfPng: +mean((r) => r.percentOfPng).toFixed(2),
        ssim: +mean((r) => r.ssim).toFixed(4),
        minSsim: +Math.min(...rows.map((r) => r.ssim)).toFixed(4),
        msPerMegapixel: +median(rows.map((r) => r.msPerMegapixel)).toFixed(0),
        peakRssMiB: +result.peakRssMiB.toFixed(0),
        packageMiB: +result.packageMiB.toFixed(1),
      });
    }
  }
  return out;
}

if (import.meta.main) await main();
