/**
 * The SiliconFlow HTTP client: `POST {base}/images/generations` and `GET {base}/models`.
 *
 * It only speaks SiliconFlow: failures are thrown as {@link SiliconFlowError} with the status and
 * the parsed body (SiliconFlow answers JSON objects, bare JSON strings or plain text, depending on
 * the status); turning them into OpenAI errors is `error_translation.ts`'s job.
 *
 * @module
 */
import { z } from "zod";
import { clipAtSpace } from "../observability/redaction.ts";

/** Characters of an upstream error message kept: more than any real one, and than redaction scans. */
export const MAX_DETAIL_KEPT = 16 * 1024;

/** SiliconFlow's documented `batch_size` range is 1–4. */
export const MAX_BATCH_SIZE = 4;
/** Largest seed SiliconFlow accepts (docs: 0–9999999999). */
export const MAX_SEED = 9_999_999_999;

export interface SiliconFlowOptions {
  /** e.g. `https://api.siliconflow.cn/v1` */
  baseUrl: string;
  fetch?: typeof fetch;
  timeoutMs: number;
}

/** One generated image as SiliconFlow points at it (a URL, or a data URI made from base64). */
export interface UpstreamImage {
  url: string;
}

export interface GenerationResult {
  images: UpstreamImage[];
  seed: number | undefined;
  /** Seconds SiliconFlow spent on inference. */
  inference: number | undefined;
  /** Items left out for a link that is neither a valid http(s) URL nor `data:`. */
  droppedLinks: number;
}

/**
 * The largest reply read from SiliconFlow. Generation replies are small JSON with links; one that
 * carries images as base64 holds at most 4 of them (`batch_size`), and 64 MB leaves room for four
 * 12 MB images. Anything longer is refused rather than read into memory.
 */
export const MAX_REPLY_BYTES = 64 * 1024 * 1024;

/** A reply body as text, refusing one over `max` bytes (declared or counted as it arrives). */
async function readCapped(res: Response, max: number): Promise<string> {
  const declared = Number(res.headers.get("content-length") ?? NaN);
  if (declared > max) {
    await res.body?.cancel();
    throw new SiliconFlowError(200, `the reply is ${declared} bytes, over the ${max}-byte limit`);
  }
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const part of res.body ?? []) {
    size += part.length;
    if (size > max) throw new SiliconFlowError(200, `the reply is over the ${max}-byte limit`);
    parts.push(part);
  }
  return await new Blob(parts as Uint8Array<ArrayBuffer>[]).text();
}

/** SiliconFlow answered, but not with success. `status` 0 means it did not answer at all. */
export class SiliconFlowError extends Error {
  readonly status: number;
  /** SiliconFlow's business code (`20012`, `50505`, …) when its body had one. */
  readonly code: number | undefined;
  /** SiliconFlow's own message, or the bare string body. */
  readonly detail: string;
  readonly retryAfterSeconds: number | undefined;
  readonly timedOut: boolean;
  /** The connection never opened (refused, no such host): the request was never sent. */
  readonly connectFailed: boolean;
  /** How a connection failed, in the runtime's words (addresses too): for the log only. */
  readonly transport: string | undefined;

  constructor(
    status: number,
    detail: string,
    extra: {
      code?: number;
      retryAfterSeconds?: number;
      timedOut?: boolean;
      connectFailed?: boolean;
      transport?: string;
      cause?: unknown;
    } = {},
  ) {
    super(`SiliconFlow answered ${status}: ${detail}`, { cause: extra.cause });
    this.name = "SiliconFlowError";
    this.status = status;
    this.detail = detail;
    this.code = extra.code;
    this.retryAfterSeconds = extra.retryAfterSeconds;
    this.timedOut = extra.timedOut ?? false;
    this.connectFailed = extra.connectFailed ?? false;
    this.transport = extra.transport;
  }
}

