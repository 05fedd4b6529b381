/**
 * Keeps `ARCHITECTURE.md` true: reads every import in `lib/` and `main.ts` (type-only imports
 * included) and fails on a direction the house rules forbid, on any import circle, on a module over
 * 300 lines, and on a folder the map does not name.
 *
 * @module
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

/** Where a module sits: a folder of `lib/`, or one of the root's roles. */
type Area =
  | "main"
  | "app"
  | "routes"
  | "chat"
  | "generation"
  | "services"
  | "startup"
  | "openai"
  | "upstream"
  | "storage"
  | "variants"
  | "web"
  | "root"
  | "observability"
  | "config";

/** What every folder may import: the root's shared modules, logging and metrics, the settings. */
const BASE = ["root", "observability", "config"] as const satisfies readonly Area[];

/** Who may import whom: each area lists the areas it may import from (its own always allowed). */
export const RULES: Record<Area, readonly Area[]> = {
  main: ["app", "startup", "services", "storage", ...BASE],
  app: ["routes", "services", ...BASE],
  routes: [
    "chat",
    "generation",
    "openai",
    "services",
    "upstream",
    "storage",
    "variants",
    "web",
    ...BASE,
  ],
  chat: ["generation", "openai", "services", "upstream", "storage", ...BASE],
  generation: ["openai", "services", "upstream", "storage", "variants", ...BASE],
  startup: ["services", "upstream", "storage", ...BASE],
  services: ["upstream", "storage", "variants", ...BASE],
  openai: ["upstream", "storage", ...BASE],
  upstream: BASE,
  storage: BASE,
  variants: BASE,
  // The playground's own files: served as text, and importing only each other.
  web: [],
  root: ["observability", "config"],
  observability: ["config"],
  config: [],
};

const FOLDERS = new Set<Area>([
  "routes",
  "chat",
  "generation",
  "openai",
  "upstream",
  "storage",
  "variants",
  "observability",
  "config",
  "web",
]);
const MAX_LINES = 300;
/** Modules whose imports are read and whose lines are counted; `lib/web/` also has HTML and CSS. */
const SCRIPT = /\.(ts|js)$/;

function areaOf(path: string): Area {
  if (path === "main.ts") return "main";
  const parts = path.split("/");
  if (parts[0] !== "lib") throw new Error(`${path} is outside lib/`);
  if (parts.length > 2) {
    if (!FOLDERS.has(parts[1] as Area)) throw new Error(`lib/${parts[1]}/ is not in RULES`);
    return parts[1] as Area;
  }
  if (path === "lib/app.ts") return "app";
  if (path === "lib/services.ts") return "services";
  if (path === "lib/startup.ts") return "startup";
  return "root";
}

// `import … from "x"`, `export … from "x"`, `import type … from "x"`, `import "x"`, `import("x")`.
const IMPORT =
  /(?:^|[;\n])\s*(?:import|export)\s+(?:type\s+)?(?:[^"';]*?\s+from\s+)?["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/g;

/**
 * The source with its comments blanked (strings and template literals kept), so that an import in
 * a comment is not read and a quote in a comment cannot hide a real one.
 */
export function withoutComments(source: string): string {
  let out = "";
  let quote: string | undefined;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (quote) {
      out += c;
      if (c === "\\") out += source[++i] ?? "";
      else if (c === quote) quote = undefined;
    } else if (c === "/" && source[i + 1] === "/") {
      while (i < source.length && source[i] !== "\n") i++;
      out += "\n";
    } else if (c === "/" && source[i + 1] === "*") {
      const end = source.indexOf("*/", i + 2);
      const comment = source.slice(i, end === -1 ? source.length : end + 2);
      out += comment.replace(/[^\n]/g, " ");
      i += comment.length - 1;
    } else {
      if (c === '"' || c === "'" || c === "`") quote = c;
      out += c;
    }
  }
  return out;
}

/** The relative imports of a module's source, resolved to paths from the project root. */
export function importsOf(path: string, source: string): string[] {
  const dir = path.split("/").slice(0, -1);
  const found: string[] = [];
  for (const m of withoutComments(source).matchAll(IMPORT)) {
    const spec = m[1] ?? m[2];
    if (!spec.startsWith(".")) continue;
    const parts = [...dir];
    for (const part of spec.split("/")) {
      if (part === "..") parts.pop();
      else if (part !== ".") parts.push(part);
    }
    found.push(parts.join("/"));
  }
  return found;
}

/** Each forbidden import as `from → to (fromArea may not import toArea)`. */
export function ruleViolations(graph: Map<string, string[]>): string[] {
  const problems: string[] = [];
  for (const [from, targets] of graph) {
    const area = areaOf(from);
    for (const to of targets) {
      const target = areaOf(to);
      if (target === area || RULES[area].includes(target)) continue;
      problems.push(`${from} → ${to} (${area} may not import ${target})`);
    }
  }
  return problems;
}

/** Every import circle, as the modules on it (Tarjan's strongly connected components). */
export function circles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (node: string) => {
    index.set(node, next);
    low.set(node, next++);
    stack.push(node);
    onStack.add(node);
    for (const to of graph.get(node) ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node)!, low.get(to)!));
      } else if (onStack.has(to)) low.set(node, Math.min(low.get(node)!, index.get(to)!));
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1 || (graph.get(node) ?? []).includes(node)) {
      found.push(component.sort());
    }
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

