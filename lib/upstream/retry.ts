/**
 * Retrying upstream calls without double billing: only failures that cannot have started (and
 * billed) the work are retried — a connection that never opened, SiliconFlow's "model service
 * overloaded" (503 with code 50505), and rate limits (429) — with jittered exponential back-off,
 * at most `UPSTREAM_RETRIES` times and within a time budget. Timeouts and cut-off replies are
 * never retried: SiliconFlow may be making (and billing) the image.
 *
 * @module
 */
import { SiliconFlowError } from "./siliconflow.ts";

export interface RetryPolicy {
  /** Retries after the first attempt (`UPSTREAM_RETRIES`); 0 turns retrying off. */
  retries: number;
  /** Most time spent waiting between attempts, in all. */
  budgetMs: number;
  /** The first wait; doubled at each retry, with ±50 % jitter. */
  baseDelayMs: number;
}

/** Three attempts and about 15 s in all, as the issue asks. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = { retries: 2, budgetMs: 15_000, baseDelayMs: 500 };

/** Time, waiting and chance, passed in so tests can run retries without sleeping. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
  random(): number;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  random: () => Math.random(),
};

/** SiliconFlow's code for "model service overloaded, please try again later". */
export const OVERLOADED = 50505;

/** Whether SiliconFlow cannot have started the work, so that trying again costs nothing. */
export function isRetryable(err: SiliconFlowError): boolean {
  if (err.status === 429) return true;
  if (err.status === 503 && err.code === OVERLOADED) return true;
  return err.status === 0 && err.connectFailed;
}

/** The wait before retry number `retry` (1-based): jittered exponential, at least `atLeastMs`. */
export function backoffMs(retry: number, policy: RetryPolicy, clock: Clock, atLeastMs = 0): number {
  const exponential = policy.baseDelayMs * 2 ** (retry - 1);
  return Math.max(Math.round(exponential * (0.5 + clock.random())), atLeastMs);
}

/** Runs `call` with one key (the client's own, in pass-through mode), retrying what may be. */
export async function withRetries<T>(
  call: () => Promise<T>,
  policy: RetryPolicy,
  clock: Clock = realClock,
): Promise<T> {
  let waited = 0;
  for (let retry = 1;; retry++) {
    try {
      return await call();
    } catch (err) {
      if (!(err instanceof SiliconFlowError) || !isRetryable(err) || retry > policy.retries) {
        throw err;
      }
      const delay = backoffMs(retry, policy, clock, (err.retryAfterSeconds ?? 0) * 1000);
      if (waited + delay > policy.budgetMs) throw err;
      await clock.sleep(delay);
      waited += delay;
    }
  }
}
