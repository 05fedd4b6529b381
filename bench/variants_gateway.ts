/**
 * The gateway side of the variants bench (`variants.ts`): stores photographs through the real
 * gateway process and asks it for variants over HTTP, timing each first request (the one that
 * converts), and the isolation run (`/health` and a cached original probed while 16 conversions
 * run at once).
 *
 * @module
 */
import type { FakeSiliconFlow } from "../tests/_support/fake_siliconflow.ts";
import { GatewayProcess } from "./gateway.ts";
import { type Endpoints, MODEL } from "./latency.ts";
import { type ProcessMemory, sampleMemory } from "./proc.ts";

/** What the bench needs to start gateways against its fake SiliconFlow. */
export interface VariantsContext {
  fake: FakeSiliconFlow;
  endpoints: Omit<Endpoints, "gatewayUrl">;
  /** Directory for the gateways' KV files. */
  dir: string;
}

/** One view of an image: the link's tail after `/i/{id}`, and the format it serves. */
export interface View {
  name: "webp" | "avif" | "jpeg" | "webp256";
  tail: string;
  format: "webp" | "avif" | "jpeg" | "thumb";
}

/** Each format at its defaults, and the gallery's 256 px WebP card. */
export const VIEWS: readonly View[] = [
  { name: "webp", tail: ".webp", format: "webp" },
  { name: "avif", tail: ".avif", format: "avif" },
  { name: "jpeg", tail: ".jpg", format: "jpeg" },
  { name: "webp256", tail: ".webp?w=256", format: "thumb" },
];

/** An answer fetched whole, with the time from sending the request to its last byte. */
export interface Fetched {
  status: number;
  type: string | null;
  bytes: Uint8Array;
  ms: number;
}

/** GETs `url` to its last byte, timed; never throws (status 0 when the request failed). */
export async function timedGet(url: string): Promise<Fetched> {
  const started = performance.now();
  try {
    const res = await fetch(url);
    const bytes = new Uint8Array(await res.arrayBuffer());
    const ms = performance.now() - started;
    return { status: res.status, type: res.headers.get("content-type"), bytes, ms };
  } catch {
    return { status: 0, type: null, bytes: new Uint8Array(), ms: performance.now() - started };
  }
}

/**
 * Stores `png` through the gateway (the fake answers with it) and returns its link without the
 * extension. Each call has a prompt of its own: identical requests of one client may be joined
 * into one generation, and every image here must be a record of its own.
 */
