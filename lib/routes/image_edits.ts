/**
 * `POST /v1/images/edits`: OpenAI's image edit over SiliconFlow's edit models. The uploaded images
 * become the upstream `image`, `image2` and `image3`; the answer is the same `ImagesResponse` with
 * durable links as for generations.
 *
 * @module
 */
import { Hono } from "hono";
import { answerImages, MODEL_SUBSTITUTED_HEADER, substitutionNote } from "../generation/answer.ts";
import { completionOf } from "../generation/delivered.ts";
import { resolveInputImages } from "../generation/input_images.ts";
import { checkInputImages, chooseModel } from "../generation/model_choice.ts";
import { readEditUpload } from "../openai/edit_request.ts";
import { parseImageRequest } from "../openai/image_request.ts";
import type { GatewayServices } from "../services.ts";
import { publicOrigin } from "../storage/links.ts";
import type { AuthVariables } from "./auth.ts";

/** The response header that tells a client its mask was dropped. */
export const MASK_IGNORED_HEADER = "x-mask-ignored";
const MASK_IGNORED_NOTE = "SiliconFlow has no mask support; the mask was ignored";

export function imageEditRoutes(services: GatewayServices) {
  const { config } = services;
  const app = new Hono<{ Variables: AuthVariables }>();

  app.post("/edits", async (c) => {
    const upload = await readEditUpload(c.req.raw, config.requestBodyTimeoutMs);
    const parsed = parseImageRequest(upload.fields);
    const count = upload.images.length;
    const { info, substituted } = chooseModel(parsed.model ?? undefined, "edits", {
      aliases: config.modelAliases,
      defaultModel: config.defaultModel,
      declared: services.providers.declares,
      inputImages: count,
    });
    checkInputImages(info, count, "edits");
    const headers: Record<string, string> = {};
    if (upload.maskIgnored) headers[MASK_IGNORED_HEADER] = MASK_IGNORED_NOTE;
    if (substituted) headers[MODEL_SUBSTITUTED_HEADER] = substitutionNote(parsed.model, info.id);
    // Our own /i/ links are sent inline: SiliconFlow cannot reach a private gateway.
    const [image, image2, image3] = await resolveInputImages(upload.images, {
      ...services.storage,
      ownOrigin: publicOrigin(c.req.raw, config.publicBaseUrl, config.trustProxyHeaders),
      param: "image",
      checked: true,
    });
    return await answerImages({ ...parsed, model: info.id, image, image2, image3 }, services, {
      request: c.req.raw,
      completed: completionOf(c.env),
      requestedModel: parsed.model,
      kind: "image_edit",
      withKey: c.get("withKey"),
      secrets: c.get("secrets"),
      client: c.get("client"),
      headers,
    });
  });

  return app;
}
