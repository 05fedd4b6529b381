/**
 * The middleware every request passes first: it gives the request its id (`X-Request-Id`, the
 * client's when sane), runs it in that request's context so every log line carries the id, counts
 * it in the metrics, and writes its one access line. Successful image fetches leave no line: chat
 * apps fetch the same links over and over, and at thousands of requests a second the log itself
 * becomes the cost.
 *
 * A streamed answer (SSE) is counted and logged when its stream ends, not when its headers go
 * out: only then are its duration, images and bytes known.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { accessLine, type AccessLogger, clip } from "../observability/log.ts";
import type { Metrics } from "../observability/metrics.ts";
import {
  endRequest,
  requestIdFrom,
  type RequestInfo,
  withRequest,
  workDone,
} from "../observability/request_context.ts";
import { routeLabel } from "./route_table.ts";

/** Methods counted under their own name; any other is `other`, so labels stay few. */
const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/**
 * @param clipText cuts client text for the log; by default {@link clip}. The gateway passes one
 *   that redacts secrets before it cuts, so that no key's beginning is left at the cut.
 */
export function requestObserver(
  log: AccessLogger,
  metrics: Metrics,
  clipText: (text: string, max: number) => string = clip,
): MiddlewareHandler {
  return async function observeRequest(c, next) {
    const start = performance.now();
    const info: RequestInfo = {
      id: requestIdFrom(c.req.header("x-request-id")),
      started: start,
      method: clip(c.req.method, 16),
      path: clipText(c.req.path, 200),
    };
    await withRequest(info, async () => {
      await next();
      withId(c, info.id);
      const route = routeLabel(c);
      const finish = () => {
        const done = () =>
          withRequest(info, () => {
            endRequest(info);
            // Nobody received the answer: logged as nginx logs a client that left (499).
            record(info.delivery === "undelivered" ? 499 : c.res.status, route);
          });
        // Work that outlives the answer (a generation whose client left) ends the request.
        const work = workDone(info);
        if (work) void work.then(done);
        else done();
      };
      const record = (status: number, route: string) => {
        const seconds = (performance.now() - start) / 1000;
        const method = METHODS.has(c.req.method) ? c.req.method : "other";
        metrics.requests.inc({ route, method, status: String(status) });
        metrics.requestSeconds.observe({ route }, seconds);
        if (status < 400 && info.path.startsWith("/i/")) return;
        const entry = { ...info, status, durationMs: Math.round(seconds * 1000) };
        if (log.access) log.access(entry);
        else log.info(accessLine(entry));
      };
      // The body is only touched for streams: reading `Response.body` turns any body into a stream.
      if (c.res.headers.get("content-type")?.startsWith("text/event-stream") && c.res.body) {
        c.res = new Response(c.res.body.pipeThrough(onEnd(finish)), c.res);
      } else finish();
    });
  };
}

/** Sets `X-Request-Id`; a response with immutable headers (`Response.redirect`) is copied first. */
function withId(c: Context, id: string): void {
  try {
    c.res.headers.set("x-request-id", id);
  } catch {
    c.res = new Response(c.res.body, c.res);
    c.res.headers.set("x-request-id", id);
  }
}

/** Passes a stream through, calling `done` once when it ends or the client leaves. */
function onEnd(done: () => void): TransformStream<Uint8Array, Uint8Array> {
  let called = false;
  const once = () => {
    if (called) return;
    called = true;
    done();
  };
  return new TransformStream<Uint8Array, Uint8Array>({ flush: once, cancel: once });
}
