/**
 * The gateway's Prometheus metrics, on `prom-client` (the most used Prometheus client for
 * JavaScript; it runs on Deno and on Deno Deploy, through their npm support). One registry per
 * gateway, created by the services and passed in like every other dependency: never the library's
 * global default registry, so tests can build many gateways.
 *
 * @module
 */
import client from "prom-client";
import { noteRequest } from "./request_context.ts";

const PREFIX = "sfgw_";

export interface Metrics {
  registry: client.Registry;
  requests: client.Counter<"route" | "method" | "status">;
  requestSeconds: client.Histogram<"route">;
  upstreamCalls: client.Counter<"provider" | "status">;
  upstreamErrors: client.Counter<"provider" | "kind">;
  imagesStored: client.Counter;
  bytesStored: client.Counter;
  storageSeconds: client.Histogram<"outcome">;
  cacheHits: client.Counter;
  cacheMisses: client.Counter;
  generationsInFlight: client.Gauge;
}

/** Key-pool counts by pool, as `/v1/status` reports them. */
export type PoolCounts = () => Record<
  string,
  { healthy: number; resting: number; retired: number }
>;

/** A fresh registry with every metric the gateway keeps; `pools` is read at each scrape. */
export function createMetrics(pools: PoolCounts = () => ({})): Metrics {
  const registry = new client.Registry();
  const registers = [registry];
  new client.Gauge({
    name: `${PREFIX}key_pool_keys`,
    help: "Keys of each upstream key pool, by state (healthy, resting, retired).",
    labelNames: ["pool", "state"],
    registers,
    collect() {
      this.reset();
      for (const [pool, counts] of Object.entries(pools())) {
        for (const state of ["healthy", "resting", "retired"] as const) {
          this.set({ pool, state }, counts[state]);
        }
      }
    },
  });
  return {
    registry,
    requests: new client.Counter({
      name: `${PREFIX}http_requests_total`,
      help: "HTTP requests answered, by route, method and status.",
      labelNames: ["route", "method", "status"],
      registers,
    }),
    requestSeconds: new client.Histogram({
      name: `${PREFIX}http_request_duration_seconds`,
      help: "Time to answer an HTTP request (for streams: until the stream ends), by route.",
      labelNames: ["route"],
      buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers,
    }),
    upstreamCalls: new client.Counter({
      name: `${PREFIX}upstream_calls_total`,
      help: "Calls to upstream providers, by provider and HTTP status (0: no answer).",
      labelNames: ["provider", "status"],
      registers,
    }),
    upstreamErrors: new client.Counter({
      name: `${PREFIX}upstream_errors_total`,
      help: "Failed upstream calls, by provider and kind (timeout, aborted, network, " +
        "rate_limited, client_error, server_error).",
      labelNames: ["provider", "kind"],
      registers,
    }),
    imagesStored: new client.Counter({
      name: `${PREFIX}images_stored_total`,
      help: "Images stored behind durable links.",
      registers,
    }),
    bytesStored: new client.Counter({
      name: `${PREFIX}bytes_stored_total`,
      help: "Bytes of the images stored.",
      registers,
    }),
    storageSeconds: new client.Histogram({
      name: `${PREFIX}storage_duration_seconds`,
      help: "Time to download and store one image, by outcome (stored, failed).",
      labelNames: ["outcome"],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    cacheHits: new client.Counter({
      name: `${PREFIX}image_cache_hits_total`,
      help: "Image fetches answered from the memory cache.",
      registers,
    }),
    cacheMisses: new client.Counter({
      name: `${PREFIX}image_cache_misses_total`,
      help: "Image fetches that had to read storage.",
      registers,
    }),
    generationsInFlight: new client.Gauge({
      name: `${PREFIX}generations_in_flight`,
      help: "Image generations running now (Images API and chat).",
      registers,
    }),
  };
}

/** The kind of a failed call, for `upstream_errors_total`. */
function errorKind(status: number): string | undefined {
  if (status === 429) return "rate_limited";
  if (status >= 500) return "server_error";
  if (status >= 400) return "client_error";
  return undefined;
}

/**
 * `fetch` for one upstream provider, counted: every call by status, every failure by kind, and
 * the status noted on the current request for its log line.
 */
export function observedFetch(
  inner: typeof fetch,
  metrics: Metrics,
  provider: string,
): typeof fetch {
  return async (input, init) => {
    try {
      const res = await inner(input, init);
      metrics.upstreamCalls.inc({ provider, status: String(res.status) });
      const kind = errorKind(res.status);
      if (kind) metrics.upstreamErrors.inc({ provider, kind });
      noteRequest({ upstreamStatus: res.status });
      return res;
    } catch (err) {
      // The client's signal gives AbortError, the timeout's TimeoutError: a client that left is
      // no upstream timeout.
      const name = err instanceof DOMException ? err.name : "";
      const kind = name === "TimeoutError"
        ? "timeout"
        : name === "AbortError"
        ? "aborted"
        : "network";
      metrics.upstreamCalls.inc({ provider, status: "0" });
      metrics.upstreamErrors.inc({ provider, kind });
      throw err;
    }
  };
}
