/**
 * What the gateway knows about the request being served, wherever the code is: its id (for
 * `X-Request-Id` and every log line), and what it did (model, images, bytes stored, the last
 * upstream status) for its one summary log line. Carried by `AsyncLocalStorage`, so that no
 * function between the route and a log call has to pass it along.
 *
 * @module
 */
import { AsyncLocalStorage } from "node:async_hooks";

export interface RequestInfo {
  id: string;
  /** When it arrived (`performance.now()`). */
  started?: number;
  method: string;
  path: string;
  model?: string;
  images?: number;
  bytesStored?: number;
  upstreamStatus?: number;
  /** Only kept with `LOG_PROMPTS=true`. */
  prompt?: string;
  /**
   * An answer not given as usual: `undelivered` (its client left; kept for redelivery),
   * `redelivered` (a kept answer handed over), `replayed` (repeated for its idempotency key).
   */
  delivery?: "undelivered" | "redelivered" | "replayed";
  /** Run once when the request is over (its answer sent or abandoned, its work done). */
  cleanups?: (() => void)[];
  /** Work that outlives the handler (a stream's generation): the request is over when it ends. */
  work?: Promise<unknown>[];
}

const storage = new AsyncLocalStorage<RequestInfo>();

/** An incoming id we keep: short, printable, no spaces or quotes (it goes into logs and headers). */
const SANE_ID = /^[A-Za-z0-9._:/+=-]{1,128}$/;

/** The request's id: the client's or proxy's `X-Request-Id` when sane, else a fresh UUID. */
export function requestIdFrom(header: string | undefined | null): string {
  return header && SANE_ID.test(header) ? header : crypto.randomUUID();
}

/** Runs `fn` as the work of the request `info` describes. */
export function withRequest<T>(info: RequestInfo, fn: () => T): T {
  return storage.run(info, fn);
}

/**
 * `fn`, bound to the request being served now: for callbacks that run later, outside its context
 * (a response body's stream reading storage).
 */
export function bindRequest<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
  const info = storage.getStore();
  return info ? (...args) => storage.run(info, () => fn(...args)) : fn;
}

/** The request being served, if any. */
export function currentRequest(): RequestInfo | undefined {
  return storage.getStore();
}

/** Records what the current request did; outside a request, nothing. */
export function noteRequest(fields: Partial<Omit<RequestInfo, "id" | "method" | "path">>): void {
  const info = storage.getStore();
  if (!info) return;
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    if ((key === "images" || key === "bytesStored") && typeof value === "number") {
      info[key] = (info[key] ?? 0) + value;
    } else Object.assign(info, { [key]: value });
  }
}

/** Counts `work` as part of the current request, which is over only once it has settled. */
export function trackWork(work: Promise<unknown>): void {
  const info = storage.getStore();
  if (info) (info.work ??= []).push(work);
}

/** Settles when the request's tracked work has; `undefined` when it has none. */
export function workDone(info: RequestInfo): Promise<unknown> | undefined {
  return info.work?.length ? Promise.allSettled(info.work) : undefined;
}

/**
 * Runs `fn` once the current request is over: its answer sent (or its client gone) and its work
 * done. Outside a request, `fn` runs at once.
 */
export function onRequestEnd(fn: () => void): void {
  const info = storage.getStore();
  if (!info) return fn();
  (info.cleanups ??= []).push(fn);
}

/** Runs and forgets the request's end callbacks; each runs once, whatever the others do. */
export function endRequest(info: RequestInfo): void {
  const cleanups = info.cleanups ?? [];
  info.cleanups = [];
  for (const fn of cleanups) {
    try {
      fn();
    } catch {
      // A cleanup must not stop the others.
    }
  }
}

/**
 * The secrets a request brought (a pass-through bearer), for the redaction of its log lines. Kept
 * beside `RequestInfo`, not in it: no spread or serialisation of the record can ever log them.
 */
const secretsOf = new WeakMap<RequestInfo, readonly string[]>();

/** Records the current request's own secrets; outside a request, nothing. */
export function noteRequestSecrets(secrets: readonly string[]): void {
  const info = storage.getStore();
  if (info) secretsOf.set(info, secrets);
}

/** The current request's own secrets, if it brought any. */
export function requestSecrets(): readonly string[] | undefined {
  const info = storage.getStore();
  return info && secretsOf.get(info);
}
