/**
 * Part 5 of `deno task bench`: image variants (issue 16) through the real gateway process, on
 * photographs (random pixels do not compress). Three photographs of Debian's `mate-backgrounds`
 * (installed with apt-get when missing, never committed; `codecs.ts` cuts them to 1024 and 1328 px
 * PNGs) are what the fake SiliconFlow answers; the gateway stores them and is asked for
 * `/i/{id}.webp`, `.avif`, `.jpg` and `.webp?w=256`. Measured:
 *
 * 1. **Bytes per view** of each against the PNG (`/i/{id}.png`, the original).
 * 2. **Fidelity**: SSIM (`ssim.js`) of the served bytes, decoded, against the original's pixels;
 *    the 256 px WebP against a lossless resize of them.
 * 3. **Conversion time**: the first GET of each view (the one that converts and stores it), one at
 *    a time, with `VARIANT_WORKERS=1` after a warm-up conversion of each format (the very first,
 *    which starts the worker and compiles the codecs, is reported apart); per megapixel of input.
 * 4. **Isolation**: in a fresh gateway (default pool, `VARIANT_QUEUE=32`), p99 of `/health` and of
 *    a cached `/i/{id}.png` while 16 conversions of 1328 px images (16 distinct variants) run at
 *    once, and the gateway's peak RSS (VmHWM; its Web Workers are threads of the same process).
 *
 * Alone: `deno run -A --config tests/deno.jsonc bench/variants.ts`, which adds its figures to `bench/out/latest.json` under
 * `variants`; `run.ts` calls {@link runVariants} after its part 4.
 *
 * @module
 */
import { ssim } from "ssim.js";
import { codecs } from "../lib/variants/codecs.ts";
import { FakeSiliconFlow } from "../tests/_support/fake_siliconflow.ts";
import { writeChart } from "./chart.ts";
import { readLatest, writeLatest } from "./latest.ts";
import { decode, ensurePhotos, testImages } from "./codecs.ts";
import { cpuBusyShare } from "./proc.ts";
import { firstViews, isolation, type VariantsContext, VIEWS } from "./variants_gateway.ts";
import {
  print,
  printIsolation,
  printViews,
  summarizeIsolation,
  summarizeViews,
  VARIANT_GOALS,
  type ViewRow,
} from "./variants_report.ts";

const CONCURRENT_CONVERSIONS = 16;

type TestImage = Awaited<ReturnType<typeof testImages>>[number];

/** Parts 1–3: the first GET of each view of each photograph, then its bytes and SSIM. */
async function measureViews(ctx: VariantsContext, images: TestImage[]) {
  const first = await firstViews(ctx, images);
  const c = await codecs();
  const rows: ViewRow[] = [];
  // The SSIMs are computed after every timed request, so they never compete with one.
  for (const { image: label, view: name, fetched } of first.views) {
    const i = images.findIndex((image) => image.label === label);
    const { pixels } = images[i];
    const png = first.pngs[i];
    if (png.status !== 200) throw new Error(`${label}: /i/{id}.png answered ${png.status}`);
    const view = VIEWS.find((v) => v.name === name)!;
    let score = NaN;
    if (fetched.status === 200) {
      const decoded = await decode(view.format, fetched.bytes);
      const reference = view.format === "thumb"
        ? await c.resize(pixels, decoded.width, decoded.height)
        : pixels;
      score = ssim(reference, decoded).mssim;
    }
    const megapixels = pixels.width * pixels.height / 1e6;
    rows.push({
      image: label,
      side: pixels.width,
      view: name,
      status: fetched.status,
      contentType: fetched.type,
      bytes: fetched.bytes.length,
      pngBytes: png.bytes.length,
      percentOfPng: 100 * fetched.bytes.length / png.bytes.length,
      ssim: score,
      firstGetMs: fetched.ms,
      msPerMegapixel: fetched.ms / megapixels,
    });
  }
  return { rows, first };
}

/**
 * Runs parts 1–4 of the variants bench against gateways it starts; prints a report and returns
 * its figures (or the error that stopped it: a crash here does not lose the other parts).
 */
export async function runVariants(ctx: VariantsContext) {
  print("5. Image variants (issue 16): bytes, fidelity, speed, isolation");
  try {
    await ensurePhotos();
    const images = await testImages();
    const { rows, first } = await measureViews(ctx, images);
    const summary = summarizeViews(rows);
    const passes = printViews(summary, rows, first);
    const big = images.filter((image) => image.pixels.width === 1328).map((image) => image.png);
    const probe = images.find((image) => image.pixels.width === 1024)!.png;
    const run = await isolation(ctx, big, probe, CONCURRENT_CONVERSIONS);
    const isolated = summarizeIsolation(run);
    printIsolation(isolated);
    print();
    return {
      goals: VARIANT_GOALS,
      coldFirstConversionMs: first.coldMs,
      oneWorkerMemory: { beforeConversions: first.idle ?? null, atEnd: first.end ?? null },
      summary,
      passes,
      rows,
      isolation: isolated,
    };
  } catch (err) {
    const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
    print(`   FAILED: ${message}`);
    print();
    return { error: message };
  }
}

async function main(): Promise<number> {
  const startedAt = new Date();
  const cpuBusyBefore = await cpuBusyShare();
  const upstreamKey = "sk-upstream-1";
  const dir = await Deno.makeTempDir({ prefix: "sf-image-gateway-variants-" });
  try {
    await using fake = new FakeSiliconFlow({ keys: [upstreamKey] });
    const busy = `${((cpuBusyBefore ?? 0) * 100).toFixed(0)}%`;
    print(
      `sf-image-gateway variants bench, ${startedAt.toISOString()}, deno ${Deno.version.deno}, ` +
        `${navigator.hardwareConcurrency} CPUs, ${busy} of them busy with other work before`,
    );
    print();
    const endpoints = {
      gatewayKey: "bench-key-0123456789",
      upstreamUrl: fake.baseUrl,
      upstreamKey,
    };
    const variants = await runVariants({ fake, endpoints, dir });
    const path = await writeLatest({
      ...await readLatest(),
      variants: {
        startedAt: startedAt.toISOString(),
        cpuBusyBefore,
        ...variants,
      },
    });
    print(`numbers added to ${path} (under "variants")`);
    print(`chart drawn to ${await writeChart(new URL("../", import.meta.url))}`);
    return "error" in variants ? 1 : 0;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  Deno.exitCode = await main();
}
