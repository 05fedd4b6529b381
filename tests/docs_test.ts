/**
 * Keeps the settings documented: every variable the config reads has a row in the configuration
 * table of `docs/configuration.md` and an entry in `.env.example`; the README stays a short front
 * page whose links to `docs/` all resolve, and `docs/clients.md` has a recipe per client.
 *
 * @module
 */
import assert from "node:assert/strict";
import { envSchema } from "../lib/config/env_values.ts";

const ROOT = new URL("../", import.meta.url);
const read = (path: string) => Deno.readTextFile(new URL(path, ROOT));

Deno.test("every setting has a row in docs/configuration.md and a .env.example entry", async () => {
  const readme = await read("docs/configuration.md");
  const example = await read(".env.example");
  // The schema's settings, and those `config.ts` reads by name with their older aliases
  // (`pick(env, "GATEWAY_API_KEYS", "ALLOW_CLIENT_KEYS", …)`): the first name is the documented one.
  const picked = [...(await read("lib/config/config.ts")).matchAll(/pick\(env, "([A-Z0-9_]+)"/g)]
    .map((m) => m[1]);
  assert.ok(picked.includes("GATEWAY_API_KEYS") && picked.includes("SILICONFLOW_API_KEYS"));
  const names = [...new Set([...Object.keys(envSchema.shape), ...picked])];
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

Deno.test("the README is a front page: short, and every local link in it and in docs/ resolves", async () => {
  const readme = await read("README.md");
  const lines = readme.split("\n").length;
  assert.ok(lines <= 420, `README.md has ${lines} lines`);
  const pages = [
    "README.md",
    ...[...Deno.readDirSync(new URL("docs/", ROOT))]
      .filter((e) => e.name.endsWith(".md")).map((e) => `docs/${e.name}`),
  ];
  const broken: string[] = [];
  for (const page of pages) {
    const text = await read(page);
    // Bounded: our own files, a link target never spans a line.
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target)) continue;
      const [path, anchor] = target.split("#");
      const file = path === "" ? page : new URL(path, new URL(page, ROOT)).pathname
        .slice(new URL(ROOT).pathname.length);
      let body = "";
      try {
        if (file.endsWith(".md")) body = await read(file);
        else await Deno.stat(new URL(file, ROOT));
      } catch {
        broken.push(`${page}: ${target}`);
        continue;
      }
      if (anchor && file.endsWith(".md") && !slugs(body).has(anchor)) {
        broken.push(`${page}: ${target}`);
      }
    }
  }
  assert.deepEqual(broken, []);
});

/** GitHub's anchors of a Markdown page's headings. */
function slugs(markdown: string): Set<string> {
  return new Set(
    (markdown.match(/^#{1,6} .+$/gm) ?? []).map((h) =>
      h.replace(/^#+ /, "").toLowerCase().replace(/[^\p{L}\p{N}\- _]/gu, "").replaceAll(" ", "-")
    ),
  );
}
