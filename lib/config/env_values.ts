/**
 * zod schemas for the environment, as `config.ts` reads it: single values (empty means unset,
 * numbers within a range, sizes with units, http(s) URLs, the `MODELS_JSON` list, booleans, listen
 * addresses, S3 bucket names and key prefixes), and {@link envSchema}, every variable with its own.
 * Checks across variables are `config.ts`'s. Each failure message
 * names the bad value, so the one start-up error says exactly what to fix.
 *
 * @module
 */
import { z } from "zod";

export const MB = 1024 * 1024;

/** Parses `20971520`, `20MB`, `512k` or `1.5 MiB` into bytes. */
export function parseBytes(value: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?\s*$/i.exec(value);
  if (!match) return undefined;
  const unit = (match[2] ?? "b").toLowerCase()[0];
  const factor = unit === "k" ? 1024 : unit === "m" ? MB : unit === "g" ? 1024 * MB : 1;
  return Math.floor(Number(match[1]) * factor);
}

export const optionalText = z.string().trim().optional().transform((
  v,
) => (v === "" ? undefined : v));

export function numberVar(opts: { int?: boolean; min: number; max?: number; fallback: number }) {
  return optionalText.pipe(
    z.string().optional().transform((v, ctx) => {
      if (v === undefined) return opts.fallback;
      const n = Number(v);
      const ok = Number.isFinite(n) && (!opts.int || Number.isInteger(n)) && n >= opts.min &&
        (opts.max === undefined || n <= opts.max);
      if (!ok) {
        const range = opts.max === undefined ? `at least ${opts.min}` : `${opts.min}–${opts.max}`;
        ctx.addIssue({
          code: "custom",
          message: `must be ${opts.int ? "an integer" : "a number"} ${range}, got "${v}"`,
        });
        return z.NEVER;
      }
      return n;
    }),
  );
}

export const httpUrl = optionalText.pipe(
  z.string().optional().superRefine((v, ctx) => {
    if (v === undefined || (URL.canParse(v) && /^https?:$/.test(new URL(v).protocol))) return;
    ctx.addIssue({ code: "custom", message: `must be an http(s) URL, got "${v}"` });
  }),
);

export const modelsJson = optionalText.pipe(
  z.string().optional().transform((v, ctx) => {
    if (v === undefined) return undefined;
    try {
      const parsed = z.array(
        z.union([
          z.string().min(1),
          z.object({ id: z.string().optional(), name: z.string().optional(), model: z.string() })
            .partial().loose(),
        ]),
      ).safeParse(JSON.parse(v));
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new Error(`entry ${issue.path.join(".") || "(root)"}: ${issue.message}`);
      }
      return parsed.data.map((entry) => {
        if (typeof entry === "string") return { id: entry, owned_by: "siliconflow" };
        const id = entry.id ?? entry.model ?? entry.name;
        if (!id) throw new Error("an entry has no id, model or name");
        const owner = (entry as { owned_by?: unknown }).owned_by;
        return Object.freeze({ id, owned_by: typeof owner === "string" ? owner : "siliconflow" });
      });
    } catch (err) {
      ctx.addIssue({
        code: "custom",
        message: `must be a JSON array of model ids or {"id": …} objects: ${
          err instanceof Error ? err.message.split("\n")[0] : String(err)
        }`,
      });
      return z.NEVER;
    }
  }),
);

/** A size in bytes, written as `20971520`, `20MB` or `512k`. */
export function bytesVar(opts: { min: number; fallback: number }) {
  return optionalText.pipe(
    z.string().optional().transform((v, ctx) => {
      const n = v === undefined ? opts.fallback : parseBytes(v);
      if (n === undefined || n < opts.min) {
        ctx.addIssue({ code: "custom", message: `must be a size such as 20MB, got "${v}"` });
        return z.NEVER;
      }
      return n;
    }),
  );
}

