/**
 * Benchmark of sf-image-gateway on loopback, run with `deno task bench`. It starts the real
 * gateway (`deno run -A main.ts`) as a child process against a fake SiliconFlow running in this
 * process, which always returns the same incompressible ~1 MB PNG, and measures:
 *
 * 1. **Generation latency, url mode.** Sequential `POST /v1/images/generations` through the
 *    gateway (which calls the fake, downloads the image and stores it in KV before answering)
 *    against the baseline a client has without the gateway: call the fake directly, then download
 *    the image it links to. Once with the fake taking 1 s per generation, once answering at once.
 *    Median and p90 (nearest rank) of each; targets on the median ratio gateway/direct.
 * 2. **Serving `/i/:id`.** wrk with 32 connections against nginx (started here with a generated
 *    config, one worker like the gateway's one JS thread, `sendfile on`) serving the image's bytes
 *    from disk, against the "deno floor" (`deno_floor_server.ts`: plain `Deno.serve` in its own
 *    process answering the same bytes from memory with the gateway's headers and body slicing),
 *    and against a link made by the gateway. Targets on the gateway's requests/s and p99 latency
 *    relative to nginx; the ratios to the deno floor are informational. If nginx or wrk is
 *    missing it is installed with apt-get; if that fails this part is skipped.
 * 3. **Gateway memory.** VmHWM (peak resident set) from `/proc/<pid>/status` after the run.
 * 4. **Memory under load** (`memory.ts`): peak memory of a fresh gateway while 64 clients download
 *    a 4 MB image during 16 generations of 4 MB images, and of a gateway with a cold cache while
 *    150 anonymous clients fetch uncached 7 MB images at once.
 * 5. **Image variants** (`variants.ts`, issue 16): bytes, SSIM and first-request conversion time of
 *    WebP, AVIF, JPEG and a 256 px WebP of photographs, and `/health` and cached `/i/` p99 and peak
 *    memory while 16 conversions run.
 *
 * `BENCH_GATEWAY_ROOT=<checkout>` runs another checkout's `main.ts` (a baseline) under the same
 * bench.
 *
 * Targets print PASS or MISS; a miss does not fail the run (exit 1 means something crashed). The
 * numbers are also written to `bench/out/latest.json`.
 *
 * @module
 */
import { FakeSiliconFlow } from "../tests/_support/fake_siliconflow.ts";
import { randomPng } from "../tests/_support/images.ts";
import { FLOOR_SLICE_BYTES } from "./deno_floor.ts";
import { GATEWAY_ROOT, GatewayProcess } from "./gateway.ts";
import {
  type Endpoints,
  generateViaGateway,
  measureScenario,
  type ScenarioResult,
} from "./latency.ts";
import { type MemoryScenario, mixedScenario, uncachedScenario } from "./memory.ts";
import { cpuBusyShare, ensureBinaries, lastLines, type ProcessMemory } from "./proc.ts";
import { measureServing, type ServingResult } from "./serving.ts";
import { formatBytes, formatMs, formatRatio, type Summary, verdict } from "./stats.ts";
import { runVariants } from "./variants.ts";
import { wrkCommand, type WrkResult } from "./wrk.ts";

const GATEWAY_KEY = "bench-key-0123456789";
const UPSTREAM_KEY = "sk-upstream-1";
/** 580×580 random RGB pixels: a PNG of about 1 MB that does not compress. */
const IMAGE_SIDE = 580;

const SCENARIOS = [
  { delayMs: 1000, samples: 10, warmup: 1, maxRatio: 1.02 },
  { delayMs: 0, samples: 200, warmup: 20, maxRatio: 1.35 },
];
const LOAD = { threads: 2, connections: 32, durationS: 10 };
const LOAD_WARMUP_S = 2;
const NGINX_WORKERS = 1;
const SERVING_TARGETS = { minThroughputRatio: 0.7, maxP99Ratio: 2 };
/** Other work using this share of the CPUs before the run makes its numbers unreliable. */
const BUSY_SHARE = 0.1;

interface GenerationReport extends ScenarioResult {
  delayMs: number;
  target: { maxRatio: number; pass: boolean };
}

