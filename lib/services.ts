/**
 * The long-lived pieces one gateway instance shares between requests, built from the config and
 * the injected dependencies: the upstream client, the key pool, the image cache, the model list.
 *
 * @module
 */
import { ByteBudget } from "./byte_budget.ts";
import type { Config } from "./config/config.ts";
import { kvBlobStore } from "./storage/blob_store.ts";
import { deployCdnPurge } from "./storage/deploy_cdn.ts";
import { ImageStore } from "./storage/image_store.ts";
import type { Convert } from "./storage/image_variants.ts";
import { AVIF, type ImageType, JPEG, PNG, WEBP } from "./storage/image_type.ts";
import type { VariantFormat } from "./variant_kinds.ts";
import { qualityFor } from "./variants/options.ts";
import { ConversionPool } from "./variants/worker_pool.ts";

export type { Convert } from "./storage/image_variants.ts";
import { ImageCache } from "./storage/memory_cache.ts";
import { ClientLimits, LEASE_MS } from "./storage/client_limits.ts";
import { KeyPool, type KeyRunner } from "./upstream/key_pool.ts";
import {
  type AccessLogger,
  consoleLogger,
  escapingLogger,
  formattedLogger,
  type Logger,
  redactingLogger,
} from "./observability/log.ts";
import { configuredSecrets, Redactor } from "./observability/redaction.ts";
import { AddressGuard } from "./storage/address_guard.ts";
import { createMetrics, type Metrics, observedFetch } from "./observability/metrics.ts";
import { S3Bucket } from "./storage/s3_bucket.ts";
import { s3BlobStore } from "./storage/s3_store.ts";
import { ModelList } from "./upstream/model_list.ts";
import { Providers } from "./upstream/providers.ts";
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from "./upstream/retry.ts";
import { SiliconFlowClient } from "./upstream/siliconflow.ts";

export interface ServicesOptions {
  config: Config;
  kv: Deno.Kv;
  /** Used for every outgoing request (SiliconFlow and image downloads); tests pass their own. */
  fetch?: typeof fetch;
  /** Where log lines go, as they are; the console in `LOG_FORMAT` by default. */
  logger?: Logger;
  /** Makes image variants (`/i/<id>.webp`, `?w=`); the conversion pool by default. */
  convert?: Convert;
}

export interface GatewayServices {
  log: AccessLogger;
  /** The Prometheus registry and metrics of `/metrics`. */
  metrics: Metrics;
  config: Config;
  kv: Deno.Kv;
  cache: ImageCache;
  images: ImageStore;
  /** The object store for image bytes, when `IMAGE_STORE=s3`. */
  s3: S3Bucket | undefined;
  /** The workers that convert images to variants; started on the first conversion. */
  conversions: ConversionPool;
  siliconflow: SiliconFlowClient;
  /** Present in pool mode only. */
  pool: KeyPool | undefined;
  /** How upstream calls that cannot have been billed are retried. */
  retry: RetryPolicy;
  /** Per-client limits, counted in KV. */
  limits: ClientLimits;
  /** The providers of `PROVIDERS_JSON`, by the models they declare. */
  providers: Providers;
  /** The pool of `PROMPT_ENHANCE_API_KEY`'s keys, when it has any. */
  enhanceKeys: KeyRunner | undefined;
  /** Aborted when the shutdown grace ends: streams still open then end with a final event. */
  shutdown: AbortController;
  /** Request body bytes held at once by all requests (`REQUEST_BYTES_BUDGET`). */
  bodyBudget: ByteBudget;
  models: ModelList;
  /** Takes the configured secrets out of text; `.with(secrets)` adds a request's own. */
  redactor: Redactor;
  /** What storing a downloaded image needs. */
  storage: {
    images: ImageStore;
    fetch: typeof fetch;
    downloadTimeoutMs: number;
    maxImageBytes: number;
    imageTtlMs: number;
    /** Which hosts downloads may reach (`downloadImage`'s `guard`). */
    downloadGuard: AddressGuard;
  };
}

const DAY_MS = 24 * 3600_000;

const TYPE_OF_FORMAT = { png: PNG, jpeg: JPEG, webp: WEBP, avif: AVIF } satisfies Record<
  VariantFormat,
  ImageType
>;

