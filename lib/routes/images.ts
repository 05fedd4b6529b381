/**
 * `POST /v1/images/generations`: OpenAI's Images API over SiliconFlow, answered with durable links.
 *
 * @module
 */
import { Hono } from "hono";
import type { AuthVariables } from "../auth.ts";
import { generateWithTools } from "../generation.ts";
import { parseImageRequest } from "../image_request.ts";
import { readJson } from "../request_body.ts";
import { planUpstreamCalls } from "../upstream_plan.ts";
import { storageState, toImagesResponse } from "../images_response.ts";
import { imageLink, publicOrigin } from "../links.ts";
import { checkBannedKeywords } from "../prompt_tools.ts";
import type { GatewayServices } from "../services.ts";

export function imagesRoutes(services: GatewayServices) {
  const { config } = services;
  const app = new Hono<{ Variables: AuthVariables }>();

  app.post("/generations", async (c) => {
    const req = parseImageRequest(await readJson(c.req.raw));
    checkBannedKeywords(req.prompt, config.bannedKeywords);
    const context = { withKey: c.get("withKey"), secrets: c.get("secrets") };
    const planned = planUpstreamCalls(req, {
      defaultModel: config.defaultModel,
      maxImages: config.maxImagesPerRequest,
    });
    // Enhancement comes after every check, so a refused request never pays for an LLM call.
    const { outcome, plan, revisedPrompt } = await generateWithTools(
      planned,
      req.prompt,
      services,
      context,
    );

    const origin = publicOrigin(c.req.raw, config.publicBaseUrl);
    const body = toImagesResponse(outcome, {
      format: req.response_format ?? "url",
      linkFor: (id, ext) => imageLink(origin, id, ext),
      created: Math.floor(Date.now() / 1000),
      model: plan.model,
      revisedPrompt,
    });
    c.header("x-image-storage", storageState(outcome));
    if (outcome.failedCalls.length > 0) {
      c.header("x-images-failed", String(outcome.failedCalls.length));
    }
    return c.json(body);
  });

  return app;
}
