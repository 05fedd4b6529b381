/**
 * `POST /v1/images/generations`: OpenAI's Images API over SiliconFlow, answered with durable links.
 *
 * @module
 */
import { Hono } from "hono";
import type { AuthVariables } from "../auth.ts";
import { InvalidRequestError } from "../errors.ts";
import { generateFor, logOutcome } from "../generation.ts";
import { parseImageRequest } from "../image_request.ts";
import { planUpstreamCalls } from "../upstream_plan.ts";
import { storageState, toImagesResponse } from "../images_response.ts";
import { imageLink, publicOrigin } from "../links.ts";
import type { GatewayServices } from "../services.ts";

export function imagesRoutes(services: GatewayServices) {
  const { config } = services;
  const app = new Hono<{ Variables: AuthVariables }>();

  app.post("/generations", async (c) => {
    const req = parseImageRequest(await readJson(c.req.raw));
    const plan = planUpstreamCalls(req, {
      defaultModel: config.defaultModel,
      maxImages: config.maxImagesPerRequest,
    });
    const outcome = await generateFor(plan, services, {
      withKey: c.get("withKey"),
      secrets: c.get("secrets"),
    });

    const origin = publicOrigin(c.req.raw, config.publicBaseUrl);
    const body = toImagesResponse(outcome, {
      format: req.response_format ?? "url",
      linkFor: (id, ext) => imageLink(origin, id, ext),
      created: Math.floor(Date.now() / 1000),
      model: plan.model,
    });
    c.header("x-image-storage", storageState(outcome));
    if (outcome.failedCalls.length > 0) {
      c.header("x-images-failed", String(outcome.failedCalls.length));
    }
    logOutcome(outcome, plan.bodies.length, services.log);
    return c.json(body);
  });

  return app;
}

/** Parses a JSON body whatever its declared content type; bad JSON is the client's 400. */
export async function readJson(req: Request): Promise<unknown> {
  const text = await req.text();
  if (text.trim() === "") throw new InvalidRequestError("The request body is empty; send JSON");
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InvalidRequestError(
      `The request body is not valid JSON: ${err instanceof Error ? err.message : err}`,
      { code: "invalid_json" },
    );
  }
}
