/**
 * `POST /v1/images/generations`: OpenAI's Images API over SiliconFlow, answered with durable links.
 *
 * @module
 */
import { Hono } from "hono";
import type { AuthVariables } from "./auth.ts";
import { parseImageRequest } from "../openai/image_request.ts";
import { answerImages, MODEL_SUBSTITUTED_HEADER } from "../generation/answer.ts";
import { readJson } from "../openai/request_body.ts";
import { InvalidRequestError } from "../errors.ts";
import { modelInfo } from "../generation/model_catalog.ts";
import type { GatewayServices } from "../services.ts";
import { fitModel } from "../generation/upstream_plan.ts";

export function imagesRoutes(services: GatewayServices) {
  const app = new Hono<{ Variables: AuthVariables }>();

  app.post("/generations", async (c) => {
    const req = parseImageRequest(await readJson(c.req.raw));
    const { config } = services;
    const { model, substituted } = fitModel(req.model ?? undefined, {
      aliases: config.modelAliases,
      fallback: config.defaultModel,
    });
    const info = modelInfo(model);
    const images = [req.image, req.image2, req.image3].filter(Boolean).length;
    if (images < info.minInputImages) {
      throw new InvalidRequestError(
        `${info.id} edits images: send the picture as image (data URI or URL), or use ` +
          "/v1/images/edits",
        { param: "image", code: "missing_image" },
      );
    }
    return await answerImages({ ...req, model }, services, {
      request: c.req.raw,
      withKey: c.get("withKey"),
      secrets: c.get("secrets"),
      headers: substituted ? { [MODEL_SUBSTITUTED_HEADER]: `${req.model} -> ${model}` } : undefined,
    });
  });

  return app;
}
