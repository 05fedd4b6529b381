/**
 * `GET /v1/models` and `GET /v1/models/{id}` (ids contain a slash: `Kwai-Kolors/Kolors`). With
 * `?include=capabilities` each model also carries what the gateway's catalog knows of it (its
 * sizes, input images, steps and guidance), for the playground's controls; OpenAI's own shape is
 * unchanged without it.
 *
 * @module
 */
import { Hono } from "hono";
import type { AuthVariables } from "./auth.ts";
import { NotFoundError } from "../errors.ts";
import type { GatewayServices } from "../services.ts";
import { SiliconFlowError } from "../upstream/siliconflow.ts";
import { translateUpstreamError } from "../upstream/error_translation.ts";
import type { OpenAIModel } from "../upstream/model_list.ts";
import { modelInfo } from "../generation/model_catalog.ts";
import { resolveModel } from "../generation/model_choice.ts";

/**
 * What the playground needs to offer only what a model takes, from the catalog (an alias as the
 * model it stands for). Sizes are empty when the model chooses its own.
 */
export function capabilities(id: string, aliases: Readonly<Record<string, string>>) {
  const info = modelInfo(resolveModel(id, aliases));
  return {
    kind: info.kind,
    sizes: info.sizes,
    input_images: { min: info.minInputImages, max: info.maxInputImages },
    negative_prompt: info.params.has("negative_prompt"),
    seed: info.params.has("seed"),
    steps: info.steps ?? null,
    guidance: info.guidance ?? null,
  };
}

export function modelRoutes({ config, models, log }: GatewayServices) {
  const app = new Hono<{ Variables: AuthVariables }>();

  async function list(withKey: AuthVariables["withKey"], secrets: readonly string[]) {
    try {
      return await models.list(withKey, secrets);
    } catch (err) {
      if (err instanceof SiliconFlowError) {
        throw translateUpstreamError(err, {
          authMode: config.authMode,
          secrets,
          log: (line) => log.warn(line),
        });
      }
      throw err;
    }
  }

  app.get("/", async (c) => {
    const models = await list(c.get("withKey"), c.get("secrets"));
    const data = c.req.query("include") === "capabilities"
      ? models.map((m: OpenAIModel) => ({
        ...m,
        capabilities: capabilities(m.id, config.modelAliases),
      }))
      : models;
    return c.json({ object: "list", data });
  });

  app.get("/:id{.+}", async (c) => {
    const id = c.req.param("id");
    const models = await list(c.get("withKey"), c.get("secrets"));
    // Ids match without regard to case, as generation does: the exact spelling first.
    const lower = id.toLowerCase();
    const found = models.find((m) => m.id === id) ??
      models.find((m) => m.id.toLowerCase() === lower);
    if (!found) {
      throw new NotFoundError(`The model "${id}" does not exist`, {
        param: "model",
        code: "model_not_found",
      });
    }
    return c.json(found);
  });

  return app;
}