type ServingReport =
  | ServingResult & {
    command: string;
    warmupS: number;
    targets: typeof SERVING_TARGETS & { throughputPass: boolean; p99Pass: boolean };
  }
  | { skipped: string }
  | { error: string };

const print = (line = "") => console.log(line);

function summaryRow(label: string, s: Summary): string {
  const cells = [s.median, s.p90, s.min, s.max].map((ms) => formatMs(ms).padStart(10));
  return `     ${label.padEnd(9)}${cells.join("")}`;
}

async function runGeneration(fake: FakeSiliconFlow, e: Endpoints): Promise<GenerationReport[]> {
  print("1. Generation latency, url mode (sequential requests)");
  print("   gateway = POST /v1/images/generations, answered once the image is stored in KV");
  print("   direct  = POST to the fake SiliconFlow, then download the image URL it returns");
  const reports: GenerationReport[] = [];
  for (const s of SCENARIOS) {
    fake.options.delayMs = s.delayMs;
    const result = await measureScenario(e, s);
    const pass = result.ratio <= s.maxRatio;
    reports.push({ ...result, delayMs: s.delayMs, target: { maxRatio: s.maxRatio, pass } });
    print();
    print(`   fake delay ${s.delayMs} ms: ${s.samples} samples each after ${s.warmup} warm-up`);
    print(
      `     ${"".padEnd(9)}${["median", "p90", "min", "max"].map((h) => h.padStart(10)).join("")}`,
    );
    print(summaryRow("gateway", result.gateway));
    print(summaryRow("direct", result.direct));
    print(
      `     ratio gateway/direct (median) ${formatRatio(result.ratio)}` +
        `   target ≤ ${s.maxRatio}×   ${verdict(pass)}`,
    );
    if (result.notStored > 0) {
      print(`     warning: ${result.notStored} gateway answers were not stored in KV`);
    }
  }
  print();
  return reports;
}

/**
 * The 0 ms scenario again against a gateway whose KV is in memory: not a deployable setting, but
 * it shows the gateway's own overhead apart from the cost of a durable KV commit.
 */
async function runGenerationInMemory(
  fake: FakeSiliconFlow,
  e: Endpoints,
  dir: string,
): Promise<ScenarioResult> {
  fake.options.delayMs = 0;
  await using gateway = await GatewayProcess.start({
    upstreamBaseUrl: e.upstreamUrl,
    upstreamKey: e.upstreamKey,
    gatewayKey: e.gatewayKey,
    dir,
    env: { KV_PATH: ":memory:" },
  });
  const result = await measureScenario({ ...e, gatewayUrl: gateway.url }, {
    samples: 200,
    warmup: 20,
  });
  print("   fake delay 0 ms, gateway KV in memory (informational: no durable commit)");
  print(summaryRow("gateway", result.gateway));
  print(summaryRow("direct", result.direct));
  print(`     ratio gateway/direct (median) ${formatRatio(result.ratio)}`);
  print();
  return result;
}

/** Width of the label column of the serving table ("deno floor" and a gap). */
const SERVING_LABEL = 12;

function wrkRow(label: string, r: WrkResult): string {
  const l = r.latencyMs;
  const cells = [
    r.requestsPerSec.toFixed(0).padStart(9),
    `${formatBytes(r.transferPerSec)}/s`.padStart(13),
    ...[l.p50, l.p90, l.p99].map((ms) => formatMs(ms).padStart(10)),
  ];
  return `     ${label.padEnd(SERVING_LABEL)}${cells.join("")}`;
}

