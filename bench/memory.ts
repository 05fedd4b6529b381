/**
 * Part 4: peak memory of the gateway under load, each scenario in a gateway process of its own so
 * that its VmHWM (peak resident set, `/proc/<pid>/status`) is the scenario's alone.
 *
 * - **Mixed:** 64 clients download one 4 MB image (3 times each) while 16 generations of 4 MB
 *   images run at once.
 * - **Uncached:** 150 images of 7 MB are stored by one gateway; a second gateway on the same KV
 *   file (so nothing is in its memory cache) gets 150 anonymous requests at once, one per image.
 *
 * @module
 */
import type { FakeSiliconFlow } from "../tests/_support/fake_siliconflow.ts";
import { randomPng } from "../tests/_support/images.ts";
import { GatewayProcess } from "./gateway.ts";
import { type Endpoints, generateViaGateway } from "./latency.ts";
import { sampleMemory } from "./proc.ts";

export interface MemoryScenario {
  name: string;
  imageBytes: number;
  /** Peak resident set of the gateway process that served the scenario. */
  peakBytes: number;
  /** Sampled peaks of its anonymous and file-backed parts. */
  peakAnonBytes: number;
  peakFileBytes: number;
  /** Resident set of that gateway when it had started, before the scenario. */
  idleBytes: number;
  targetBytes: number;
  pass: boolean;
  durationMs: number;
  /** Requests that failed or answered short; a scenario with failures proves nothing. */
  failures: number;
}

const MB = 1024 * 1024;
export const MEMORY_TARGETS = { mixed: 200 * MB, uncached: 300 * MB };
/** Random RGB pixels do not compress: side² × 3 bytes, plus a little. */
const side = (bytes: number) => Math.round(Math.sqrt(bytes / 3));

/** Downloads `url` to the end; returns the bytes received, or -1 on failure. */
async function download(url: string): Promise<number> {
  try {
    const res = await fetch(url);
    if (!res.ok) {
      await res.body?.cancel();
      return -1;
    }
    let bytes = 0;
    for await (const part of res.body!) bytes += part.length;
    return bytes;
  } catch {
    return -1;
  }
}

interface Context {
  fake: FakeSiliconFlow;
  endpoints: Omit<Endpoints, "gatewayUrl">;
  dir: string;
}

async function withGateway<T>(
  ctx: Context,
  kvFile: string,
  fn: (gateway: GatewayProcess, e: Endpoints) => Promise<T>,
): Promise<T> {
  await using gateway = await GatewayProcess.start({
    upstreamBaseUrl: ctx.endpoints.upstreamUrl,
    upstreamKey: ctx.endpoints.upstreamKey,
    gatewayKey: ctx.endpoints.gatewayKey,
    dir: ctx.dir,
    kvFile,
  });
  return await fn(gateway, { ...ctx.endpoints, gatewayUrl: gateway.url });
}

/** 64 downloads of one 4 MB image (3 rounds each) during 16 simultaneous 4 MB generations. */
export async function mixedScenario(ctx: Context): Promise<MemoryScenario> {
  const image = randomPng(side(4 * MB), side(4 * MB));
  ctx.fake.options.image = () => image;
  ctx.fake.options.delayMs = 0;
  return await withGateway(ctx, "mixed.kv", async (gateway, e) => {
    const idleBytes = (await gateway.memory())?.vmRSS ?? NaN;
    const { url } = await generateViaGateway(e);
    const sampler = sampleMemory(gateway.pid);
    const started = performance.now();
    const clients = Array.from({ length: 64 }, async () => {
      let failures = 0;
      for (let round = 0; round < 3; round++) {
        if (await download(url) !== image.length) failures++;
      }
      return failures;
    });
    const generations = Array.from(
      { length: 16 },
      () => generateViaGateway(e).then((r) => (r.storage === "kv" ? 0 : 1), () => 1),
    );
    const failures = (await Promise.all([...clients, ...generations])).reduce((a, b) => a + b, 0);
    const durationMs = performance.now() - started;
    const peaks = await sampler.stop();
    const peakBytes = (await gateway.memory())?.vmHWM ?? NaN;
    return {
      name: "64 downloads of a 4 MB image during 16 generations of 4 MB images",
      imageBytes: image.length,
      peakBytes,
      peakAnonBytes: peaks.rssAnon,
      peakFileBytes: peaks.rssFile,
      idleBytes,
      targetBytes: MEMORY_TARGETS.mixed,
      pass: peakBytes <= MEMORY_TARGETS.mixed && failures === 0,
      durationMs,
      failures,
    };
  });
}

/** 150 anonymous clients at once, each fetching a different uncached 7 MB image. */
export async function uncachedScenario(ctx: Context): Promise<MemoryScenario> {
  const image = randomPng(side(7 * MB), side(7 * MB));
  ctx.fake.options.image = () => image;
  ctx.fake.options.delayMs = 0;
  const links = await withGateway(ctx, "uncached.kv", async (_gateway, e) => {
    const urls: string[] = [];
    // Stored a few at a time: this gateway is only the setup.
    for (let i = 0; i < 150; i += 5) {
      const batch = await Promise.all(Array.from({ length: 5 }, () => generateViaGateway(e)));
      urls.push(...batch.map((r) => r.url));
    }
    return urls.map((url) => new URL(url).pathname);
  });
  return await withGateway(ctx, "uncached.kv", async (gateway) => {
    const idleBytes = (await gateway.memory())?.vmRSS ?? NaN;
    const sampler = sampleMemory(gateway.pid);
    const started = performance.now();
    const sizes = await Promise.all(links.map((path) => download(`${gateway.url}${path}`)));
    const durationMs = performance.now() - started;
    const peaks = await sampler.stop();
    const failures = sizes.filter((n) => n !== image.length).length;
    const peakBytes = (await gateway.memory())?.vmHWM ?? NaN;
    return {
      name: "150 anonymous clients fetch uncached 7 MB images at once",
      imageBytes: image.length,
      peakBytes,
      peakAnonBytes: peaks.rssAnon,
      peakFileBytes: peaks.rssFile,
      idleBytes,
      targetBytes: MEMORY_TARGETS.uncached,
      pass: peakBytes <= MEMORY_TARGETS.uncached && failures === 0,
      durationMs,
      failures,
    };
  });
}