/** `true`/`false` (or `1`/`0`). */
export const booleanVar = (fallback: "true" | "false") =>
  optionalText.pipe(
    z.enum(["true", "false", "1", "0"], { error: 'must be "true" or "false"' }).default(fallback)
      .transform((v) => v === "true" || v === "1"),
  );

/** An IPv4 or IPv6 address or a host name, as `Deno.serve` takes it; all interfaces by default. */
export const hostVar = optionalText.pipe(
  z.string().regex(/^(?:[A-Za-z0-9.-]+|\[?[0-9A-Fa-f:.]+\]?)$/, {
    error: (issue) => `must be an address such as 0.0.0.0 or 127.0.0.1, got "${issue.input}"`,
  }).default("0.0.0.0"),
);

/** An S3 bucket name as the S3 naming rules allow it. */
export const bucketVar = optionalText.pipe(
  z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, {
    error: (issue) =>
      `must be a bucket name (3–63 lower-case letters, digits, dots, hyphens), got "${issue.input}"`,
  }).optional(),
);

/** A key prefix inside a bucket, such as `images/`. */
export const prefixVar = optionalText.pipe(
  z.string().regex(/^[^/]/, { error: "must not start with a slash" }).optional(),
);

/**
 * One of a few words, e.g. `enumVar(["kv", "s3"], "kv")`; the error lists them as
 * `must be "kv" or "s3"`.
 */
export function enumVar<const T extends readonly [string, ...string[]]>(
  values: T,
  fallback: T[number],
) {
  const quoted = values.map((v) => `"${v}"`);
  const list = `${quoted.slice(0, -1).join(", ")} or ${quoted.at(-1)}`;
  return optionalText.pipe(z.enum(values, { error: `must be ${list}` }).default(fallback as never));
}

/** `alias=model` pairs separated by commas or newlines, spaces around "=" allowed; keys lower-cased. */
export const aliasesVar = optionalText.pipe(
  z.string().optional().transform((v, ctx) => {
    const aliases: Record<string, string> = {};
    for (const pair of (v ?? "").split(/[,\n]+/).map((p) => p.trim()).filter(Boolean)) {
      const [alias, target, ...rest] = pair.split("=").map((part) => part.trim());
      if (!alias || !target || rest.length > 0) {
        ctx.addIssue({ code: "custom", message: `must be alias=model pairs, got "${pair}"` });
        return z.NEVER;
      }
      aliases[alias.toLowerCase()] = target;
    }
    return Object.freeze(aliases);
  }),
);

const provider = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, "name must be 1–32 of a-z, 0-9, _ and -"),
  kind: z.enum(["siliconflow", "openai"], { error: 'kind must be "siliconflow" or "openai"' }),
  base_url: z.string().refine((v) => URL.canParse(v) && /^https?:$/.test(new URL(v).protocol), {
    error: "base_url must be an http(s) URL",
  }),
  keys: z.union([z.string(), z.array(z.string())]).transform((v) =>
    (Array.isArray(v) ? v : v.split(/[\s,]+/)).map((k) => k.trim()).filter(Boolean)
  ).pipe(z.array(z.string()).min(1, "keys must hold at least one key")),
  models: z.array(z.string().trim().min(1)).min(1, "models must name at least one model"),
});

/** `PROVIDERS_JSON`: more image providers, each serving the models it declares. */
export const providersJson = optionalText.pipe(
  z.string().optional().transform((v, ctx) => {
    if (v === undefined) return [];
    let json: unknown;
    try {
      json = JSON.parse(v);
    } catch {
      // V8's message quotes the text around the error, which may be a key: say only that.
      ctx.addIssue({ code: "custom", message: "is not valid JSON" });
      return z.NEVER;
    }
    const parsed = z.array(provider).safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      // The path names the entry and field, never a key's value.
      ctx.addIssue({
        code: "custom",
        message: `entry ${issue.path.join(".") || "(root)"}: ${issue.message}`,
      });
      return z.NEVER;
    }
    return parsed.data.map((p) =>
      Object.freeze({
        name: p.name,
        kind: p.kind,
        baseUrl: p.base_url.replace(/\/+$/, ""),
        keys: Object.freeze(p.keys),
        models: Object.freeze(p.models),
      })
    );
  }),
);

