/**
 * `POST /v1/images/generations`: OpenAI's Images API over SiliconFlow, answered with durable links.
 *
 * @module
 */
import { Hono } from "hono";
import { answerImages, MODEL_SUBSTITUTED_HEADER, substitutionNote } from "../generation/answer.ts";
import { completionOf } from "../generation/delivered.ts";
import { checkInputImages, chooseModel } from "../generation/model_choice.ts";
import { parseImageRequest } from "../openai/image_request.ts";
import { readJson } from "../openai/request_body.ts";
import type { GatewayServices } from "../services.ts";
import type { AuthVariables } from "./auth.ts";

export function imagesRoutes(services: GatewayServices) {
  const { config } = services;
  const app = new Hono<{ Variables: AuthVariables }>();

  app.post("/generations", async (c) => {
    const req = parseImageRequest(await readJson(c.req.raw, config.requestBodyTimeoutMs));
    const { info, substituted } = chooseModel(req.model ?? undefined, "generations", {
      aliases: config.modelAliases,
      defaultModel: config.defaultModel,
      declared: services.providers.declares,
    });
    checkInputImages(
      info,
      [req.image, req.image2, req.image3].filter(Boolean).length,
      "generations",
    );
    return await answerImages({ ...req, model: info.id }, services, {
      request: c.req.raw,
      completed: completionOf(c.env),
      requestedModel: req.model,
      withKey: c.get("withKey"),
      secrets: c.get("secrets"),
      client: c.get("client"),
      headers: substituted
        ? { [MODEL_SUBSTITUTED_HEADER]: substitutionNote(req.model, info.id) }
        : undefined,
    });
  });

  return app;
}
