/**
 * Test scaffolding: a gateway wired to a fresh fake SiliconFlow and a fresh KV, disposed with
 * `await using`, plus exact assertions for OpenAI-shaped errors.
 *
 * @module
 */
import assert from "node:assert/strict";
import OpenAI from "openai";
import { createGateway } from "../../lib/app.ts";
import { ConfigError, loadConfig } from "../../lib/config.ts";
import { type FakeOptions, FakeSiliconFlow } from "./fake_siliconflow.ts";
import type { Hono } from "hono";
import type { Convert, GatewayServices } from "../../lib/services.ts";
import { formattedLogger, type Logger } from "../../lib/log.ts";

export const GATEWAY_KEY = "gw-test-key-0123456789";

/** The headers of every JSON answer under `/v1` and `/models` (CORS for browser clients). */
export const API_HEADERS = {
  "access-control-allow-origin": "*",
  "access-control-expose-headers":
    "x-image-storage,x-images-failed,retry-after,retry-after-ms,x-should-retry,x-params-dropped," +
    "x-mask-ignored,x-model-substituted,x-request-id,x-redelivered,idempotent-replayed",
  "content-type": "application/json",
};
export const UPSTREAM_KEY = "sk-upstream-1";

/** Log lines captured from a test gateway, by level. */
export interface CapturedLog {
  lines: string[];
  warnings: string[];
  errors: string[];
}

export interface TestGateway extends AsyncDisposable {
  log: CapturedLog;
  app: Hono;
  services: GatewayServices;
  fake: FakeSiliconFlow;
  kv: Deno.Kv;
  /** `POST` JSON to the app with the gateway key (or `key`, or none when `key: null`). */
  post(path: string, body: unknown, options?: { key?: string | null }): Promise<Response>;
  /** `GET` with the gateway key (or `key`, or none when `key: null`). */
  get(path: string, options?: { key?: string | null; headers?: HeadersInit }): Promise<Response>;
}

export interface GatewayOptions {
  /** Environment on top of pool-mode defaults; `undefined` values remove a default. */
  env?: Record<string, string | undefined>;
  fake?: FakeOptions;
  /** A KV file to use instead of a fresh `:memory:` store (the caller deletes it). */
  kvPath?: string;
  /** Wraps the KV the gateway gets, e.g. to make writes fail; tests still see the real one. */
  wrapKv?: (kv: Deno.Kv) => Deno.Kv;
  /** An existing fake to reuse (not disposed with the gateway). */
  sharedFake?: FakeSiliconFlow;
  /** The gateway's outgoing `fetch` (SiliconFlow, downloads, S3, the CDN purge); the global one by default. */
  fetch?: typeof fetch;
  /** Capture lines as the console would get them: in `LOG_FORMAT`, with request ids. */
  formatLogs?: boolean;
  /** Makes image variants; refused without one, as in a gateway with no codec. */
  convert?: Convert;
}

export async function startGateway(options: GatewayOptions = {}): Promise<TestGateway> {
  const fake = options.sharedFake ?? new FakeSiliconFlow(options.fake);
  const env: Record<string, string | undefined> = {
    SILICONFLOW_BASE_URL: fake.baseUrl,
    SILICONFLOW_API_KEYS: UPSTREAM_KEY,
    GATEWAY_API_KEYS: GATEWAY_KEY,
    KV_PATH: options.kvPath ?? ":memory:",
    // Client limits write counters to KV; their own tests turn them on.
    CLIENT_MAX_CONCURRENT: "0",
    CLIENT_IMAGES_PER_MINUTE: "0",
    ...options.env,
  };
  const config = loadConfig(env);
  const kv = await Deno.openKv(config.kvPath);
  const log: CapturedLog = { lines: [], warnings: [], errors: [] };
  const capture: Logger = {
    info: (line) => log.lines.push(line),
    warn: (line) => log.warnings.push(line),
    error: (line, err) =>
      log.errors.push(`${line} ${err instanceof Error ? err.stack : err ?? ""}`),
  };
  const { app, services } = createGateway({
    config,
    fetch: options.fetch,
    convert: options.convert,
    kv: options.wrapKv ? options.wrapKv(kv) : kv,
    logger: options.formatLogs
      ? formattedLogger(capture, config.logFormat, { logPrompts: config.logPrompts })
      : capture,
  });
  const auth = (key: string | null | undefined): Record<string, string> =>
    key === null ? {} : { authorization: `Bearer ${key ?? GATEWAY_KEY}` };
  return {
    log,
    app,
    services,
    fake,
    kv,
    post: async (path, body, { key } = {}) =>
      await app.request(path, {
        method: "POST",
        headers: { "content-type": "application/json", ...auth(key) },
        body: typeof body === "string" ? body : JSON.stringify(body),
      }),
    get: async (path, { key, headers } = {}) =>
      await app.request(path, {
        headers: { ...auth(key), ...Object.fromEntries(new Headers(headers)) },
      }),
    async [Symbol.asyncDispose]() {
      services.conversions.dispose();
      kv.close();
      if (!options.sharedFake) await fake[Symbol.asyncDispose]();
    },
  };
}

/** A test gateway served over a real socket on loopback, port 0. */
export interface ListeningGateway extends AsyncDisposable {
  /** `http://127.0.0.1:<port>` */
  origin: string;
}

