/**
 * The providers besides SiliconFlow (`PROVIDERS_JSON`): each serves the models it declares, with
 * its own key pool (and retries), and its failures are named after it. Every model not declared
 * here is SiliconFlow's, as the gateway's default provider.
 *
 * @module
 */
import type { ProviderConfig } from "../config/config.ts";
import type { Logger } from "../observability/log.ts";
import { KeyPool, type PoolHealth } from "./key_pool.ts";
import { OpenAIImagesClient } from "./openai_images.ts";
import type { RetryPolicy } from "./retry.ts";
import { SiliconFlowClient } from "./siliconflow.ts";

/** Where one declared model's calls go. */
export interface ProviderRoute {
  name: string;
  /** How its messages name it: `provider "fal"`. */
  label: string;
  client: SiliconFlowClient;
  pool: KeyPool;
  keys: readonly string[];
  /** The model id as the provider declared it. */
  model: string;
}

export interface ProvidersOptions {
  fetch: typeof fetch;
  /** Each provider's own `fetch`, by its name (counted under that name); `fetch` otherwise. */
  fetchFor?: (name: string) => typeof fetch;
  timeoutMs: number;
  retry: RetryPolicy;
  log: Logger;
}

export class Providers {
  readonly #byModel = new Map<string, ProviderRoute>();
  readonly #listed: { id: string; owned_by: string }[] = [];

  constructor(
    configs: readonly ProviderConfig[],
    { fetch, fetchFor, timeoutMs, retry, log }: ProvidersOptions,
  ) {
    for (const config of configs) {
      const options = {
        baseUrl: config.baseUrl,
        fetch: fetchFor?.(config.name) ?? fetch,
        timeoutMs,
      };
      const client = config.kind === "openai"
        ? new OpenAIImagesClient(options)
        : new SiliconFlowClient(options);
      const pool = new KeyPool(config.keys, {
        retry,
        onSetAside: (i, what) => log.warn(`provider "${config.name}" key #${i + 1} ${what}`),
      });
      for (const model of config.models) {
        this.#byModel.set(model.toLowerCase(), {
          name: config.name,
          label: `provider "${config.name}"`,
          client,
          pool,
          keys: config.keys,
          model,
        });
        this.#listed.push({ id: model, owned_by: config.name });
      }
    }
  }

  /** The declared provider of a model (any letter case), or `undefined` for SiliconFlow's. */
  route(model: string): ProviderRoute | undefined {
    return this.#byModel.get(model.toLowerCase());
  }

  /** The model id as a provider declared it (any letter case asked), or `undefined`. */
  declares = (model: string): string | undefined => this.#byModel.get(model.toLowerCase())?.model;

  /** Each provider's key pool health, by name (counts only). */
  health(): Record<string, PoolHealth> {
    const out: Record<string, PoolHealth> = {};
    for (const route of this.#byModel.values()) out[route.name] ??= route.pool.health();
    return out;
  }

  /** The declared models, for `/v1/models`. */
  models(): readonly { id: string; owned_by: string }[] {
    return this.#listed;
  }
}
