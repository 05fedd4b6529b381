/**
 * What the app's router knows beyond a match, for the answers Hono leaves to `notFound`: the
 * request path with repeated slashes collapsed (one-api builds `baseURL + "/v1/…"`, so a base URL
 * with a trailing slash sends `//v1/…`), and which methods a path takes, so a wrong method gets
 * 405 with `Allow` instead of a 404 that says the route does not exist.
 *
 * @module
 */
import type { Context, Hono } from "hono";
import { matchedRoutes } from "hono/route";
import { TrieRouter } from "hono/router/trie-router";
import { getPathNoStrict } from "hono/utils/url";

/**
 * The path the app routes on: Hono's own (decoded as Hono decodes it, a trailing slash dropped),
 * with runs of slashes made one.
 */
export function routingPath(request: Request): string {
  const path = getPathNoStrict(request);
  if (!path.includes("//")) return path;
  const collapsed = path.replace(/\/{2,}/g, "/");
  return collapsed.length > 1 && collapsed.endsWith("/") ? collapsed.slice(0, -1) : collapsed;
}

/**
 * The route that answered, as registered (`/v1/models/:id{.+}`, `/i/:file`), for metrics whose
 * labels must stay few whatever paths clients invent; `unmatched` when no handler matched.
 */
export function routeLabel(c: Context): string {
  const handler = matchedRoutes(c).findLast((route) => route.method !== "ALL");
  return handler?.path ?? "unmatched";
}

/** The order `Allow` lists methods in: reading before writing, `OPTIONS` last. */
const ORDER = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
const rank = (method: string) => {
  const at = ORDER.indexOf(method);
  return at === -1 ? ORDER.length : at;
};

/** Answers which methods a path takes, from the routes an app has registered. */
export class AllowedMethods {
  #router = new TrieRouter<string>();
  #methods = new Set<string>();
  #extra: (path: string) => readonly string[];

  /** @param extra methods a path takes besides its routes' (`OPTIONS`, answered by CORS) */
  constructor(app: Hono, extra: (path: string) => readonly string[] = () => []) {
    for (const route of app.routes) {
      // Middleware is registered for every method ("ALL"); only handlers say what a path takes.
      if (route.method === "ALL") continue;
      this.#router.add(route.method, route.path, route.method);
      this.#methods.add(route.method);
    }
    this.#extra = extra;
  }

  /** The methods `path` takes, `HEAD` with `GET`; empty when no route has the path. */
  of(path: string): string[] {
    const found = [...this.#methods].filter((method) =>
      this.#router.match(method, path)[0].length > 0
    );
    if (found.length === 0) return [];
    if (found.includes("GET")) found.push("HEAD");
    const all = new Set([...found, ...this.#extra(path)]);
    return [...all].sort((a, b) => rank(a) - rank(b));
  }
}
