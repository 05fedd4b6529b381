/**
 * `POST /v1/images/edits`: OpenAI's image edit over SiliconFlow's edit models. The uploaded images
 * become the upstream `image`, `image2` and `image3`; the answer is the same `ImagesResponse` with
 * durable links as for generations.
 *
 * @module
 */
import { Hono } from "hono";
import type { AuthVariables } from "./auth.ts";
import { checkInputImageCount, defaultEditModel, readEditUpload } from "../openai/edit_request.ts";
import { GatewayError, InvalidRequestError } from "../errors.ts";
import { parseImageRequest } from "../openai/image_request.ts";
import { answerImages, MODEL_SUBSTITUTED_HEADER } from "../generation/answer.ts";
import { resolveInputImages } from "../generation/input_images.ts";
import { publicOrigin } from "../storage/links.ts";
import type { GatewayServices } from "../services.ts";
import { fitModel, resolveModel } from "../generation/upstream_plan.ts";
import { modelInfo } from "../generation/model_catalog.ts";

/** The response header that tells a client its mask was dropped. */
export const MASK_IGNORED_HEADER = "x-mask-ignored";
const MASK_IGNORED_NOTE = "SiliconFlow has no mask support; the mask was ignored";

export function imageEditRoutes(services: GatewayServices) {
  const { config } = services;
  const app = new Hono<{ Variables: AuthVariables }>();

  app.post("/edits", async (c) => {
    const upload = await readEditUpload(c.req.raw);
    const parsed = parseImageRequest(upload.fields);
    const count = upload.images.length;
    const aliases = config.modelAliases;
    const fallback = defaultEditModel(count, resolveModel(config.defaultModel, aliases));
    let { model, substituted } = fitModel(parsed.model ?? undefined, { aliases, fallback });
    // One alias (gpt-image-1 = a text-to-image model) serves both endpoints: edits go to an edit model.
    if (parsed.model && modelInfo(model).maxInputImages === 0) {
      model = fallback;
      substituted = true;
    }
    checkInputImageCount(model, count);
    const headers: Record<string, string> = {};
    if (upload.maskIgnored) headers[MASK_IGNORED_HEADER] = MASK_IGNORED_NOTE;
    if (substituted) headers[MODEL_SUBSTITUTED_HEADER] = `${parsed.model} -> ${model}`;
    const [image, image2, image3] = await inlineOwnImages(upload.images, services, c.req.raw);
    return await answerImages({ ...parsed, model, image, image2, image3 }, services, {
      request: c.req.raw,
      kind: "image_edit",
      withKey: c.get("withKey"),
      secrets: c.get("secrets"),
      headers,
    });
  });

  return app;
}

/** Our own `/i/` links sent inline (SiliconFlow cannot reach a private gateway); errors name `image`. */
async function inlineOwnImages(images: string[], services: GatewayServices, request: Request) {
  try {
    return await resolveInputImages(images, {
      ...services.storage,
      ownOrigin: publicOrigin(request, services.config.publicBaseUrl),
    });
  } catch (err) {
    if (!(err instanceof GatewayError) || err.param !== "messages") throw err;
    throw new InvalidRequestError(err.message, { param: "image", code: err.code });
  }
}
