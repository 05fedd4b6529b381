/**
 * The long-lived pieces one gateway instance shares between requests, built from the config and
 * the injected dependencies: the upstream client, the key pool, the image cache, the model list.
 *
 * @module
 */
import type { Config } from "./config.ts";
import { ImageCache } from "./storage/memory_cache.ts";
import { KeyPool } from "./upstream/key_pool.ts";
import { consoleLogger, type Logger } from "./log.ts";
import { ModelList } from "./upstream/model_list.ts";
import { SiliconFlowClient } from "./upstream/siliconflow.ts";

export interface ServicesOptions {
  config: Config;
  kv: Deno.Kv;
  /** Used for every outgoing request (SiliconFlow and image downloads); tests pass their own. */
  fetch?: typeof fetch;
  logger?: Logger;
}

export interface GatewayServices {
  log: Logger;
  config: Config;
  kv: Deno.Kv;
  cache: ImageCache;
  siliconflow: SiliconFlowClient;
  /** Present in pool mode only. */
  pool: KeyPool | undefined;
  models: ModelList;
  /** What storing a downloaded image needs. */
  storage: {
    kv: Deno.Kv;
    cache: ImageCache;
    fetch: typeof fetch;
    downloadTimeoutMs: number;
    maxImageBytes: number;
    imageTtlMs: number;
  };
}

const DAY_MS = 24 * 3600_000;

export function createServices(
  { config, kv, fetch = globalThis.fetch, logger = consoleLogger }: ServicesOptions,
) {
  const cache = new ImageCache(config.imageCacheBytes);
  const siliconflow = new SiliconFlowClient({
    baseUrl: config.upstreamBaseUrl,
    fetch,
    timeoutMs: config.upstreamTimeoutMs,
  });
  const pool = config.authMode === "pool"
    ? new KeyPool(config.upstreamKeys, {
      onCooldown: (index, model, reason) =>
        logger.warn(`SiliconFlow key #${index + 1} set aside for ${model}: ${reason}`),
    })
    : undefined;
  return {
    log: logger,
    config,
    kv,
    cache,
    siliconflow,
    pool,
    models: new ModelList({
      fixed: config.models,
      aliases: Object.keys(config.modelAliases),
      siliconflow,
    }),
    storage: {
      kv,
      cache,
      fetch,
      downloadTimeoutMs: config.downloadTimeoutMs,
      maxImageBytes: config.maxImageBytes,
      imageTtlMs: config.imageTtlDays * DAY_MS,
    },
  } satisfies GatewayServices;
}