/** The image store's converter made of the pool: the compression asked, or the format's default. */
function poolConverter(pool: ConversionPool): Convert {
  return async (original, want) => {
    // A copy: the pool takes the buffer it is given, and a cached original must stay whole.
    const out = await pool.convert(original.slice(), {
      format: want.format,
      width: want.width,
      quality: qualityFor(want.format, want.compression),
    });
    return { bytes: new Uint8Array(out.bytes), type: TYPE_OF_FORMAT[want.format] };
  };
}

export function createServices(
  { config, kv, fetch = globalThis.fetch, logger: given, convert }: ServicesOptions,
) {
  // Every line may carry text a client chose; escaped once here, no line can be forged. Every
  // line is redacted where it leaves: after the format has added the request's own fields.
  const redactor = new Redactor(configuredSecrets(config));
  const logger = escapingLogger(
    given
      ? redactingLogger(given, redactor)
      : formattedLogger(redactingLogger(consoleLogger, redactor), config.logFormat, {
        logPrompts: config.logPrompts,
      }),
  );
  // Read at each scrape; the pools are made below.
  const metrics = createMetrics(() => ({
    ...(pool ? { siliconflow: pool.health() } : {}),
    ...providers.health(),
  }));
  const retry = Object.freeze({ ...DEFAULT_RETRY_POLICY, retries: config.upstreamRetries });
  const cache = new ImageCache(config.imageCacheBytes);
  const enhanceKeys = config.promptEnhance?.apiKeys ?? [];
  const enhancePool = enhanceKeys.length > 0
    ? new KeyPool(enhanceKeys, {
      retry,
      onSetAside: (i, what) => logger.warn(`PROMPT_ENHANCE_API_KEY key #${i + 1} ${what}`),
    })
    : undefined;
  const providers = new Providers(config.providers, {
    fetch,
    fetchFor: (name) => observedFetch(fetch, metrics, name),
    timeoutMs: config.upstreamTimeoutMs,
    retry,
    log: logger,
  });
  const conversions = new ConversionPool({
    ...config.variants,
    onInline: (why) =>
      logger.warn(
        `Web Workers cannot start here (${String(why)}); image conversions run on the main ` +
          "thread, one at a time",
      ),
  });
  const kvBlobs = kvBlobStore(kv);
  const s3 = config.s3 ? new S3Bucket(config.s3, fetch) : undefined;
  const s3Blobs = s3 ? s3BlobStore(s3, kv) : undefined;
  const images = new ImageStore({
    kv,
    cache,
    blobs: s3Blobs ?? kvBlobs,
    // Images stored in KV before a switch to S3 are still read from KV.
    backends: s3Blobs ? [kvBlobs, s3Blobs] : [kvBlobs],
    log: logger,
    cdnPurge: config.denoDeploy ? deployCdnPurge(fetch) : undefined,
    convert: convert ?? poolConverter(conversions),
  });
  const siliconflow = new SiliconFlowClient({
    baseUrl: config.upstreamBaseUrl,
    fetch: observedFetch(fetch, metrics, "siliconflow"),
    timeoutMs: config.upstreamTimeoutMs,
  });
  const pool = config.authMode === "pool"
    ? new KeyPool(config.upstreamKeys, {
      retry,
      onSetAside: (index, what) => logger.warn(`SiliconFlow key #${index + 1} ${what}`),
    })
    : undefined;
  return {
    log: logger,
    metrics,
    config,
    kv,
    cache,
    images,
    s3,
    conversions,
    siliconflow,
    pool,
    retry,
    shutdown: new AbortController(),
    bodyBudget: new ByteBudget(config.requestBytesBudget),
    providers,
    enhanceKeys: enhancePool && ((model, call) => enhancePool.run(model, call)),
    limits: new ClientLimits(kv, {
      maxConcurrent: config.clientMaxConcurrent,
      imagesPerMinute: config.clientImagesPerMinute,
      leaseMs: LEASE_MS,
    }),
    redactor,
    models: new ModelList({
      fixed: config.models,
      aliases: Object.keys(config.modelAliases),
      extra: providers.models(),
      siliconflow,
    }),
    storage: {
      images,
      fetch,
      downloadTimeoutMs: config.downloadTimeoutMs,
      maxImageBytes: config.maxImageBytes,
      imageTtlMs: config.imageTtlDays * DAY_MS,
      downloadGuard: new AddressGuard({
        origins: [config.upstreamBaseUrl, ...config.providers.map((p) => p.baseUrl)],
        hosts: config.downloadAllowHosts,
      }),
    },
  } satisfies GatewayServices;
}
