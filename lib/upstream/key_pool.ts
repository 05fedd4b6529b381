/**
 * The SiliconFlow key pool: spreads calls over the configured keys and fails over to the next key
 * when one is rejected, out of balance or rate-limited. Other failures (a bad prompt, an overloaded
 * model) would fail with any key, so they are not retried on another one.
 *
 * SiliconFlow limits images per account and per model, so a rate-limited key cools down for that
 * model only, while an invalid key cools down for every model.
 *
 * @module
 */
import { SiliconFlowError } from "./siliconflow.ts";
import { isKeyProblem } from "./error_translation.ts";

const INVALID_KEY_COOLDOWN_MS = 10 * 60_000;
const DEFAULT_RATE_LIMIT_COOLDOWN_MS = 20_000;
const ANY_MODEL = "*";
/** Cooldowns are keyed by the model name clients send; past this many, expired ones are pruned. */
const MAX_COOLDOWNS = 1000;

/** Runs an upstream call with a key: the pool with failover, or the caller's own key. */
export type KeyRunner = <T>(model: string, call: (key: string) => Promise<T>) => Promise<T>;

export interface KeyPoolOptions {
  now?: () => number;
  /** Called when a key is set aside; receives the key's position, never the key. */
  onCooldown?: (keyIndex: number, model: string, reason: string) => void;
}

export class KeyPool {
  readonly #keys: readonly string[];
  readonly #now: () => number;
  readonly #onCooldown: KeyPoolOptions["onCooldown"];
  #next = 0;
  /** `${keyIndex}|${model}` → epoch ms until which the key is not used for that model. */
  #cooldowns = new Map<string, number>();

  constructor(keys: readonly string[], { now = Date.now, onCooldown }: KeyPoolOptions = {}) {
    if (keys.length === 0) throw new TypeError("Cannot create a key pool: no keys given");
    this.#keys = keys;
    this.#now = now;
    this.#onCooldown = onCooldown;
  }

  /**
   * Runs `call` with one key after another until one succeeds or a failure is not about the key.
   * Keys start at a rotating position; keys cooling down are skipped unless every key is.
   */
  async run<T>(model: string, call: (key: string) => Promise<T>): Promise<T> {
    let lastError: unknown;
    for (const index of this.#order(model)) {
      try {
        return await call(this.#keys[index]);
      } catch (err) {
        if (!(err instanceof SiliconFlowError) || !isKeyProblem(err)) throw err;
        this.#coolDown(index, model, err);
        lastError = err;
      }
    }
    throw lastError;
  }

  #order(model: string): number[] {
    const now = this.#now();
    const start = this.#next;
    this.#next = (this.#next + 1) % this.#keys.length;
    const rotated = this.#keys.map((_, i) => (start + i) % this.#keys.length);
    const ready = rotated.filter((i) => this.#cooldownEnd(i, model) <= now);
    if (ready.length > 0) return ready;
    // Every key is cooling down: try the one that recovers first rather than failing blind.
    const soonest = rotated.reduce((a, b) =>
      this.#cooldownEnd(b, model) < this.#cooldownEnd(a, model) ? b : a
    );
    return [soonest];
  }

  #cooldownEnd(index: number, model: string): number {
    return Math.max(
      this.#cooldowns.get(`${index}|${model}`) ?? 0,
      this.#cooldowns.get(`${index}|${ANY_MODEL}`) ?? 0,
    );
  }

  #coolDown(index: number, model: string, err: SiliconFlowError): void {
    const keyWide = err.status === 401 || err.status === 402;
    const ms = err.status === 429
      ? (err.retryAfterSeconds ?? DEFAULT_RATE_LIMIT_COOLDOWN_MS / 1000) * 1000
      : INVALID_KEY_COOLDOWN_MS;
    const scope = keyWide ? ANY_MODEL : model;
    const now = this.#now();
    if (this.#cooldowns.size >= MAX_COOLDOWNS) {
      for (const [key, until] of this.#cooldowns) if (until <= now) this.#cooldowns.delete(key);
    }
    this.#cooldowns.set(`${index}|${scope}`, now + ms);
    this.#onCooldown?.(index, scope, `HTTP ${err.status}`);
  }
}