export async function storeImage(
  ctx: VariantsContext,
  gatewayUrl: string,
  png: Uint8Array,
  prompt: string,
): Promise<string> {
  ctx.fake.options.image = () => png;
  ctx.fake.options.delayMs = 0;
  const res = await fetch(`${gatewayUrl}/v1/images/generations`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${ctx.endpoints.gatewayKey}`,
      "content-type": "application/json",
    },
    body: JSON.stringify({ model: MODEL, prompt, response_format: "url" }),
  });
  if (!res.ok) throw new Error(`generation answered ${res.status}: ${await res.text()}`);
  const json = await res.json() as { data: { url: string }[] };
  const path = new URL(json.data[0].url).pathname;
  return `${gatewayUrl}${path.replace(/\.[a-z]+$/, "")}`;
}

/** Starts a gateway for one part of this bench, with its own KV file and settings. */
export function startGateway(
  ctx: VariantsContext,
  kvFile: string,
  env: Record<string, string>,
): Promise<GatewayProcess> {
  return GatewayProcess.start({
    upstreamBaseUrl: ctx.endpoints.upstreamUrl,
    upstreamKey: ctx.endpoints.upstreamKey,
    gatewayKey: ctx.endpoints.gatewayKey,
    dir: ctx.dir,
    kvFile,
    env,
  });
}

/** One view of one image, fetched the first time (so converted by that request). */
export interface FirstView {
  image: string;
  view: View["name"];
  fetched: Fetched;
}

/**
 * Parts 1–3: stores every image in a gateway with one conversion worker; times the gateway's very
 * first conversion (a 1024 px WebP, which also starts the worker and compiles the codecs); warms
 * the worker with each view of a 1328 px image (so its codecs' heaps have grown to that size);
 * then GETs each image's PNG and, one at a time, each view for the first time. Also returns the
 * gateway's memory before the first conversion and its peak at the end.
 */
export async function firstViews(
  ctx: VariantsContext,
  images: { label: string; png: Uint8Array }[],
): Promise<{
  pngs: Fetched[];
  views: FirstView[];
  coldMs: number;
  idle?: ProcessMemory;
  end?: ProcessMemory;
}> {
  await using gateway = await startGateway(ctx, "variants.kv", {
    VARIANT_WORKERS: "1",
    VARIANT_QUEUE: "16",
  });
  const links: string[] = [];
  for (const [i, image] of images.entries()) {
    links.push(await storeImage(ctx, gateway.url, image.png, `variants bench ${i}`));
  }
  const cold = await storeImage(ctx, gateway.url, images[0].png, "variants bench cold");
  // `testImages()` gives each photograph at 1024, then 1328 px: [1] is a 1328 px one.
  const warm = await storeImage(ctx, gateway.url, images[1].png, "variants bench warm-up");
  const idle = await gateway.memory();
  const warmups = [await timedGet(`${cold}.webp`)];
  for (const view of VIEWS) warmups.push(await timedGet(warm + view.tail));
  const failed = warmups.find((w) => w.status !== 200);
  if (failed) throw new Error(`a warm-up conversion answered ${failed.status}`);
  const pngs: Fetched[] = [];
  const views: FirstView[] = [];
  for (const [i, link] of links.entries()) {
    pngs.push(await timedGet(`${link}.png`));
    for (const view of VIEWS) {
      views.push({
        image: images[i].label,
        view: view.name,
        fetched: await timedGet(link + view.tail),
      });
    }
  }
  if (gateway.exited) throw new Error(`the gateway exited:\n${gateway.stderr()}`);
  return { pngs, views, coldMs: warmups[0].ms, idle, end: await gateway.memory() };
}

/** Latency samples of one probed path during the conversions. */
export interface ProbeSamples {
  path: string;
  ms: number[];
  failures: number;
}

/** Part 4's raw figures. */
export interface IsolationRun {
  conversions: { view: View["name"]; status: number; ms: number }[];
  durationMs: number;
  probes: ProbeSamples[];
  idle?: ProcessMemory;
  peak?: ProcessMemory;
  peakAnonBytes: number;
  workers: string;
  queue: string;
}

/** Pause between two probes: the probes sample the gateway, they do not load it. */
const PROBE_GAP_MS = 5;

/**
 * Part 4: a fresh gateway with `workers` conversion workers (0, the default: one per CPU) and a
 * queue of 32 stores `count` images (cycling through `pngs`) and a probe image it serves once;
 * then all `count` conversions (one distinct variant of each image, the views in turn) are asked
 * at once while one client probes `/health` and the cached probe image, one request at a time,
 * until the last conversion answers.
 */
export async function isolation(
  ctx: VariantsContext,
  pngs: Uint8Array[],
  probePng: Uint8Array,
  count: number,
  workers = 0,
): Promise<IsolationRun> {
  const env = { VARIANT_WORKERS: String(workers), VARIANT_QUEUE: "32" };
  await using gateway = await startGateway(ctx, "variants-isolation.kv", env);
  const links: string[] = [];
  for (let i = 0; i < count; i++) {
    links.push(await storeImage(ctx, gateway.url, pngs[i % pngs.length], `isolation ${i}`));
  }
  const probeLink = `${await storeImage(ctx, gateway.url, probePng, "isolation probe")}.png`;
  const first = await timedGet(probeLink);
  if (first.status !== 200) throw new Error(`the probe image answered ${first.status}`);
  const idle = await gateway.memory();
  const sampler = sampleMemory(gateway.pid);
  const started = performance.now();
  let running = true;
  const conversions = Promise.all(links.map(async (link, i) => {
    const view = VIEWS[i % VIEWS.length];
    const { status, ms } = await timedGet(link + view.tail);
    return { view: view.name, status, ms };
  })).finally(() => (running = false));
  const probes: ProbeSamples[] = [
    { path: `${gateway.url}/health`, ms: [], failures: 0 },
    { path: probeLink, ms: [], failures: 0 },
  ];
  const probing = (async () => {
    // Bounded by the conversions, which the gateway's own timeout bounds.
    for (let turn = 0; running; turn++) {
      const probe = probes[turn % probes.length];
      const got = await timedGet(probe.path);
      if (got.status === 200) probe.ms.push(got.ms);
      else probe.failures++;
      await new Promise((resolve) => setTimeout(resolve, PROBE_GAP_MS));
    }
  })();
  const done = await conversions;
  const durationMs = performance.now() - started;
  await probing;
  const peaks = await sampler.stop();
  const peak = await gateway.memory();
  if (gateway.exited) throw new Error(`the gateway exited:\n${gateway.stderr()}`);
  for (const probe of probes) probe.path = new URL(probe.path).pathname;
  return {
    conversions: done,
    durationMs,
    probes,
    idle,
    peak,
    peakAnonBytes: peaks.rssAnon,
    workers: workers === 0
      ? `${navigator.hardwareConcurrency} (VARIANT_WORKERS=0: one per CPU)`
      : `VARIANT_WORKERS=${workers}`,
    queue: env.VARIANT_QUEUE,
  };
}
