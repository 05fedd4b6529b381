/**
 * `GET /v1/status`: the health of the SiliconFlow key pool and of each provider's (`PROVIDERS_JSON`)
 * as counts only (healthy, resting, retired), never keys, for operators; behind a client key like
 * the rest of `/v1`.
 *
 * @module
 */
import { Hono } from "hono";
import type { GatewayServices } from "../services.ts";
import type { AuthVariables } from "./auth.ts";

export function statusRoutes({ config, pool, providers }: GatewayServices) {
  const app = new Hono<{ Variables: AuthVariables }>();
  app.get("/", (c) =>
    c.json(
      {
        object: "gateway.status",
        auth_mode: config.authMode,
        image_store: config.s3 ? "s3" : "kv",
        // In pass-through mode each client brings its own key: there is no pool to report on.
        pool: pool ? pool.health() : null,
        providers: providers.health(),
      },
      200,
      { "cache-control": "no-store" },
    ));
  return app;
}
