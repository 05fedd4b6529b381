/**
 * Deno Deploy's CDN: purging the cached copies of a deleted image through Deploy's documented
 * invalidation endpoint (docs.deno.com/deploy/reference/caching: `POST
 * http://cache.localhost/invalidate/http` with `{"tags": [...]}`, at most 500 tags a request).
 * `/i/` answers carry the tags (`routes/image_files.ts`).
 *
 * @module
 */
import type { CdnPurge } from "./image_store.ts";

const INVALIDATE_URL = "http://cache.localhost/invalidate/http";
const MAX_TAGS = 500;

/** A purge through `fetch`, which on Deploy reaches the CDN's local endpoint. */
export function deployCdnPurge(fetch: typeof globalThis.fetch): CdnPurge {
  return async (tags) => {
    for (let i = 0; i < tags.length; i += MAX_TAGS) {
      const res = await fetch(INVALIDATE_URL, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ tags: tags.slice(i, i + MAX_TAGS) }),
      });
      await res.body?.cancel();
      if (!res.ok) throw new Error(`the CDN answered HTTP ${res.status} to the purge`);
    }
  };
}
