/**
 * Builds the gateway's Hono app from its configuration and dependencies. Nothing is opened here:
 * KV and `fetch` are passed in, so tests build as many apps as they like.
 *
 * @module
 */
import { Hono } from "hono";
import { cors } from "hono/cors";
import { type AuthVariables, clientAuth } from "./routes/auth.ts";
import type { Config } from "./config/config.ts";
import { errorResponse, MethodNotAllowedError, NotFoundError } from "./errors.ts";
import { clip, escapeControl, type Logger } from "./observability/log.ts";
import { bodyGuard } from "./routes/body_guard.ts";
import { chatRoutes } from "./routes/chat.ts";
import { galleryRoutes } from "./routes/gallery.ts";
import { healthRoutes } from "./routes/health.ts";
import { imageEditRoutes } from "./routes/image_edits.ts";
import { imageFileRoutes } from "./routes/image_files.ts";
import { imagesRoutes } from "./routes/image_generations.ts";
import { modelRoutes } from "./routes/models.ts";
import { metricsRoutes } from "./routes/metrics.ts";
import { playgroundRoutes } from "./routes/playground.ts";
import { requestObserver } from "./routes/request_observer.ts";
import { AllowedMethods, routingPath } from "./routes/route_table.ts";
import { statusRoutes } from "./routes/status.ts";
import { type Convert, createServices, type GatewayServices } from "./services.ts";

export interface AppOptions {
  config: Config;
  kv: Deno.Kv;
  /** Used for SiliconFlow calls and image downloads; defaults to the global `fetch`. */
  fetch?: typeof fetch;
  /** Where log lines go; the console by default. */
  logger?: Logger;
  /** Makes image variants; every variant is refused without one (see `storage/image_variants.ts`). */
  convert?: Convert;
}

/** Paths whose `OPTIONS` requests CORS answers. */
const CORS_PATHS = /^\/(?:v1|models|i)(?:\/|$)/;

export interface Gateway {
  app: Hono;
  services: GatewayServices;
}

/** Creates the app; `services` is returned for the sweeper and for tests. */
export function createGateway({ config, kv, fetch, logger, convert }: AppOptions): Gateway {
  const services = createServices({ config, kv, fetch, logger, convert });
  const { log } = services;
  // Not strict about a trailing slash, and `//v1/…` routes as `/v1/…` (see `routingPath`).
  const app = new Hono({ getPath: routingPath });

  // First: the request's id, its context for log lines, its metrics and access line.
  // Paths are client text: secrets are taken out before a path is cut for the log.
  app.use(
    requestObserver(
      log,
      services.metrics,
      (text, max) => escapeControl(services.redactor.clipped(text, max)),
    ),
  );
  // Second: every body under the byte budget, and the connection of one left unread freed.
  app.use(bodyGuard(services.bodyBudget));
  app.onError((err) => errorResponse(err, log));
  // Built on first use, once every route is registered.
  let allowed: AllowedMethods | undefined;
  // Returned, not thrown: Hono runs this handler outside the middleware chain's error handling.
  app.notFound((c) => {
    const path = c.req.path;
    allowed ??= new AllowedMethods(app, (p) => (CORS_PATHS.test(p) ? ["OPTIONS"] : []));
    const methods = allowed.of(path);
    const method = clip(c.req.method, 16);
    const err = methods.length > 0
      ? new MethodNotAllowedError(
        // `Allow` lists OPTIONS too (CORS answers it); the advice names what does the work.
        `${method} is not allowed on ${clip(path)}; use ${
          methods.filter((m) => m !== "OPTIONS").join(", ")
        }`,
        methods,
      )
      : new NotFoundError(`No route for ${method} ${clip(path)}`, { code: "unknown_route" });
    return errorResponse(err, log);
  });

  app.route("/", playgroundRoutes());
  app.route("/", imageFileRoutes(services));
  app.route("/health", healthRoutes(services));
  app.route("/metrics", metricsRoutes(services));
  // Registered before the /v1 sub-app, so its auth middleware never sees health checks.
  app.route("/v1/health", healthRoutes(services));

  // CORS runs before auth so browser preflights (which carry no key) are answered.
  const apiCors = cors({
    origin: "*",
    allowMethods: ["GET", "POST", "DELETE", "OPTIONS"],
    exposeHeaders: [
      "x-image-storage",
      "x-images-failed",
      "retry-after",
      "retry-after-ms",
      "x-should-retry",
      "x-params-dropped",
      "x-mask-ignored",
      "x-model-substituted",
      "x-request-id",
      "x-redelivered",
      "idempotent-replayed",
    ],
    maxAge: 86400,
  });
  const api = new Hono<{ Variables: AuthVariables }>();
  api.use(apiCors);
  api.use(clientAuth(config, services.pool, services.retry));
  api.route("/images", galleryRoutes(services));
  api.route("/images", imagesRoutes(services));
  api.route("/images", imageEditRoutes(services));
  api.route("/chat", chatRoutes(services));
  api.route("/models", modelRoutes(services));
  api.route("/status", statusRoutes(services));
  app.route("/v1", api);
  // Older clients and seed projects call the list without the /v1 prefix.
  const bare = new Hono<{ Variables: AuthVariables }>();
  bare.use(apiCors);
  bare.use(clientAuth(config, services.pool, services.retry));
  bare.route("/", modelRoutes(services));
  app.route("/models", bare);

  return { app, services };
}