async function runServing(
  gatewayLink: string,
  image: Uint8Array,
  dir: string,
): Promise<ServingReport> {
  print(`2. /i/:id serving, ${formatBytes(image.length)} image, ${LOAD.connections} connections`);
  const tools = await ensureBinaries({ nginx: "nginx", wrk: "wrk" }, (l) => print(`   ${l}`));
  const missing = ["nginx", "wrk"].filter((name) => !tools.has(name));
  if (missing.length > 0) {
    const reason = `${missing.join(" and ")} unavailable (apt-get install failed)`;
    print(`   SKIPPED: ${reason}`);
    print();
    return { skipped: reason };
  }
  try {
    const r = await measureServing({
      wrk: tools.get("wrk")!,
      nginx: tools.get("nginx")!,
      gatewayLink,
      image,
      dir,
      nginxWorkers: NGINX_WORKERS,
      load: LOAD,
      warmupS: LOAD_WARMUP_S,
    });
    const throughputPass = r.throughputRatio >= SERVING_TARGETS.minThroughputRatio;
    const p99Pass = r.p99Ratio <= SERVING_TARGETS.maxP99Ratio;
    print(`   ${wrkCommand(LOAD)}, after a ${LOAD_WARMUP_S} s warm-up run each`);
    print(
      `   nginx ${r.nginx.version}, same bytes from disk, worker_processes ${r.nginx.workers}` +
        " (the gateway runs one JS thread);",
    );
    print(`   ${r.nginx.settings}`);
    print(
      "   deno floor: plain Deno.serve in its own process, same bytes from memory, the gateway's",
    );
    print(
      `   headers, bodies over ${FLOOR_SLICE_BYTES / 1024} KiB streamed in ` +
        `${FLOOR_SLICE_BYTES / 1024} KiB slices like the gateway's cached path`,
    );
    print();
    const heads = ["req/s", "transfer/s", "p50", "p90", "p99"];
    const widths = [9, 13, 10, 10, 10];
    print(
      `     ${"".padEnd(SERVING_LABEL)}${heads.map((h, i) => h.padStart(widths[i])).join("")}`,
    );
    print(wrkRow("nginx", r.nginx.wrk));
    print(wrkRow("deno floor", r.denoFloor.wrk));
    print(wrkRow("gateway", r.gateway.wrk));
    const ratioLine = (label: string, ratio: number, note: string) =>
      print(`     ${label.padEnd(32)}${formatRatio(ratio).padStart(7)}   ${note}`);
    ratioLine(
      "throughput gateway/nginx",
      r.throughputRatio,
      `target ≥ ${SERVING_TARGETS.minThroughputRatio}×   ${verdict(throughputPass)}`,
    );
    ratioLine(
      "p99 gateway/nginx",
      r.p99Ratio,
      `target ≤ ${SERVING_TARGETS.maxP99Ratio}×     ${verdict(p99Pass)}`,
    );
    ratioLine(
      "throughput gateway/deno floor",
      r.floorThroughputRatio,
      "(informational, no target)",
    );
    ratioLine("p99 gateway/deno floor", r.floorP99Ratio, "(informational, no target)");
    print();
    return {
      ...r,
      command: wrkCommand(LOAD),
      warmupS: LOAD_WARMUP_S,
      targets: { ...SERVING_TARGETS, throughputPass, p99Pass },
    };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    print(`   FAILED: ${message}`);
    print();
    return { error: message };
  }
}

function printMemory(pid: number, afterGeneration?: ProcessMemory, atEnd?: ProcessMemory) {
  print(`3. Gateway memory (/proc/${pid}/status)`);
  if (!atEnd) {
    print("   unavailable: the gateway process is gone");
    return;
  }
  if (afterGeneration) {
    print(`   VmHWM after part 1            ${formatBytes(afterGeneration.vmHWM)}`);
  }
  print(`   VmHWM after the whole run     ${formatBytes(atEnd.vmHWM)}   (peak resident set)`);
  print(`   VmRSS at the end              ${formatBytes(atEnd.vmRSS)}`);
  print();
}

async function runMemory(
  ctx: Parameters<typeof mixedScenario>[0],
): Promise<MemoryScenario[] | { error: string }> {
  print("4. Memory under load (a fresh gateway process per scenario, peak VmHWM)");
  try {
    const results = [await mixedScenario(ctx), await uncachedScenario(ctx)];
    for (const r of results) {
      print(`   ${r.name}`);
      print(
        `     peak ${formatBytes(r.peakBytes)}   target ≤ ${formatBytes(r.targetBytes)}   ` +
          `${verdict(r.pass)}   (${formatMs(r.durationMs)}, ${r.failures} failed requests)`,
      );
    }
    print();
    return results;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    print(`   FAILED: ${message}`);
    print();
    return { error: message };
  }
}

