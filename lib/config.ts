/**
 * The gateway's configuration: read once from the environment at start, validated with zod, and
 * returned as a frozen object. Invalid configuration throws one {@link ConfigError} that lists every
 * problem, so an operator fixes them all in one go.
 *
 * @module
 */
import {
  clientKeyProblems,
  deployProblems,
  providerProblems,
  s3Problems,
} from "./config_checks.ts";
import { envSchema, MB, type ProviderConfig } from "./env_values.ts";

export type { ProviderConfig } from "./env_values.ts";

/** How clients authenticate and whose SiliconFlow key pays. */
export type AuthMode = "pool" | "pass-through";

/** One entry of a configured model list (`MODELS` / `MODELS_JSON`). */
export interface ModelEntry {
  id: string;
  owned_by: string;
}

export interface Config {
  port: number;
  /** Address to listen on (`HOST`). */
  host: string;
  /** Running on Deno Deploy (`DENO_DEPLOY=true`): its CDN headers and cache purges are used. */
  denoDeploy: boolean;
  /** Where image bytes go; `undefined` keeps them in KV. */
  s3: S3Config | undefined;
  /** Providers besides SiliconFlow, each serving its declared models. */
  providers: readonly ProviderConfig[];
  /** SiliconFlow keys of the pool; empty in pass-through mode. */
  upstreamKeys: readonly string[];
  /** Base URL ending in `/v1`, without a trailing slash. */
  upstreamBaseUrl: string;
  /** Keys clients must present in pool mode. */
  gatewayKeys: readonly string[];
  authMode: AuthMode;
  /** Origin used in image links; `undefined` means the origin of each request. */
  publicBaseUrl: string | undefined;
  /** Where KV lives; `undefined` means `Deno.openKv()`'s default (the platform KV on Deno Deploy). */
  kvPath: string | undefined;
  /** 0 keeps images forever. */
  imageTtlDays: number;
  maxImagesPerRequest: number;
  maxImageBytes: number;
  /** Model used when a request names none. */
  defaultModel: string;
  /** A fixed model list, replacing SiliconFlow's own; `undefined` lists SiliconFlow's image models. */
  models: readonly ModelEntry[] | undefined;
  /** Bytes of recently used images kept in memory for `/i/:id`. */
  imageCacheBytes: number;
  upstreamTimeoutMs: number;
  /** Retries of upstream calls that cannot have been billed (`UPSTREAM_RETRIES`). */
  upstreamRetries: number;
  /** Generations in flight per client (`CLIENT_MAX_CONCURRENT`); 0 is unlimited. */
  clientMaxConcurrent: number;
  /** Images per client and minute (`CLIENT_IMAGES_PER_MINUTE`); 0 is unlimited. */
  clientImagesPerMinute: number;
  downloadTimeoutMs: number;
  /** Private hosts image downloads may reach (`DOWNLOAD_ALLOW_HOSTS`): `host` or `host:port`. */
  downloadAllowHosts: readonly string[];
  /** Links may take their origin from `X-Forwarded-Proto`/`-Host` (`TRUST_PROXY_HEADERS`). */
  trustProxyHeaders: boolean;
  /** How long a client may take to send its request body. */
  requestBodyTimeoutMs: number;
  /** Request body bytes all requests may hold at once (`REQUEST_BYTES_BUDGET`); past it, 503. */
  requestBytesBudget: number;
  /** The conversion pool (`VARIANT_WORKERS`, `_QUEUE`, `_MAX_MEGAPIXELS`, `_TIMEOUT_SECONDS`). */
  variants: Readonly<{ workers: number; queue: number; maxPixels: number; timeoutMs: number }>;
  /** How long work in flight may go on after SIGTERM or SIGINT. */
  shutdownGraceMs: number;
  /** `IDLE_CONNECTION_SECONDS`: connections idle at a recycling this often are closed; 0 is off. */
  idleConnectionMs: number;
  /** How long an answer whose client left is kept for its retry (`REDELIVER_WINDOW_SECONDS`); 0 off. */
  redeliverWindowMs: number;
  /** Chat: where progress goes while SiliconFlow works. */
  chatProgress: "reasoning" | "content" | "off";
  /** Chat links' format (`CHAT_IMAGE_FORMAT`); `png` keeps originals, others convert at once. */
  chatImageFormat: "png" | "webp" | "jpeg" | "avif";
  /** Chat: SSE keep-alive comment interval. */
  keepAliveMs: number;
  /** Streams: keep-alives as SSE comments, or as `data:` frames that relays forward. */
  keepAliveFormat: "comment" | "data";
  /** Chat: what goes in the Markdown alt text. */
  markdownAlt: "prompt" | "numbered" | "plain";
  /** Lower-cased words that make a prompt refused before any upstream call. */
  bannedKeywords: readonly string[];
  /** Lower-cased alias → SiliconFlow model id, e.g. `dall-e-3` → `Kwai-Kolors/Kolors`. */
  modelAliases: Readonly<Record<string, string>>;
  /** Add `b64_json` for Vercel AI SDK clients, whose schema requires it. */
  b64ForAiSdk: boolean;
  /** Add `b64_json` to every image answer that names no `response_format` (`B64_BY_DEFAULT`). */
  b64ByDefault: boolean;
  /** `LOG_FORMAT`: plain lines, or one JSON object per line. */
  logFormat: "text" | "json";
  /** `LOG_PROMPTS`: put each request's prompt into its log line. */
  logPrompts: boolean;
  /** `METRICS_TOKEN`: a bearer token that may scrape `/metrics` (besides gateway keys). */
  metricsToken: string | undefined;
  /** Prompt rewriting with an LLM; `undefined` when `PROMPT_ENHANCE_MODEL` is unset. */
  promptEnhance: PromptEnhanceConfig | undefined;
}

