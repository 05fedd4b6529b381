/**
 * `GET /v1/models` and `GET /v1/models/{id}` (ids contain a slash: `Kwai-Kolors/Kolors`).
 *
 * @module
 */
import { Hono } from "hono";
import type { AuthVariables } from "./auth.ts";
import { NotFoundError } from "../errors.ts";
import type { GatewayServices } from "../services.ts";
import { SiliconFlowError } from "../upstream/siliconflow.ts";
import { translateUpstreamError } from "../upstream/error_translation.ts";

export function modelRoutes({ config, models }: GatewayServices) {
  const app = new Hono<{ Variables: AuthVariables }>();

  async function list(withKey: AuthVariables["withKey"], secrets: readonly string[]) {
    try {
      return await models.list(withKey, secrets);
    } catch (err) {
      if (err instanceof SiliconFlowError) {
        throw translateUpstreamError(err, { authMode: config.authMode, secrets });
      }
      throw err;
    }
  }

  app.get("/", async (c) => {
    return c.json({ object: "list", data: await list(c.get("withKey"), c.get("secrets")) });
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
