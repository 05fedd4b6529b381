/**
 * `GET /metrics`: the gateway's Prometheus metrics in the text exposition format, for a scraper
 * holding `METRICS_TOKEN` or, in pool mode, a gateway key. In pass-through mode every bearer token
 * is somebody's SiliconFlow key, so none can prove itself an operator: there only `METRICS_TOKEN`
 * opens the metrics.
 *
 * @module
 */
import { Hono } from "hono";
import { AuthenticationError, PermissionError } from "../errors.ts";
import type { GatewayServices } from "../services.ts";
import { bearerToken, isAllowedKey } from "./auth.ts";

export function metricsRoutes({ config, metrics }: GatewayServices) {
  const app = new Hono();
  const tokens = [
    ...(config.metricsToken ? [config.metricsToken] : []),
    ...(config.authMode === "pool" ? config.gatewayKeys : []),
  ];
  app.get("/", async (c) => {
    if (tokens.length === 0) {
      throw new PermissionError(
        403,
        "Metrics are off: in pass-through mode set METRICS_TOKEN to scrape /metrics",
        { code: "metrics_disabled" },
      );
    }
    const token = bearerToken(c.req.header("authorization"));
    if (token === undefined || !isAllowedKey(token, tokens)) {
      throw new AuthenticationError(
        "Send METRICS_TOKEN (or, in pool mode, a gateway key) as 'Authorization: Bearer <token>'",
      );
    }
    return new Response(await metrics.registry.metrics(), {
      headers: { "content-type": metrics.registry.contentType, "cache-control": "no-store" },
    });
  });
  return app;
}
