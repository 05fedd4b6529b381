/**
 * The gallery API: `GET /v1/images?limit=&after=` lists the caller's own images, newest first, in
 * OpenAI's list shape; `DELETE /v1/images/{id}` deletes one of them (its link then answers 404,
 * and on Deno Deploy its CDN copies are purged). The caller is the hash of its key
 * (`AuthVariables.client`): a gateway key in pool mode, the bearer token in pass-through mode.
 * Another key's image answers 404 like a missing one, revealing nothing.
 *
 * @module
 */
import { Hono } from "hono";
import { z } from "zod";
import { InvalidRequestError, NotFoundError } from "../errors.ts";
import type { GatewayServices } from "../services.ts";
import { deleteOwned, listOwned, MAX_GALLERY_PAGE } from "../storage/gallery.ts";
import { imageLink, linkExtension, publicOrigin } from "../storage/links.ts";
import type { AuthVariables } from "./auth.ts";

const querySchema = z.object({
  limit: z.string().regex(/^\d{1,3}$/, "limit must be a whole number").pipe(
    z.coerce.number(),
  ).pipe(
    z.number().int()
      .min(1, `limit must be between 1 and ${MAX_GALLERY_PAGE}`)
      .max(MAX_GALLERY_PAGE, `limit must be between 1 and ${MAX_GALLERY_PAGE}`),
  ).default(20),
  after: z.string().regex(/^[A-Za-z0-9_-]{11,43}$/, "after must be an image id").optional(),
});

/** Image ids as the gallery hands them out; other words under /v1/images are other routes. */
const ID = "[A-Za-z0-9_-]{16}";

export function galleryRoutes({ kv, images, config }: GatewayServices) {
  const app = new Hono<{ Variables: AuthVariables }>();

  app.get("/", async (c) => {
    const parsed = querySchema.safeParse(c.req.query());
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new InvalidRequestError(issue.message, {
        param: String(issue.path[0]),
        code: "invalid_value",
      });
    }
    const page = await listOwned(kv, c.get("client"), parsed.data);
    // The same answer for another's image as for a missing one: nothing is revealed.
    if (!page) {
      throw new InvalidRequestError(
        "after must be the id of one of your images; to start again, leave it out",
        { param: "after", code: "invalid_cursor" },
      );
    }
    const origin = publicOrigin(c.req.raw, config.publicBaseUrl, config.trustProxyHeaders);
    return c.json(
      {
        object: "list",
        data: page.images.map(({ id, meta }) => ({
          id,
          object: "image",
          url: imageLink(origin, id, linkExtension(meta)),
          prompt: meta.prompt ?? null,
          model: meta.model ?? null,
          size: meta.imageSize ?? null,
          created: Math.floor(meta.createdAt / 1000),
        })),
        first_id: page.images[0]?.id ?? null,
        last_id: page.images.at(-1)?.id ?? null,
        has_more: page.hasMore,
      },
      200,
      { "cache-control": "no-store" },
    );
  });

  app.delete(`/:id{${ID}}`, async (c) => {
    const id = c.req.param("id");
    if (!(await deleteOwned(images, c.get("client"), id))) {
      throw new NotFoundError(`No image "${id}" of yours`, {
        param: "id",
        code: "image_not_found",
      });
    }
    return c.json({ id, object: "image.deleted", deleted: true });
  });

  return app;
}