// Minimal schemas: only what is read. `images[]` is documented; `data[]` is a tolerated fallback.
const imageItem = z.union([
  z.string().transform((url) => ({ url })),
  z.object({ url: z.string().min(1) }),
  z.object({ b64_json: z.string().min(1) }).transform((i) => ({
    url: `data:application/octet-stream;base64,${i.b64_json}`,
  })),
]);
/** A valid web link, or inline bytes; `javascript:`, `file:` and the like never reach a client. */
const usable = ({ url }: UpstreamImage) =>
  url.startsWith("data:") || (/^https?:\/\//i.test(url) && URL.canParse(url));
const generationSchema = z.object({
  images: z.array(imageItem).optional(),
  data: z.array(imageItem).optional(),
  seed: z.number().optional().catch(undefined),
  timings: z.object({ inference: z.number().optional() }).optional().catch(undefined),
});
const errorBodySchema = z.object({
  code: z.union([z.number(), z.string()]).optional(),
  message: z.string().optional(),
  error: z.union([
    z.string(),
    z.object({ message: z.string().optional(), code: z.union([z.string(), z.number()]).nullish() }),
  ]).optional(),
});
const modelListSchema = z.object({
  data: z.array(z.object({
    id: z.string().min(1),
    created: z.number().optional().catch(undefined),
    owned_by: z.string().optional().catch(undefined),
  })),
});

export type UpstreamModel = z.infer<typeof modelListSchema>["data"][number];

/** The images of a generation reply (`images[]`, or OpenAI's `data[]` of urls or base64). */
export function parseGeneration(json: unknown): GenerationResult {
  const parsed = generationSchema.safeParse(json);
  const all = parsed.success
    ? [parsed.data.images, parsed.data.data].find((list) => list && list.length > 0) ?? []
    : [];
  const images = all.filter(usable);
  if (!parsed.success || images.length === 0) {
    throw new SiliconFlowError(200, "the reply contained no images", { code: undefined });
  }
  const { seed, timings } = parsed.data;
  return { images, seed, inference: timings?.inference, droppedLinks: all.length - images.length };
}

export class SiliconFlowClient {
  readonly #baseUrl: string;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;

  constructor({ baseUrl, fetch = globalThis.fetch, timeoutMs }: SiliconFlowOptions) {
    this.#baseUrl = baseUrl.replace(/\/+$/, "");
    this.#fetch = fetch;
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Calls `POST /images/generations` with a SiliconFlow request body. `signal` lets the caller stop
   * waiting (a chat client that went away); the call then fails as a network error.
   */
  async generate(
    body: Record<string, unknown>,
    key: string,
    signal?: AbortSignal,
  ): Promise<GenerationResult> {
    const json = await this.request("/images/generations", key, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal,
    });
    return parseGeneration(json);
  }

  /** Lists models of one `sub_type` (`text-to-image`, `image-to-image`). */
  async listModels(subType: string, key: string): Promise<UpstreamModel[]> {
    const json = await this.request(`/models?sub_type=${encodeURIComponent(subType)}`, key, {});
    const parsed = modelListSchema.safeParse(json);
    if (!parsed.success) throw new SiliconFlowError(200, "the model list was not understood");
    return parsed.data.data;
  }

  /**
   * One call to `{base}{path}` with the key as a bearer token, within the timeout, its reply read
   * up to {@link MAX_REPLY_BYTES}; failures become {@link SiliconFlowError}. Shared with the
   * OpenAI-compatible providers, which answer in the same ways.
   */
  protected async request(path: string, key: string, init: RequestInit): Promise<unknown> {
    // Only the timeout counts as "timed out"; a caller's abort is a plain network failure.
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const signal = init.signal ? AbortSignal.any([timeout, init.signal]) : timeout;
    let res: Response;
    try {
      res = await this.#fetch(`${this.#baseUrl}${path}`, {
        ...init,
        signal,
        headers: { ...init.headers, authorization: `Bearer ${key}`, accept: "application/json" },
      });
    } catch (err) {
      throw networkError(err, timeout, this.#timeoutMs);
    }
    let text: string;
    try {
      text = await readCapped(res, MAX_REPLY_BYTES);
    } catch (err) {
      if (err instanceof SiliconFlowError) throw err;
      // After a 2xx status line SiliconFlow may have produced (and billed) the image: report it as
      // an unusable reply (status 200), which tells clients not to retry.
      if (res.ok) {
        const { detail, transport } = networkError(err, timeout, this.#timeoutMs);
        throw new SiliconFlowError(200, `the reply was cut off (${detail})`, { transport });
      }
      throw networkError(err, timeout, this.#timeoutMs);
    }
    if (!res.ok) throw parseError(res, text);
    try {
      return JSON.parse(text);
    } catch {
      throw new SiliconFlowError(200, "the reply was not JSON");
    }
  }
}

function networkError(err: unknown, signal: AbortSignal, timeoutMs: number): SiliconFlowError {
  if (signal.aborted) {
    return new SiliconFlowError(0, `no answer within ${timeoutMs / 1000} s`, {
      timedOut: true,
      cause: err,
    });
  }
  // Deno's message is "fetch failed"; the phase is named down the cause chain.
  const chain: string[] = [];
  for (let e: unknown = err; e && chain.length < 5; e = (e as { cause?: unknown }).cause) {
    chain.push(e instanceof Error ? e.message : String(e));
  }
  const reason = chain.join(": ");
  const connectFailed = CONNECT_PHASE.test(reason);
  const what = connectFailed ? "cannot connect" : "connection lost";
  return new SiliconFlowError(0, what, { cause: err, connectFailed, transport: reason });
}

/**
 * Deno's fetch names the phase a failure happened in: "client error (Connect)", "tcp connect
 * error", "dns error". Only then was nothing sent; a connection reset later may have been after
 * SiliconFlow took the request.
 */
const CONNECT_PHASE =
  /\(Connect\)|tcp connect error|dns error|failed to lookup address|Connection refused|os error 111/i;

/** `Retry-After` (RFC 9110 §10.2.3): seconds, or an HTTP date. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const seconds = /^\s*\d+(\.\d+)?\s*$/.test(value)
    ? Number(value)
    : (Date.parse(value) - now) / 1000;
  return Number.isFinite(seconds) ? clampRetryAfter(seconds) : undefined;
}

/** A wait between 1 s and 10 min: an upstream's "come back in a year" rests no key for a year. */
export function clampRetryAfter(seconds: number): number {
  return Math.min(600, Math.max(1, Math.ceil(seconds)));
}

/** Reads any of SiliconFlow's error body shapes: `{code,message}`, `"Invalid token"`, plain text. */
export function parseError(res: Response, text: string): SiliconFlowError {
  let detail = text.trim();
  let code: number | undefined;
  try {
    const json: unknown = JSON.parse(text);
    if (typeof json === "string") detail = json;
    else {
      const body = errorBodySchema.safeParse(json);
      if (body.success) {
        const err = body.data.error;
        detail = body.data.message ?? (typeof err === "string" ? err : err?.message) ?? detail;
        const raw = body.data.code ?? (typeof err === "object" ? err?.code : undefined);
        const n = typeof raw === "string" && raw.trim() === "" ? NaN : Number(raw);
        // OpenAI-compatible providers name an empty balance; it means SiliconFlow's 30001.
        code = raw === "insufficient_quota" ? 30001 : Number.isInteger(n) ? n : undefined;
      }
    }
  } catch {
    // Plain text body: keep it as it is.
  }
  if (detail === "") detail = res.statusText || "no details";
  // Only bounded here: the message is redacted before it is cut to what a client is shown
  // (`error_translation.ts`), and this cut leaves no key's beginning behind.
  detail = clipAtSpace(detail, MAX_DETAIL_KEPT);
  return new SiliconFlowError(res.status, detail, {
    code,
    retryAfterSeconds: parseRetryAfter(res.headers.get("retry-after")),
  });
}
