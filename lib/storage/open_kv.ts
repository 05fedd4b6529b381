/**
 * Opens Deno KV where `KV_PATH` says: a file (its folder is created), `:memory:`, a KV Connect
 * URL, or — with no path, as on Deno Deploy — the platform's default database.
 *
 * @module
 */
import { dirname } from "node:path";

export async function openKv(path: string | undefined): Promise<Deno.Kv> {
  if (path === undefined) return await Deno.openKv();
  if (path !== ":memory:" && !/^https?:\/\//i.test(path)) {
    await Deno.mkdir(dirname(path), { recursive: true });
  }
  return await Deno.openKv(path);
}