async function writeJson(report: unknown): Promise<string> {
  const dir = new URL("./out/", import.meta.url);
  await Deno.mkdir(dir, { recursive: true });
  const file = new URL("latest.json", dir);
  const rounded = (_: string, v: unknown) =>
    typeof v === "number" && !Number.isInteger(v) ? Math.round(v * 1000) / 1000 : v;
  await Deno.writeTextFile(file, JSON.stringify(report, rounded, 2) + "\n");
  return file.pathname;
}

async function main(): Promise<number> {
  const startedAt = new Date();
  const image = randomPng(IMAGE_SIDE, IMAGE_SIDE);
  const dir = await Deno.makeTempDir({ prefix: "sf-image-gateway-bench-" });
  // Share of all CPUs busy during a second before anything starts: other work skews results.
  const cpuBusyBefore = await cpuBusyShare();
  try {
    await using fake = new FakeSiliconFlow({ keys: [UPSTREAM_KEY], image: () => image });
    await using gateway = await GatewayProcess.start({
      upstreamBaseUrl: fake.baseUrl,
      upstreamKey: UPSTREAM_KEY,
      gatewayKey: GATEWAY_KEY,
      dir,
    });
    const endpoints: Endpoints = {
      gatewayUrl: gateway.url,
      gatewayKey: GATEWAY_KEY,
      upstreamUrl: fake.baseUrl,
      upstreamKey: UPSTREAM_KEY,
    };
    const machine = {
      deno: Deno.version.deno,
      os: `${Deno.build.os} ${Deno.osRelease()} ${Deno.build.arch}`,
      cpus: navigator.hardwareConcurrency,
      cpuBusyBefore,
    };
    print(`sf-image-gateway benchmark, ${startedAt.toISOString()}, gateway from ${GATEWAY_ROOT}`);
    print(`deno ${machine.deno}, ${machine.os}, ${machine.cpus} CPUs; all traffic on 127.0.0.1`);
    const busy = machine.cpuBusyBefore ?? 0;
    print(
      `CPUs busy with other work just before the run: ${(busy * 100).toFixed(0)}%` +
        (busy >= BUSY_SHARE ? "  (expect noisy numbers)" : ""),
    );
    print(
      `image: ${image.length}-byte PNG (${IMAGE_SIDE}×${IMAGE_SIDE} random pixels); ` +
        `gateway pid ${gateway.pid} at ${gateway.url}`,
    );
    print();

    const generation = await runGeneration(fake, endpoints);
    const memoryAfterGeneration = await gateway.memory();
    const generationInMemoryKv = await runGenerationInMemory(fake, endpoints, dir);

    fake.options.delayMs = 0;
    const link = await generateViaGateway(endpoints);
    const serving: ServingReport = await runServing(link.url, image, dir);

    const memoryAtEnd = await gateway.memory();
    printMemory(gateway.pid, memoryAfterGeneration, memoryAtEnd);
    if (gateway.exited) {
      print(`gateway exited early; its stderr:\n${lastLines(gateway.stderr(), 20)}`);
    }
    const underLoad = await runMemory({ fake, endpoints, dir });
    const variants = await runVariants({ fake, endpoints, dir });

    const path = await writeJson({
      startedAt: startedAt.toISOString(),
      durationS: Math.round((Date.now() - startedAt.getTime()) / 100) / 10,
      machine,
      imageBytes: image.length,
      generation,
      generationInMemoryKv,
      serving,
      memory: { afterGeneration: memoryAfterGeneration ?? null, atEnd: memoryAtEnd ?? null },
      underLoad,
      variants,
      gatewayRoot: GATEWAY_ROOT,
    });
    print(`numbers written to ${path}`);
    const failed = "error" in serving || "error" in underLoad || "error" in variants;
    return failed || gateway.exited ? 1 : 0;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  try {
    Deno.exitCode = await main();
  } catch (err) {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    Deno.exitCode = 1;
  }
}