/** An S3-compatible object store for image bytes (`IMAGE_STORE=s3`). */
export interface S3Config {
  /** e.g. `https://<account>.r2.cloudflarestorage.com`, without a trailing slash. */
  endpoint: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Prepended to every object key, e.g. `images/`. */
  prefix: string;
  /** `https://endpoint/bucket/key` (the default) rather than `https://bucket.endpoint/key`. */
  pathStyle: boolean;
  /** How long one request may take (a GET: until its headers). */
  timeoutMs: number;
}

export interface PromptEnhanceConfig {
  model: string;
  /** OpenAI-compatible base URL ending in `/v1`; SiliconFlow's own by default. */
  baseUrl: string;
  /** Key for `baseUrl`; `undefined` means the SiliconFlow key paying for the request. */
  /** Keys for `baseUrl`, tried in turn with failover; empty means the request's SiliconFlow key. */
  apiKeys: readonly string[];
  timeoutMs: number;
}

/** Thrown by {@link loadConfig}; its message lists every problem found. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

const DEFAULT_BASE_URL = "https://api.siliconflow.cn/v1";
const DEFAULT_KV_PATH = "./data/gateway.kv";

/** Splits a key list written with commas, spaces or newlines. */
export function splitList(value: string | undefined): string[] {
  return (value ?? "").split(/[\s,]+/).filter((part) => part !== "");
}

/** Reads the first set variable among a name and its older aliases. */
function pick(env: Record<string, string | undefined>, ...names: string[]): string | undefined {
  for (const name of names) {
    const value = env[name]?.trim();
    if (value) return value;
  }
  return undefined;
}

/**
 * Builds the configuration from environment variables.
 *
 * @param env usually `Deno.env.toObject()`
 * @throws {ConfigError} listing every invalid or missing setting
 */
