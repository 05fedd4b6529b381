/**
 * What a first `deno task dev` or `start` fetches (issue 17): the server's npm packages and nothing
 * else. `deno task` caches every npm package of `deno.lock` before it runs any task, and the
 * Dockerfile installs `deno.json`'s imports, so the test tools must stay out of both: they live in
 * `tests/deno.jsonc` and `tests/deno.lock`. These tests keep the two configurations apart, and keep
 * the tests' copy of the server's imports equal to the server's own.
 *
 * @module
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

/** The server's direct npm dependencies: adding one here is a decision about every first start. */
const SERVER = [
  "@fastify/busboy",
  "@jsquash/avif",
  "@jsquash/jpeg",
  "@jsquash/png",
  "@jsquash/resize",
  "@jsquash/webp",
  "aws4fetch",
  "hono",
  "ipaddr.js",
  "prom-client",
  "zod",
];

/** The tools only the tests and the bench use (about 100 MB with their dependencies). */
const TEST_TOOLS = [
  "@ai-sdk/openai",
  "@ai-sdk/openai-compatible",
  "ai",
  "axe-core",
  "openai",
  "playwright-core",
  "s3rver",
  "ssim.js",
];

interface Lockfile {
  specifiers: Record<string, string>;
  npm: Record<string, { dependencies?: string[]; optionalPeers?: string[] }>;
  workspace: { dependencies: string[] };
}

async function readJson<T>(path: string): Promise<T> {
  const text = await Deno.readTextFile(new URL(path, ROOT));
  // The configurations are ours: whole-line `//` comments are the only JSONC they use.
  return JSON.parse(text.replace(/^\s*\/\/.*$/gm, "")) as T;
}

/** `hono@4.13.19` → `hono`; `@jsquash/png@3.1.1` → `@jsquash/png`; `npm:zod@^4` → `zod`. */
function packageName(id: string): string {
  const bare = id.replace(/^npm:\/?/, "");
  const at = bare.indexOf("@", 1);
  return at === -1 ? bare : bare.slice(0, at);
}

/** The names of the npm packages `deno.lock` holds: what `deno task` fetches on an empty cache. */
function lockedNames(lock: Lockfile): string[] {
  return [...new Set(Object.keys(lock.npm).map(packageName))].sort();
}

/** The server's packages and everything they depend on, as the lockfile resolves them. */
function closure(lock: Lockfile, roots: string[]): Set<string> {
  const byName = new Map(Object.entries(lock.npm).map(([id, entry]) => [packageName(id), entry]));
  const seen = new Set<string>();
  const todo = [...roots];
  while (todo.length > 0 && seen.size <= byName.size) {
    const name = todo.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    const entry = byName.get(name);
    for (const dep of [...entry?.dependencies ?? [], ...entry?.optionalPeers ?? []]) {
      todo.push(packageName(dep));
    }
  }
  return seen;
}

Deno.test("deno.json and deno.lock hold the server's npm packages and no test tool", async () => {
  const config = await readJson<{ imports: Record<string, string> }>("deno.json");
  const imported = [...new Set(Object.values(config.imports).map(packageName))].sort();
  assert.deepEqual(imported, SERVER);

  const lock = await readJson<Lockfile>("deno.lock");
  assert.deepEqual([...new Set(lock.workspace.dependencies.map(packageName))].sort(), SERVER);
  const locked = lockedNames(lock);
  assert.deepEqual(locked.filter((name) => TEST_TOOLS.includes(name)), []);
  // Nothing else either: every locked package is one of the server's or a dependency of one.
  const needed = closure(lock, SERVER);
  assert.deepEqual(locked.filter((name) => !needed.has(name)), []);
});

Deno.test("main.ts's module graph reaches only the server's npm packages", async () => {
  const info = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "main.ts"],
    cwd: ROOT,
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(info.success, new TextDecoder().decode(info.stderr));
  const graph = JSON.parse(new TextDecoder().decode(info.stdout)) as {
    modules: { specifier: string; npmPackage?: string }[];
  };
  // The conversion job (what a worker runs, and what the pool imports where workers cannot start)
  // is in the graph, so its codecs are counted too.
  assert.ok(graph.modules.some((m) => m.specifier.endsWith("/lib/variants/convert_job.ts")));
  // Every npm package a module of the server imports (`npmPackages` would list the lockfile's).
  const imported = graph.modules.flatMap((m) => m.npmPackage ? [packageName(m.npmPackage)] : []);
  assert.deepEqual([...new Set(imported)].sort(), SERVER);
});

Deno.test("tests/deno.jsonc adds the test tools to the server's imports and changes none", async () => {
  type Config = { imports: Record<string, string>; unstable: string[] };
  const server = await readJson<Config>("deno.json");
  const tests = await readJson<Config>("tests/deno.jsonc");
  assert.deepEqual(tests.unstable, server.unstable);
  for (const [key, target] of Object.entries(server.imports)) {
    assert.equal(tests.imports[key], target, `tests/deno.jsonc imports ${key} differently`);
  }
  const added = Object.keys(tests.imports).filter((key) => !(key in server.imports));
  assert.deepEqual(added.map(packageName).sort(), TEST_TOOLS);

  // Both lockfiles resolve the server's packages to the same versions.
  const serverLock = await readJson<Lockfile>("deno.lock");
  const testsLock = await readJson<Lockfile>("tests/deno.lock");
  for (const [specifier, version] of Object.entries(serverLock.specifiers)) {
    assert.equal(testsLock.specifiers[specifier], version, `tests/deno.lock resolves ${specifier}`);
  }
});

Deno.test("every task that runs the tests or the bench takes the tests' configuration", async () => {
  const { tasks } = await readJson<{ tasks: Record<string, string> }>("deno.json");
  const runsTools = Object.entries(tasks).filter(([, command]) =>
    /\b(tests|bench)\//.test(command)
  );
  assert.ok(runsTools.length >= 4, "test, test:browser, bench and load at least");
  // `fake` runs a test helper on purpose with the server's configuration: it needs no test tool.
  const without = runsTools.filter(([name, command]) =>
    name !== "fake" && !command.includes("--config tests/deno.jsonc")
  );
  assert.deepEqual(without.map(([name]) => name), []);
  assert.match(tasks.fake, /--config deno\.json /);
});
