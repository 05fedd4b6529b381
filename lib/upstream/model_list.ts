/**
 * The model list of `GET /v1/models`: SiliconFlow's own image models (text-to-image and
 * image-to-image), cached, or a fixed list from `MODELS`/`MODELS_JSON`.
 *
 * In pass-through mode each client's key lists its own models; lists are cached per key digest so
 * the key itself is never kept as a map key.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { ModelEntry } from "../config/config.ts";
import type { KeyRunner } from "./key_pool.ts";
import type { SiliconFlowClient } from "./siliconflow.ts";

/** OpenAI's model object. */
export interface OpenAIModel {
  id: string;
  object: "model";
  created: number;
  owned_by: string;
}

const CACHE_MS = 10 * 60_000;
const MAX_CACHED_LISTS = 1000;
/** SiliconFlow's listing puts 0 in `created`; a fixed date keeps the field meaningful and stable. */
const FALLBACK_CREATED = 1_704_067_200; // 2024-01-01

export interface ModelListOptions {
  fixed: readonly ModelEntry[] | undefined;
  /** `MODEL_ALIASES` keys, listed too: several clients use the Images API only for ids they know. */
  aliases?: readonly string[];
  /** The models of the other providers (`PROVIDERS_JSON`), listed after SiliconFlow's. */
  extra?: readonly { id: string; owned_by: string }[];
  siliconflow: SiliconFlowClient;
  now?: () => number;
}

export class ModelList {
  readonly #fixed: readonly ModelEntry[] | undefined;
  readonly #aliases: readonly string[];
  readonly #extra: readonly { id: string; owned_by: string }[];
  readonly #siliconflow: SiliconFlowClient;
  readonly #now: () => number;
  #cache = new Map<string, { models: OpenAIModel[]; at: number }>();

  constructor({ fixed, aliases = [], extra = [], siliconflow, now = Date.now }: ModelListOptions) {
    this.#fixed = fixed;
    this.#aliases = aliases;
    this.#extra = extra;
    this.#siliconflow = siliconflow;
    this.#now = now;
  }

  /**
   * The models visible with this key. Upstream failures are thrown (as `SiliconFlowError`), unless
   * an older list for the same key is cached: then the stale list is served.
   */
  async list(withKey: KeyRunner, secrets: readonly string[]): Promise<OpenAIModel[]> {
    const models = await this.#models(withKey, secrets);
    const ids = new Set(models.map((m) => m.id));
    const others = this.#extra.filter((m) => !ids.has(m.id))
      .map((m) => modelObject(m.id, FALLBACK_CREATED, m.owned_by));
    for (const m of others) ids.add(m.id);
    const aliases = this.#aliases.filter((alias) => !ids.has(alias))
      .map((alias) => modelObject(alias, FALLBACK_CREATED, "sf-image-gateway"));
    return [...models, ...others, ...aliases];
  }

  async #models(withKey: KeyRunner, secrets: readonly string[]): Promise<OpenAIModel[]> {
    if (this.#fixed) {
      return this.#fixed.map((m) => modelObject(m.id, FALLBACK_CREATED, m.owned_by));
    }
    const cacheKey = createHash("sha256").update(secrets.join("\n")).digest("hex");
    const hit = this.#cache.get(cacheKey);
    if (hit && this.#now() - hit.at < CACHE_MS) return hit.models;
    try {
      const models = await this.#fetch(withKey);
      if (this.#cache.size >= MAX_CACHED_LISTS) this.#cache.clear();
      this.#cache.set(cacheKey, { models, at: this.#now() });
      return models;
    } catch (err) {
      if (hit) return hit.models;
      throw err;
    }
  }

  async #fetch(withKey: KeyRunner): Promise<OpenAIModel[]> {
    const lists = await Promise.all(
      ["text-to-image", "image-to-image"].map((subType) =>
        withKey("models", (key) => this.#siliconflow.listModels(subType, key))
      ),
    );
    const seen = new Map<string, OpenAIModel>();
    for (const model of lists.flat()) {
      if (seen.has(model.id)) continue;
      seen.set(
        model.id,
        modelObject(model.id, model.created || FALLBACK_CREATED, model.owned_by || "siliconflow"),
      );
    }
    return [...seen.values()];
  }
}

function modelObject(id: string, created: number, owner: string): OpenAIModel {
  return { id, object: "model", created, owned_by: owner };
}