export function loadConfig(env: Record<string, string | undefined>): Readonly<Config> {
  const problems: string[] = [];
  const parsed = envSchema.safeParse({
    ...env,
    SILICONFLOW_BASE_URL: pick(env, "SILICONFLOW_BASE_URL", "SF_BASE"),
  });
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = String(issue.path[0]);
      const shown = name === "SILICONFLOW_BASE_URL" && !env.SILICONFLOW_BASE_URL ? "SF_BASE" : name;
      problems.push(`${shown} ${issue.message}`);
    }
  }

  const upstreamKeys = splitList(pick(env, "SILICONFLOW_API_KEYS", "SILICONFLOW_API_KEY"));
  const gatewayKeys = splitList(
    pick(env, "GATEWAY_API_KEYS", "ALLOW_CLIENT_KEYS", "ALLOW_CLIENT_KEY"),
  );
  if (upstreamKeys.length > 0 && gatewayKeys.length === 0) {
    problems.push(
      "GATEWAY_API_KEYS must be set when SILICONFLOW_API_KEYS is: without client keys the gateway " +
        "would be an open relay spending your SiliconFlow balance. Set GATEWAY_API_KEYS to one or " +
        "more secrets your clients send as 'Authorization: Bearer …', or unset SILICONFLOW_API_KEYS " +
        "to let each client use its own SiliconFlow key (pass-through mode)",
    );
  }
  if (upstreamKeys.length === 0 && gatewayKeys.length > 0) {
    problems.push(
      "GATEWAY_API_KEYS is set but SILICONFLOW_API_KEYS is not: without upstream keys the gateway " +
        "runs in pass-through mode, where client keys cannot apply and each bearer token is sent " +
        "to SiliconFlow as a SiliconFlow key. Set SILICONFLOW_API_KEYS (pool mode), or unset " +
        "GATEWAY_API_KEYS",
    );
  }
  problems.push(...clientKeyProblems(gatewayKeys, upstreamKeys));
  if (parsed.success) {
    problems.push(...providerProblems(parsed.data.PROVIDERS_JSON, gatewayKeys, upstreamKeys));
  }
  const enhanceBase = env.PROMPT_ENHANCE_BASE_URL?.trim().replace(/\/+$/, "");
  const upstreamBase = (pick(env, "SILICONFLOW_BASE_URL", "SF_BASE") ?? DEFAULT_BASE_URL)
    .replace(/\/+$/, "");
  if (enhanceBase && enhanceBase !== upstreamBase && !env.PROMPT_ENHANCE_API_KEY?.trim()) {
    problems.push(
      "PROMPT_ENHANCE_API_KEY must be set when PROMPT_ENHANCE_BASE_URL points away from " +
        "SiliconFlow: otherwise the SiliconFlow key paying for each request would be sent there",
    );
  }
  const onDeploy = env.DENO_DEPLOY === "true" || env.DENO_DEPLOYMENT_ID !== undefined;
  problems.push(...deployProblems(env, onDeploy), ...s3Problems(env));
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);

  const v = parsed.data;
  const models = v.MODELS_JSON ??
    (v.MODELS
      ? splitList(v.MODELS).map((id) => Object.freeze({ id, owned_by: "siliconflow" }))
      : undefined);

  return Object.freeze(
    {
      port: v.PORT,
      host: v.HOST,
      denoDeploy: onDeploy,
      providers: Object.freeze(v.PROVIDERS_JSON),
      s3: v.IMAGE_STORE === "s3"
        ? Object.freeze({
          endpoint: v.S3_ENDPOINT!.replace(/\/+$/, ""),
          bucket: v.S3_BUCKET!,
          region: v.S3_REGION,
          accessKeyId: v.S3_ACCESS_KEY_ID!,
          secretAccessKey: v.S3_SECRET_ACCESS_KEY!,
          prefix: v.S3_PREFIX ?? "",
          pathStyle: v.S3_PATH_STYLE,
          timeoutMs: Math.round(v.S3_TIMEOUT_SECONDS * 1000),
        })
        : undefined,
      upstreamKeys: Object.freeze(upstreamKeys),
      upstreamBaseUrl: (v.SILICONFLOW_BASE_URL ?? DEFAULT_BASE_URL).replace(/\/+$/, ""),
      gatewayKeys: Object.freeze(gatewayKeys),
      authMode: upstreamKeys.length > 0 ? "pool" : "pass-through",
      publicBaseUrl: v.PUBLIC_BASE_URL?.replace(/\/+$/, ""),
      kvPath: v.KV_PATH ?? (onDeploy ? undefined : DEFAULT_KV_PATH),
      imageTtlDays: v.IMAGE_TTL_DAYS,
      maxImagesPerRequest: v.MAX_IMAGES_PER_REQUEST,
      maxImageBytes: v.MAX_IMAGE_BYTES,
      defaultModel: v.DEFAULT_IMAGE_MODEL ?? "Kwai-Kolors/Kolors",
      models: models ? Object.freeze(models) : undefined,
      imageCacheBytes: Math.floor(v.IMAGE_CACHE_MB * MB),
      upstreamTimeoutMs: v.UPSTREAM_TIMEOUT_SECONDS * 1000,
      upstreamRetries: v.UPSTREAM_RETRIES,
      clientMaxConcurrent: v.CLIENT_MAX_CONCURRENT,
      clientImagesPerMinute: v.CLIENT_IMAGES_PER_MINUTE,
      downloadTimeoutMs: v.IMAGE_DOWNLOAD_TIMEOUT_SECONDS * 1000,
      downloadAllowHosts: v.DOWNLOAD_ALLOW_HOSTS,
      trustProxyHeaders: v.TRUST_PROXY_HEADERS,
      requestBodyTimeoutMs: Math.round(v.REQUEST_BODY_TIMEOUT_SECONDS * 1000),
      requestBytesBudget: v.REQUEST_BYTES_BUDGET,
      variants: Object.freeze({
        workers: v.VARIANT_WORKERS || navigator.hardwareConcurrency || 1,
        queue: v.VARIANT_QUEUE,
        maxPixels: Math.round(v.VARIANT_MAX_MEGAPIXELS * 1e6),
        timeoutMs: Math.round(v.VARIANT_TIMEOUT_SECONDS * 1000),
      }),
      shutdownGraceMs: Math.round(v.SHUTDOWN_GRACE_SECONDS * 1000),
      idleConnectionMs: Math.round(v.IDLE_CONNECTION_SECONDS * 1000),
      redeliverWindowMs: v.REDELIVER_WINDOW_SECONDS * 1000,
      chatProgress: v.CHAT_PROGRESS,
      chatImageFormat: v.CHAT_IMAGE_FORMAT,
      modelAliases: v.MODEL_ALIASES,
      b64ForAiSdk: v.B64_FOR_AI_SDK,
      b64ByDefault: v.B64_BY_DEFAULT,
      logFormat: v.LOG_FORMAT,
      logPrompts: v.LOG_PROMPTS,
      metricsToken: v.METRICS_TOKEN,
      keepAliveMs: Math.round(v.SSE_KEEPALIVE_SECONDS * 1000),
      keepAliveFormat: v.SSE_KEEPALIVE_FORMAT,
      markdownAlt: v.MARKDOWN_ALT,
      bannedKeywords: Object.freeze(
        (v.BANNED_KEYWORDS ?? "").split(/[,，\n]+/).map((w) => w.trim().toLowerCase())
          .filter((w) => w !== ""),
      ),
      promptEnhance: v.PROMPT_ENHANCE_MODEL
        ? Object.freeze({
          model: v.PROMPT_ENHANCE_MODEL,
          baseUrl: (v.PROMPT_ENHANCE_BASE_URL ?? v.SILICONFLOW_BASE_URL ?? DEFAULT_BASE_URL)
            .replace(/\/+$/, ""),
          apiKeys: Object.freeze(splitList(v.PROMPT_ENHANCE_API_KEY)),
          timeoutMs: v.PROMPT_ENHANCE_TIMEOUT_SECONDS * 1000,
        })
        : undefined,
    } satisfies Config,
  );
}