/** Serves a test gateway's app on a loopback port, for clients that make their own requests. */
export function listen(gw: TestGateway): ListeningGateway {
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, gw.app.fetch);
  return {
    origin: `http://127.0.0.1:${server.addr.port}`,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** Asserts an OpenAI error response exactly and returns its body. */
export async function assertOpenAIError(
  res: Response,
  status: number,
  expected: {
    param?: string | null;
    code?: string | null;
    type?: string;
    /** Exact text, or a pattern. */
    message?: RegExp | string;
  },
) {
  const body = await res.json();
  assert.equal(res.status, status, `status, body: ${JSON.stringify(body)}`);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  assert.deepEqual(Object.keys(body), ["error"]);
  assert.deepEqual(Object.keys(body.error).sort(), ["code", "message", "param", "type"]);
  assert.equal(typeof body.error.message, "string");
  if ("param" in expected) assert.equal(body.error.param, expected.param);
  if ("code" in expected) assert.equal(body.error.code, expected.code);
  if (expected.type) assert.equal(body.error.type, expected.type);
  if (typeof expected.message === "string") assert.equal(body.error.message, expected.message);
  else if (expected.message) assert.match(body.error.message, expected.message);
  return body.error as { message: string; type: string; param: string | null; code: string | null };
}

/** The `/i/...` path of a gateway link. */
export function linkPath(url: string): string {
  const { pathname } = new URL(url);
  assert.match(pathname, /^\/i\/[A-Za-z0-9_-]{16}\.(png|jpg|webp|gif|avif)$/);
  return pathname;
}

/** Reads a response body as bytes. */
export async function bytesOf(res: Response): Promise<Uint8Array> {
  return new Uint8Array(await res.arrayBuffer());
}

/** A KV whose atomic commits throw, as a full disk or a lost KV Connect link would. */
export function failingWrites(kv: Deno.Kv): Deno.Kv {
  return new Proxy(kv, {
    get(target, prop) {
      if (prop === "atomic") return failingAtomic;
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

function failingAtomic(): Deno.AtomicOperation {
  const op = {
    check: () => op,
    set: () => op,
    delete: () => op,
    sum: () => op,
    min: () => op,
    max: () => op,
    mutate: () => op,
    enqueue: () => op,
    commit: () => Promise.reject(new Error("database is locked (simulated)")),
  };
  return op as unknown as Deno.AtomicOperation;
}

/**
 * Asserts two byte arrays are equal and names the first difference: `assert.deepEqual` on ~1 MB
 * arrays spends minutes building its diff before it fails.
 */
export function assertBytes(actual: Uint8Array, expected: Uint8Array, what = "bytes"): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const at = actual.findIndex((b, i) => b !== expected[i]);
  assert.equal(at, -1, `${what}: first difference at byte ${at}`);
}

/** Hex SHA-256 computed with Web Crypto, independently of the gateway's `node:crypto`. */
export async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The official openai client, talking to the app in process through its `fetch` option. */
export function openaiClient(gw: TestGateway, apiKey = GATEWAY_KEY): OpenAI {
  return new OpenAI({
    baseURL: "http://gateway.test/v1",
    apiKey,
    maxRetries: 0,
    fetch: async (input: string | URL | Request, init?: RequestInit) =>
      await gw.app.request(input instanceof Request ? input : String(input), init),
  });
}

/** A request id the gateway made: a UUID. */
export const REQUEST_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/**
 * Every response header, as a plain object for exact comparison; `x-request-id`, which every
 * answer carries, is checked to be one the gateway made and left out.
 */
export function headersOf(res: Response): Record<string, string> {
  const { "x-request-id": id, ...rest } = Object.fromEntries(res.headers);
  assert.match(id ?? "", REQUEST_ID, "x-request-id");
  return rest;
}

/** Request log lines without their durations (`GET /health 200 3ms` → `GET /health 200`). */
export function withoutTimes(lines: string[]): string[] {
  return lines.map((line) => line.replace(/ \d+ms$/, ""));
}

/** Generates one image through the API; returns its `/i/...` path and id. */
export async function generateImage(
  gw: TestGateway,
  body: Record<string, unknown> = { prompt: "x" },
): Promise<{ path: string; id: string }> {
  const res = await gw.post("/v1/images/generations", body);
  const json = await res.json();
  assert.equal(res.status, 200, JSON.stringify(json));
  const path = linkPath(json.data[0].url);
  return { path, id: path.slice("/i/".length, "/i/".length + 16) };
}

/** The problems `loadConfig` lists for an environment, or `[]` when it accepts it. */
export function configProblems(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
    return err.problems;
  }
}

/**
 * Wraps a KV so that every listing of image chunks is handed to `onList` first (to count reads,
 * or make one fail); everything else reaches the real KV.
 */
export function withChunkLists(
  onList: (iterator: Deno.KvListIterator<unknown>) => void,
): (kv: Deno.Kv) => Deno.Kv {
  return (kv) =>
    new Proxy(kv, {
      get(target, prop) {
        if (prop === "list") {
          return (selector: Deno.KvListSelector, options?: Deno.KvListOptions) => {
            const iterator = target.list(selector, options);
            const key = "prefix" in selector ? selector.prefix : selector.start;
            if (key?.[0] === "img_chunk") onList(iterator);
            return iterator;
          };
        }
        const value = Reflect.get(target, prop);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
}
