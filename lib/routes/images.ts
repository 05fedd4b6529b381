/**
 * `POST /v1/images/generations`: OpenAI's Images API over SiliconFlow, answered with durable links.
 *
 * @module
 */
import { Hono } from "hono";
import type { AuthVariables } from "../auth.ts";
import { parseImageRequest } from "../image_request.ts";
import { answerImages } from "../images_answer.ts";
import { readJson } from "../request_body.ts";
import type { GatewayServices } from "../services.ts";

export function imagesRoutes(services: GatewayServices) {
  const app = new Hono<{ Variables: AuthVariables }>();

  app.post("/generations", async (c) => {
    const req = parseImageRequest(await readJson(c.req.raw));
    return await answerImages(req, services, {
      request: c.req.raw,
      withKey: c.get("withKey"),
      secrets: c.get("secrets"),
    });
  });

  return app;
}
