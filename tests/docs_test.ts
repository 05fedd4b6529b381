/**
 * Keeps the settings documented: every variable the config reads has a row in the README's
 * configuration table and an entry in `.env.example`, and `docs/clients.md` is linked from the
 * README.
 *
 * @module
 */
import assert from "node:assert/strict";
import { envSchema } from "../lib/env_values.ts";

const ROOT = new URL("../", import.meta.url);
const read = (path: string) => Deno.readTextFile(new URL(path, ROOT));

Deno.test("every setting has a README row and a .env.example entry", async () => {
  const readme = await read("README.md");
  const example = await read(".env.example");
  const names = Object.keys(envSchema.shape);
  assert.ok(names.length > 40, `${names.length} settings`);
  const undocumented = names.filter((name) =>
    !new RegExp(`^\\| [^|]*\`${name}\``, "m").test(readme)
  );
  const missing = names.filter((name) => !new RegExp(`^#? ?${name}=`, "m").test(example));
  assert.deepEqual({ undocumented, missing }, { undocumented: [], missing: [] });
});

Deno.test("docs/clients.md is linked from the README and has a recipe per client", async () => {
  const readme = await read("README.md");
  assert.match(readme, /\]\(docs\/clients\.md\)/);
  const headings = (await read("docs/clients.md")).match(/^## .+$/gm) ?? [];
  for (
    const client of [
      "Cherry Studio",
      "LobeChat",
      "Open WebUI",
      "NextChat",
      "SillyTavern",
      "new-api",
      "one-api",
      "Vercel AI SDK",
      "OpenAI SDKs",
      "curl",
    ]
  ) {
    assert.ok(headings.some((h) => h.includes(client)), `no recipe heading for ${client}`);
  }
});