async function modules(): Promise<Map<string, string>> {
  const sources = new Map<string, string>();
  sources.set("main.ts", await Deno.readTextFile(new URL("main.ts", ROOT)));
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(new URL(dir, ROOT))) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) await walk(path);
      else if (SCRIPT.test(entry.name) || dir === "lib/web") {
        sources.set(path, await Deno.readTextFile(new URL(path, ROOT)));
      }
    }
  };
  await walk("lib");
  return sources;
}

async function importGraph(): Promise<
  { graph: Map<string, string[]>; lines: Map<string, number> }
> {
  const graph = new Map<string, string[]>();
  const lines = new Map<string, number>();
  for (const [path, source] of await modules()) {
    const script = SCRIPT.test(path);
    graph.set(path, script ? importsOf(path, source) : []);
    if (script) lines.set(path, source.split("\n").length - (source.endsWith("\n") ? 1 : 0));
  }
  return { graph, lines };
}

Deno.test("the import reader finds every kind of import and none in comments", () => {
  const source = [
    'import { a } from "./a.ts";',
    'import type { B } from "../b.ts";',
    "import {",
    "  c,",
    "  type D,",
    '} from "./c/d.ts";',
    'export { e } from "./e.ts";',
    'export type { F } from "./f.ts";',
    'import "./side.ts";',
    'const g = await import("./g.ts");',
    'import { z } from "zod";',
    "import {",
    "  h, // don't stop here; or here",
    '} from "./h.ts";',
    '/* c */ import { i } from "./i.ts";',
    '/* import { no } from "./commented.ts"; */',
    '// import { no } from "./commented.ts";',
    'export * from "./j.ts";',
    'const url = "https://example.com/a"; import { k } from "./k.ts";',
  ].join("\n");
  assert.deepEqual(importsOf("lib/x/y.ts", source), [
    "lib/x/a.ts",
    "lib/b.ts",
    "lib/x/c/d.ts",
    "lib/x/e.ts",
    "lib/x/f.ts",
    "lib/x/side.ts",
    "lib/x/g.ts",
    "lib/x/h.ts",
    "lib/x/i.ts",
    "lib/x/j.ts",
    "lib/x/k.ts",
  ]);
});

Deno.test("the rule check reports an upward import and the circle check a type-only loop", () => {
  const graph = new Map([
    ["lib/storage/kv_store.ts", ["lib/routes/image_files.ts", "lib/errors.ts"]],
    ["lib/routes/image_files.ts", ["lib/storage/kv_store.ts"]],
    ["lib/errors.ts", []],
  ]);
  assert.deepEqual(ruleViolations(graph), [
    "lib/storage/kv_store.ts → lib/routes/image_files.ts (storage may not import routes)",
  ]);
  assert.deepEqual(circles(graph), [["lib/routes/image_files.ts", "lib/storage/kv_store.ts"]]);
});

Deno.test("every import in lib/ follows the house rules of ARCHITECTURE.md", async () => {
  const { graph } = await importGraph();
  // The reader must see the app's wiring, or an empty graph would pass.
  assert.ok((graph.get("lib/app.ts") ?? []).includes("lib/routes/chat.ts"));
  assert.deepEqual(ruleViolations(graph), []);
});

Deno.test("lib/ has no import circles, type-only imports included", async () => {
  const { graph } = await importGraph();
  assert.deepEqual(circles(graph), []);
});

Deno.test("every import in lib/ names a module that exists", async () => {
  const { graph } = await importGraph();
  const missing = [...graph].flatMap(([from, targets]) =>
    targets.filter((to) => !graph.has(to)).map((to) => `${from} → ${to}`)
  );
  assert.deepEqual(missing, []);
});

Deno.test(`no module in lib/ is over ${MAX_LINES} lines and main.ts stays a thin entry`, async () => {
  const { lines } = await importGraph();
  const long = [...lines].filter(([path, n]) => path !== "main.ts" && n > MAX_LINES)
    .map(([path, n]) => `${path}: ${n} lines`);
  assert.deepEqual(long, []);
  assert.ok(lines.get("main.ts")! <= 60, `main.ts has ${lines.get("main.ts")} lines`);
});

Deno.test("ARCHITECTURE.md names every folder of lib/ and every root module", async () => {
  const map = await Deno.readTextFile(new URL("ARCHITECTURE.md", ROOT));
  const { graph } = await importGraph();
  const named = new Set<string>();
  for (const path of graph.keys()) {
    const parts = path.split("/");
    if (parts.length > 2) named.add(`lib/${parts[1]}/`);
    else if (parts[0] === "lib") named.add(path);
  }
  const missing = [...named].filter((name) => !map.includes(`\`${name}\``)).sort();
  assert.deepEqual(missing, []);
});
