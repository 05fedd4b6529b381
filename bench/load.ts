/**
 * The load script of `deno task load`: 500 generations, 50 at a time, through the real gateway
 * (`deno run main.ts`) against a fake SiliconFlow that fails at random, on loopback only. Then it
 * waits until every SiliconFlow link has expired and fetches every link the clients got.
 *
 * Faults, drawn from a seeded generator so a run can be repeated (`LOAD_SEED`):
 * - generation calls: 8 % "model service overloaded" (503, code 50505), 4 % rate limited (429,
 *   `Retry-After: 1`), 2 % a plain 500, 1 % a 200 reply that breaks off (may have been billed);
 * - image downloads: 8 % answered 503 before any byte.
 *
 * Clients: one in five leaves its first two tries mid-generation (after 50–190 ms, while the fake
 * SiliconFlow takes 200 ms a call) and then, 0.5 s later, asks again with the same request, as the
 * openai SDK retrying after a timeout does, or a user behind a proxy that cut the request.
 *
 * It reports: the gateway's own 5xx (an `internal_error`; upstream failures passed on as 502/503
 * are SiliconFlow's), images paid (made by the fake), delivered (reached a client), redelivered
 * (reached a retry from an earlier try's work), lost (paid and never delivered, or delivered as a
 * link that no longer serves once SiliconFlow's links are gone), paid twice (requests that made
 * more images than they asked for), upstream calls per delivered image, and whether every stored
 * image is byte-identical to what SiliconFlow made. Exit 1 when any of the own 5xx, lost or paid
 * twice is not 0, or any image differs.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { FakeSiliconFlow, type ScriptedReply } from "../tests/_support/fake_siliconflow.ts";
import { randomPng } from "../tests/_support/images.ts";
import { GatewayProcess } from "./gateway.ts";

const REQUESTS = 500;
const CONCURRENCY = 50;
const LINK_TTL_MS = 3000;
const REQUEST_TIMEOUT_MS = 60_000;
/** Share of requests whose client leaves its first two tries mid-generation, then retries. */
const LEAVING_SHARE = 0.2;
const LEAVING_TRIES = 2;
/** Before asking again, as the openai SDK waits (at least 0.5 s) before a retry; 0 at once. */
const RETRY_AFTER_MS = Number(Deno.env.get("LOAD_RETRY_AFTER_MS") ?? 500);
const GATEWAY_KEY = "load-key-0123456789";
const UPSTREAM_KEY = "sk-upstream-1";

/** mulberry32: a small seeded generator, so that the faults of a run can be replayed. */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

