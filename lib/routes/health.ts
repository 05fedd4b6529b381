/**
 * `GET /health` and `GET /v1/health`: liveness plus whether KV answers. Never needs a key, so load
 * balancers and uptime monitors can call it.
 *
 * @module
 */
import { Hono } from "hono";
import type { GatewayServices } from "../services.ts";

/** A KV check that takes longer than this counts as KV not answering. */
const KV_TIMEOUT_MS = 2000;

export function healthRoutes({ kv, config }: GatewayServices) {
  const app = new Hono();
  app.get("/", async (c) => {
    const kvOk = await kvAnswers(kv);
    return c.json(
      { status: kvOk ? "ok" : "degraded", kv: kvOk ? "ok" : "error", auth_mode: config.authMode },
      kvOk ? 200 : 503,
      { "cache-control": "no-store" },
    );
  });
  return app;
}

async function kvAnswers(kv: Deno.Kv): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), KV_TIMEOUT_MS);
  });
  try {
    return await Promise.race([kv.get(["health"]).then(() => true, () => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
