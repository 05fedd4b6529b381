/**
 * The SiliconFlow key pool: spreads calls over the configured keys, sets keys aside by what went
 * wrong, and retries what cannot have been billed (`retry.ts`), on another healthy key where there
 * is one.
 *
 * - 401: the key is retired, for every model.
 * - Out of balance (402, or 403 with code 30001): it rests for every model, for an hour.
 * - Another 403 (real-name verification, a model it may not use): it rests for that model.
 * - 429: it rests for that model for as long as `Retry-After` says (1 s–10 min; 20 s without).
 *
 * A key a request was refused with never ran that request, so the next key is tried at once.
 * Every key resting: a 429 saying when the first is back. The pool's health is counts only
 * (healthy, resting, retired), never keys.
 *
 * @module
 */
import { backoffMs, type Clock, isRetryable, realClock, type RetryPolicy } from "./retry.ts";
import { DEFAULT_RETRY_POLICY } from "./retry.ts";
import { clampRetryAfter, SiliconFlowError } from "./siliconflow.ts";

/** Runs an upstream call with a key: the pool with failover, or the caller's own key. */
export type KeyRunner = <T>(model: string, call: (key: string) => Promise<T>) => Promise<T>;

const BALANCE_REST_MS = 60 * 60_000;
const FORBIDDEN_REST_MS = 10 * 60_000;
const DEFAULT_RATE_LIMIT_REST_S = 20;
/** Rests are keyed by the model name clients send; past this many, ended ones are pruned. */
const MAX_MODEL_RESTS = 1000;

export interface PoolHealth {
  keys: number;
  healthy: number;
  resting: number;
  retired: number;
}

export interface KeyPoolOptions {
  clock?: Clock;
  retry?: RetryPolicy;
  /** Called when a key is set aside; receives the key's position, never the key. */
  onSetAside?: (keyIndex: number, what: string) => void;
}

interface KeyState {
  retired: boolean;
  /** Epoch ms until which the key rests for every model. */
  restUntil: number;
  /** Model → epoch ms until which the key rests for it. */
  modelRest: Map<string, number>;
}

export class KeyPool {
  readonly #keys: readonly string[];
  readonly #state: KeyState[];
  readonly #clock: Clock;
  readonly #retry: RetryPolicy;
  readonly #onSetAside: KeyPoolOptions["onSetAside"];
  #next = 0;

  constructor(keys: readonly string[], options: KeyPoolOptions = {}) {
    if (keys.length === 0) throw new TypeError("Cannot create a key pool: no keys given");
    this.#keys = keys;
    this.#state = keys.map(() => ({ retired: false, restUntil: 0, modelRest: new Map() }));
    this.#clock = options.clock ?? realClock;
    this.#retry = options.retry ?? DEFAULT_RETRY_POLICY;
    this.#onSetAside = options.onSetAside;
  }