async function main(): Promise<number> {
  const seed = Number(Deno.env.get("LOAD_SEED") ?? 42);
  const random = seeded(seed);
  const made = new Set<string>();
  const clientRandom = seeded(seed + 1);
  const faults = { overloaded: 0, rateLimited: 0, failed: 0, cutOff: 0, imageBusy: 0 };
  const chaos = (what: "generation" | "image"): ScriptedReply | undefined => {
    const r = random();
    if (what === "image") {
      if (r < 0.08) return faults.imageBusy++, { status: 503, body: "SlowDown" };
      return undefined;
    }
    if (r < 0.08) {
      faults.overloaded++;
      return { status: 503, body: { code: 50505, message: "Model service overloaded." } };
    }
    if (r < 0.12) {
      faults.rateLimited++;
      return {
        status: 429,
        body: { message: "IPM limit reached." },
        headers: { "retry-after": "1" },
      };
    }
    if (r < 0.14) return faults.failed++, { status: 500, body: { message: "internal error" } };
    if (r < 0.15) return faults.cutOff++, { status: 200, body: { images: [] }, cutOff: true };
    return undefined;
  };
  const dir = await Deno.makeTempDir({ prefix: "sf-image-gateway-load-" });
  try {
    await using fake = new FakeSiliconFlow({
      keys: [UPSTREAM_KEY],
      imageTtlMs: LINK_TTL_MS,
      delayMs: 200,
      image: () => {
        const bytes = randomPng(40, 40);
        made.add(sha256(bytes));
        return bytes;
      },
      chaos,
    });
    await using gateway = await GatewayProcess.start({
      upstreamBaseUrl: fake.baseUrl,
      upstreamKey: UPSTREAM_KEY,
      gatewayKey: GATEWAY_KEY,
      dir,
      env: { CLIENT_MAX_CONCURRENT: "0", CLIENT_IMAGES_PER_MINUTE: "0" },
    });
    console.log(`load: ${REQUESTS} generations, ${CONCURRENCY} at a time, seed ${seed}`);
    const statuses = new Map<string, number>();
    const links: string[] = [];
    const asked = new Map<string, number>();
    let ownErrors = 0;
    let redelivered = 0;
    let departures = 0;
    let next = 0;
    const started = performance.now();
    const request = async (body: unknown, leave: boolean) => {
      const signals = [AbortSignal.timeout(REQUEST_TIMEOUT_MS)];
      const departure = new AbortController();
      const timer = leave
        ? setTimeout(() => departure.abort(), 50 + clientRandom() * 140)
        : undefined;
      try {
        const res = await fetch(`${gateway.url}/v1/images/generations`, {
          method: "POST",
          headers: { authorization: `Bearer ${GATEWAY_KEY}`, "content-type": "application/json" },
          body: JSON.stringify(body),
          signal: AbortSignal.any([...signals, departure.signal]),
        });
        // The answer is here (a JSON answer's body comes with its head): the client has it.
        clearTimeout(timer);
        return { res, json: await res.json() };
      } catch (err) {
        if (departure.signal.aborted) return undefined;
        throw err;
      } finally {
        clearTimeout(timer);
      }
    };
    const worker = async () => {
      while (next < REQUESTS) {
        const i = next++;
        const n = i % 3 === 0 ? 2 : 1;
        const body = { prompt: `load ${i}`, n };
        asked.set(body.prompt, n);
        const leaves = clientRandom() < LEAVING_SHARE;
        for (let attempt = 0;; attempt++) {
          const answer = await request(body, leaves && attempt < LEAVING_TRIES);
          if (!answer) {
            departures++;
            if (RETRY_AFTER_MS > 0) await new Promise((r) => setTimeout(r, RETRY_AFTER_MS));
            continue;
          }
          const { res, json } = answer;
          const label = res.ok ? "200" : `${res.status} ${json.error?.code}`;
          statuses.set(label, (statuses.get(label) ?? 0) + 1);
          if (res.status >= 500 && json.error?.code === "internal_error") ownErrors++;
          if (res.ok) {
            links.push(...json.data.map((item: { url: string }) => item.url));
            if (res.headers.get("x-redelivered") === "true") redelivered += json.data.length;
          }
          break;
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const seconds = (performance.now() - started) / 1000;
    // Every SiliconFlow link has expired by now: only durable links still serve.
    await new Promise((r) => setTimeout(r, LINK_TTL_MS + 500));
    fake.expireAllLinks();
    let lost = 0;
    let differing = 0;
    let durable = 0;
    const delivered = new Set<string>();
    for (let i = 0; i < links.length; i += 50) {
      await Promise.all(
        links.slice(i, i + 50).map(async (link) => {
          const res = await fetch(link, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
          const bytes = new Uint8Array(await res.arrayBuffer());
          if (!res.ok) return void lost++;
          durable += link.startsWith(gateway.url) ? 1 : 0;
          const hash = sha256(bytes);
          delivered.add(hash);
          if (!made.has(hash) || res.headers.get("etag") !== `"${hash}"`) differing++;
        }),
      );
    }
    // Paid and never delivered: made by the fake, and no client got those bytes.
    const neverDelivered = [...made].filter((hash) => !delivered.has(hash)).length;
    const paidTwice = [...fake.madeByPrompt].filter(([prompt, count]) =>
      count > (asked.get(prompt) ?? 0)
    ).length;
    const report = {
      seed,
      requests: REQUESTS,
      concurrency: CONCURRENCY,
      seconds: Math.round(seconds * 10) / 10,
      faultsInjected: faults,
      answers: Object.fromEntries([...statuses].sort()),
      gatewayOwn5xx: ownErrors,
      clientsLeft: departures,
      imagesPaid: made.size,
      imagesDelivered: links.length,
      imagesRedelivered: redelivered,
      imagesDurable: durable,
      imagesLost: neverDelivered,
      linksDead: lost,
      requestsPaidTwice: paidTwice,
      upstreamCallsPerDeliveredImage: Math.round(
        (fake.generationCalls.length / Math.max(1, links.length)) * 100,
      ) / 100,
      imagesNotIdentical: differing,
    };
    console.log(JSON.stringify(report, null, 2));
    await Deno.mkdir(new URL("./out/", import.meta.url), { recursive: true });
    await Deno.writeTextFile(
      new URL("./out/load.json", import.meta.url),
      JSON.stringify(report, null, 2) + "\n",
    );
    const ok = ownErrors === 0 && neverDelivered === 0 && lost === 0 && paidTwice === 0 &&
      differing === 0;
    console.log(
      ok ? "PASS: no gateway 5xx, no image lost or paid twice, every image identical" : "FAIL",
    );
    return ok ? 0 : 1;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) Deno.exitCode = await main();
