/**
 * `POST /v1/images/generations`: OpenAI's Images API over SiliconFlow, answered with durable links.
 *
 * @module
 */
import { Hono } from "hono";
import type { AuthVariables } from "../auth.ts";
import { InvalidRequestError } from "../errors.ts";
import { generateImages } from "../generation.ts";
import { parseImageRequest } from "../image_request.ts";
import { planUpstreamCalls } from "../upstream_plan.ts";
import { storageState, toImagesResponse } from "../images_response.ts";
import { imageLink, publicOrigin } from "../links.ts";
import type { GatewayServices } from "../services.ts";
import { translateUpstreamError } from "../upstream_errors.ts";

export function imagesRoutes(services: GatewayServices) {
  const { config } = services;
  const app = new Hono<{ Variables: AuthVariables }>();

  app.post("/generations", async (c) => {
    const req = parseImageRequest(await readJson(c.req.raw));
    const plan = planUpstreamCalls(req, {
      defaultModel: config.defaultModel,
      maxImages: config.maxImagesPerRequest,
    });
    const secrets = c.get("secrets");
    const outcome = await generateImages(plan, {
      ...services.storage,
      siliconflow: services.siliconflow,
      withKey: c.get("withKey"),
      translate: (err) => translateUpstreamError(err, { authMode: config.authMode, secrets }),
    });

    const origin = publicOrigin(c.req.raw, config.publicBaseUrl);
    const body = toImagesResponse(outcome, {
      format: req.response_format ?? "url",
      linkFor: (id, ext) => imageLink(origin, id, ext),
      created: Math.floor(Date.now() / 1000),
      model: plan.model,
    });
    const storage = storageState(outcome);
    c.header("x-image-storage", storage);
    if (storage !== "kv") {
      for (const image of outcome.images.filter((i) => !i.stored)) {
        services.log.warn(
          `image not stored, answering with the upstream link: ${image.storeError}`,
        );
      }
    }
    if (outcome.failedCalls.length > 0) {
      c.header("x-images-failed", String(outcome.failedCalls.length));
      services.log.warn(
        `${outcome.failedCalls.length} of ${plan.bodies.length} upstream calls failed: ` +
          outcome.failedCalls.map((e) => e.message).join("; "),
      );
    }
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