  /** Runs `call` with a healthy key, failing over and retrying as the module doc says. */
  async run<T>(model: string, call: (key: string) => Promise<T>): Promise<T> {
    // The rotation moves once per request, so requests spread over the keys.
    const start = this.#next;
    this.#next = (this.#next + 1) % this.#keys.length;
    const order = this.#keys.map((_, i) => (start + i) % this.#keys.length);
    const tried = new Set<number>();
    let retries = 0;
    let waited = 0;
    let last: SiliconFlowError | undefined;
    /** Waits `delay` if the time budget allows it; else gives up as `#unavailable` says. */
    const pause = async (delay: number, failure: SiliconFlowError | undefined) => {
      if (waited + delay > this.#retry.budgetMs) throw this.#unavailable(model, failure);
      await this.#clock.sleep(delay);
      waited += delay;
    };
    for (;;) {
      const ready = order.filter((i) => this.#ready(i, model));
      const index = ready.find((i) => !tried.has(i)) ?? ready[0];
      if (index === undefined) {
        // Every key is resting: wait for the first one back when that fits the time budget.
        // Nothing is sent meanwhile, so the wait spends time, not attempts; each wait is at
        // least half the base delay, so the budget bounds the loop.
        const recovery = this.#soonestRecovery(model);
        const delay = recovery === undefined
          ? Infinity
          : backoffMs(retries + 1, this.#retry, this.#clock, recovery);
        if (this.#retry.retries === 0) throw this.#unavailable(model, last);
        await pause(delay, last);
        continue;
      }
      tried.add(index);
      try {
        return await call(this.#keys[index]);
      } catch (err) {
        if (!(err instanceof SiliconFlowError)) throw err;
        last = err;
        // Refused for the key: the request never ran, so another key may take it at once; a rate
        // limit too, when another key is ready (that is failover, not a retry).
        const keyFault = this.#setAside(index, model, err);
        const another = order.some((i) => !tried.has(i) && this.#ready(i, model));
        if (keyFault && (err.status !== 429 || another)) continue;
        if (!isRetryable(err) || retries >= this.#retry.retries) throw err;
        retries++;
        // Overloaded or unreachable is no fault of the key: back off before any key is tried.
        const recovery = another ? 0 : this.#soonestRecovery(model);
        await pause(backoffMs(retries, this.#retry, this.#clock, recovery ?? 0), err);
      }
    }
  }

  /** Counts of the keys by state, for the status endpoint and metrics. */
  health(): PoolHealth {
    const now = this.#clock.now();
    const health = { keys: this.#keys.length, healthy: 0, resting: 0, retired: 0 };
    for (const state of this.#state) {
      if (state.retired) health.retired++;
      else if (state.restUntil > now || [...state.modelRest.values()].some((t) => t > now)) {
        health.resting++;
      } else health.healthy++;
    }
    return health;
  }

  #ready(index: number, model: string): boolean {
    const state = this.#state[index];
    const now = this.#clock.now();
    return !state.retired && state.restUntil <= now && (state.modelRest.get(model) ?? 0) <= now;
  }

  /** Ms until the first key is ready for `model` again, or `undefined` when all are retired. */
  #soonestRecovery(model: string): number | undefined {
    const now = this.#clock.now();
    const ends = this.#state.filter((s) => !s.retired)
      .map((s) => Math.max(s.restUntil, s.modelRest.get(model) ?? 0) - now);
    return ends.length === 0 ? undefined : Math.max(0, Math.min(...ends));
  }

  /** The error when no key is ready: the last key's own, or a 429 saying when one is back. */
  #unavailable(model: string, last: SiliconFlowError | undefined): SiliconFlowError {
    const now = this.#clock.now();
    const live = this.#state.filter((s) => !s.retired);
    if (!last && live.length > 0 && live.every((s) => s.restUntil > now)) {
      // Every key is out of balance: say so, as the first request was told.
      return new SiliconFlowError(402, "every key of the pool is out of balance", { code: 30001 });
    }
    const recovery = this.#soonestRecovery(model);
    if (recovery === undefined || (last && last.status !== 429)) {
      return last ?? new SiliconFlowError(401, "every key of the pool was rejected");
    }
    // The last rate limit as SiliconFlow worded it, with the wait until the first key is back.
    return new SiliconFlowError(429, last?.detail ?? "every key of the pool is resting", {
      code: last?.code,
      retryAfterSeconds: clampRetryAfter(recovery / 1000),
    });
  }

  /** Sets the key aside for what `err` says; returns whether the failure was about the key. */
  #setAside(index: number, model: string, err: SiliconFlowError): boolean {
    const state = this.#state[index];
    const now = this.#clock.now();
    if (err.status === 401) {
      state.retired = true;
      this.#onSetAside?.(index, "retired for every model: HTTP 401");
    } else if (err.status === 402 || (err.status === 403 && err.code === 30001)) {
      state.restUntil = now + BALANCE_REST_MS;
      this.#onSetAside?.(
        index,
        `resting for every model for 60 min: out of balance (HTTP ${err.status})`,
      );
    } else if (err.status === 403 || err.status === 429) {
      const ms = err.status === 429
        ? (err.retryAfterSeconds ?? DEFAULT_RATE_LIMIT_REST_S) * 1000
        : FORBIDDEN_REST_MS;
      if (state.modelRest.size >= MAX_MODEL_RESTS) {
        for (const [name, until] of state.modelRest) if (until <= now) state.modelRest.delete(name);
      }
      state.modelRest.set(model, now + ms);
      this.#onSetAside?.(index, `set aside for ${model}: HTTP ${err.status}`);
    } else return false;
    return true;
  }
}