/** A `host[:port]` entry as URLs spell its host (`[FD00::0001]` as `[fd00::1]`), its port kept. */
function hostEntry(entry: string): string {
  const port = /^(?:\[[^\]]*\]|[^:]*):(\d+)$/.exec(entry)?.[1];
  return new URL(`http://${entry}/`).hostname + (port ? `:${Number(port)}` : "");
}

/** `host` or `host:port` entries (IPv6 in brackets), split on commas or spaces, lower-cased. */
export const hostListVar = optionalText.transform((v, ctx) => {
  const hosts = (v ?? "").split(/[\s,]+/).filter(Boolean);
  const bad = hosts.find((h) =>
    !/^(?:\[[0-9a-f:.]+\]|[a-z0-9._-]+)(?::\d{1,5})?$/i.test(h) || !URL.canParse(`http://${h}/`)
  );
  if (bad === undefined) return Object.freeze(hosts.map(hostEntry));
  ctx.addIssue({ code: "custom", message: `must be host names or host:port, got "${bad}"` });
  return z.NEVER;
});

/** One more image provider (`PROVIDERS_JSON`), serving the models it declares. */
export type ProviderConfig = z.output<typeof providersJson>[number];

/** Every environment variable the gateway reads, each with its schema. */
export const envSchema = z.object({
  PORT: numberVar({ int: true, min: 0, max: 65535, fallback: 8000 }),
  HOST: hostVar,
  IMAGE_STORE: enumVar(["kv", "s3"], "kv"),
  S3_ENDPOINT: httpUrl,
  S3_BUCKET: bucketVar,
  S3_REGION: optionalText.pipe(z.string().default("us-east-1")),
  S3_ACCESS_KEY_ID: optionalText,
  S3_SECRET_ACCESS_KEY: optionalText,
  S3_PREFIX: prefixVar,
  S3_PATH_STYLE: booleanVar("true"),
  S3_TIMEOUT_SECONDS: numberVar({ min: 0.1, max: 600, fallback: 30 }),
  SILICONFLOW_BASE_URL: httpUrl,
  PUBLIC_BASE_URL: httpUrl,
  // KV's expireIn and AbortSignal.timeout() both break past ~24.8 days in ms (2^31 - 1 ms for the
  // timer); these caps keep every setting far from that.
  IMAGE_TTL_DAYS: numberVar({ min: 0, max: 36500, fallback: 0 }),
  MAX_IMAGES_PER_REQUEST: numberVar({ int: true, min: 1, max: 100, fallback: 4 }),
  MAX_IMAGE_BYTES: bytesVar({ min: 1024, fallback: 20 * MB }),
  IMAGE_CACHE_MB: numberVar({ min: 0, max: 65536, fallback: 64 }),
  UPSTREAM_TIMEOUT_SECONDS: numberVar({ min: 1, max: 3600, fallback: 300 }),
  UPSTREAM_RETRIES: numberVar({ int: true, min: 0, max: 5, fallback: 2 }),
  // Off by default: relays (new-api, one-api) send all their users' traffic with one key, and
  // neither they nor LiteLLM limit clients unless told to; off also spares each generation's KV.
  CLIENT_MAX_CONCURRENT: numberVar({ int: true, min: 0, max: 10_000, fallback: 0 }),
  CLIENT_IMAGES_PER_MINUTE: numberVar({ int: true, min: 0, max: 1_000_000, fallback: 0 }),
  IMAGE_DOWNLOAD_TIMEOUT_SECONDS: numberVar({ min: 1, max: 3600, fallback: 60 }),
  DOWNLOAD_ALLOW_HOSTS: hostListVar,
  TRUST_PROXY_HEADERS: booleanVar("false"),
  // A 32 MB body at 2 Mbit/s takes about 2 minutes; 30 s suits clients near the gateway.
  REQUEST_BODY_TIMEOUT_SECONDS: numberVar({ min: 0.1, max: 3600, fallback: 30 }),
  // Request body bytes held at once. A body costs up to six times its size at its peak (bytes,
  // text, parsed JSON, the upstream request): two 31 MB generations at once peaked at 400 MB from
  // 75 MB idle, three at 536 MB. 64 MB (two bodies at the 32 MB cap) stays under Deno Deploy's
  // 512 MB per isolate; small bodies, nearly all of them, never come near it.
  REQUEST_BYTES_BUDGET: bytesVar({ min: 64 * 1024, fallback: 64 * MB }),
  SHUTDOWN_GRACE_SECONDS: numberVar({ min: 0, max: 600, fallback: 20 }),
  // Each recycling starts a listener: more often than twice a second is churn, not protection.
  IDLE_CONNECTION_SECONDS: numberVar({ min: 0, max: 3600, fallback: 60 }).refine(
    (v) => v === 0 || v >= 0.5,
    { error: (issue) => `must be 0 (off) or at least 0.5, got "${issue.input}"` },
  ),
  REDELIVER_WINDOW_SECONDS: numberVar({ int: true, min: 0, max: 86_400, fallback: 600 }),
  // Conversions (lib/variants/); 0 workers: one per CPU. One 4.2 MP (2048×2048) image took 254 MiB
  // (bench/codecs.ts), so two by default keep the pool within the memory targets on any machine.
  VARIANT_WORKERS: numberVar({ int: true, min: 0, max: 64, fallback: 2 }),
  VARIANT_QUEUE: numberVar({ int: true, min: 0, max: 10_000, fallback: 16 }),
  VARIANT_MAX_MEGAPIXELS: numberVar({ min: 0.01, max: 268, fallback: 4.2 }),
  VARIANT_TIMEOUT_SECONDS: numberVar({ min: 1, max: 600, fallback: 30 }),
  MODELS_JSON: modelsJson,
  MODELS: optionalText,
  DEFAULT_IMAGE_MODEL: optionalText,
  KV_PATH: optionalText,
  CHAT_PROGRESS: enumVar(["reasoning", "content", "off"], "reasoning"),
  CHAT_IMAGE_FORMAT: enumVar(["png", "webp", "jpeg", "avif"], "png"),
  // Proxies cut streams idle for 60–100 s; the issue asks for a comment at least every 15 s.
  SSE_KEEPALIVE_SECONDS: numberVar({ min: 0.01, max: 15, fallback: 15 }),
  // one-api forwards only `data:` lines, so comments never reach its clients.
  SSE_KEEPALIVE_FORMAT: enumVar(["comment", "data"], "comment"),
  MARKDOWN_ALT: enumVar(["prompt", "numbered", "plain"], "prompt"),
  BANNED_KEYWORDS: optionalText,
  PROMPT_ENHANCE_MODEL: optionalText,
  MODEL_ALIASES: aliasesVar,
  PROVIDERS_JSON: providersJson,
  B64_FOR_AI_SDK: booleanVar("true"),
  B64_BY_DEFAULT: booleanVar("false"),
  LOG_FORMAT: enumVar(["text", "json"], "text"),
  LOG_PROMPTS: booleanVar("false"),
  // A scrape token can be guessed like a client key if it is short.
  METRICS_TOKEN: optionalText.pipe(
    z.string().min(16, { error: "must have at least 16 characters" }).optional(),
  ),
  PROMPT_ENHANCE_BASE_URL: httpUrl,
  PROMPT_ENHANCE_API_KEY: optionalText,
  PROMPT_ENHANCE_TIMEOUT_SECONDS: numberVar({ min: 1, max: 300, fallback: 20 }),
});
