/**
 * The Dockerfile, checked without a Docker engine (none runs on our machines): it builds on the
 * official image of the Deno version the project uses, copies only what exists, runs as a
 * non-root user with `/app/data` as its volume, health-checks `/health`, and starts with exactly
 * the permissions of `deno task start`.
 *
 * @module
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);
const dockerfile = await Deno.readTextFile(new URL("Dockerfile", ROOT));
const instructions = dockerfile.replace(/\\\n\s*/g, " ").split("\n")
  .filter((line) => line.trim() !== "" && !line.startsWith("#"));
const of = (name: string) => instructions.filter((line) => line.startsWith(`${name} `));

Deno.test("the Dockerfile: official image, cached dependencies, non-root, volume, health check", async () => {
  const deno = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  assert.deepEqual(of("FROM"), ["FROM denoland/deno:2.9.6"]);
  // Dependencies are installed from the lockfile before the code is copied.
  const order = instructions.map((line) => line.split(" ")[0] + " " + line.split(" ")[1]);
  assert.ok(order.indexOf("RUN deno") >= 0);
  assert.ok(order.indexOf("RUN deno") < order.indexOf("COPY main.ts"));
  for (const copy of of("COPY")) {
    for (const source of copy.split(" ").slice(1, -1)) {
      await Deno.stat(new URL(source, ROOT)); // throws when the source is missing
    }
  }
  assert.deepEqual(of("USER"), ["USER deno"]);
  assert.deepEqual(of("VOLUME"), ["VOLUME /app/data"]);
  assert.match(
    of("HEALTHCHECK")[0],
    /fetch\(`http:\/\/127\.0\.0\.1:\$\{Deno\.env\.get\('PORT'\) \?\? 8000\}\/health`\)/,
  );
  // The start command is `deno task start`'s own.
  const cmd = JSON.parse(of("CMD")[0].slice(4));
  assert.deepEqual(["deno", ...cmd].join(" "), deno.tasks.start);
  assert.match(of("ENV")[0], /HOST=0\.0\.0\.0 PORT=8000/);
});
