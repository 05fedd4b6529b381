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
  method: string;
  path: string;
  model?: string;
  images?: number;
  bytesStored?: number;
  upstreamStatus?: number;
  /** Only kept with `LOG_PROMPTS=true`. */
  prompt?: string;
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
