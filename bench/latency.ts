/**
 * Part 1: generation latency in url mode. One sample of the gateway is a full
 * `POST /v1/images/generations` answered with a `/i/` link (the gateway has downloaded and stored
 * the image by then); one sample of the baseline is what a client without the gateway does: call
 * SiliconFlow (the fake) itself and download the returned image. Samples of the two alternate, so
 * drift on the machine affects both alike.
 *
 * @module
 */
import { summarize, type Summary } from "./stats.ts";

export const MODEL = "Kwai-Kolors/Kolors";

export interface Endpoints {
  gatewayUrl: string;
  gatewayKey: string;
  /** The fake's base URL, ending in `/v1`. */
  upstreamUrl: string;
  upstreamKey: string;
}

export interface ScenarioResult {
  samples: number;
  warmup: number;
  gateway: Summary;
  direct: Summary;
  /** Gateway median / direct median. */
  ratio: number;
  /** Answers whose `x-image-storage` was not `kv` (the image was not stored). */
  notStored: number;
}

async function postJson(url: string, key: string, body: unknown): Promise<Response> {
  const res = await fetch(url, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`POST ${url} answered ${res.status}: ${await res.text()}`);
  return res;
}

/** Generates one image through the gateway; returns its `/i/` link and storage state. */
export async function generateViaGateway(
  e: Endpoints,
): Promise<{ url: string; storage: string | null }> {
  const res = await postJson(`${e.gatewayUrl}/v1/images/generations`, e.gatewayKey, {
    model: MODEL,
    prompt: "bench",
    response_format: "url",
  });
  const json = await res.json() as { data: { url: string }[] };
  return { url: json.data[0].url, storage: res.headers.get("x-image-storage") };
}

/** Calls the fake directly and downloads the image it links to; returns the image size. */
export async function generateDirect(e: Endpoints): Promise<number> {
  const res = await postJson(`${e.upstreamUrl}/images/generations`, e.upstreamKey, {
    model: MODEL,
    prompt: "bench",
  });
  const json = await res.json() as { images: { url: string }[] };
  const image = await fetch(json.images[0].url);
  if (!image.ok) throw new Error(`image download answered ${image.status}`);
  return (await image.arrayBuffer()).byteLength;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

/** Measures `samples` alternating pairs after `warmup` unmeasured ones. */
export async function measureScenario(
  e: Endpoints,
  { samples, warmup }: { samples: number; warmup: number },
): Promise<ScenarioResult> {
  const gateway: number[] = [];
  const direct: number[] = [];
  let notStored = 0;
  const viaGateway = async () => {
    if ((await generateViaGateway(e)).storage !== "kv") notStored++;
  };
  for (let i = 0; i < warmup; i++) {
    await viaGateway();
    await generateDirect(e);
  }
  notStored = 0;
  for (let i = 0; i < samples; i++) {
    // Alternate which goes first so neither always runs right after the other.
    if (i % 2 === 0) {
      gateway.push(await timed(viaGateway));
      direct.push(await timed(() => generateDirect(e)));
    } else {
      direct.push(await timed(() => generateDirect(e)));
      gateway.push(await timed(viaGateway));
    }
  }
  const g = summarize(gateway);
  const d = summarize(direct);
  return { samples, warmup, gateway: g, direct: d, ratio: g.median / d.median, notStored };
}
