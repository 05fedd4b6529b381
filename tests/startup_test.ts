/**
 * Start-up: the optional `.env` file, the start-up line, the KV probe, a busy port, the cron
 * registered before anything awaits, and the settings issue 8 added.
 *
 * @module
 */
import assert from "node:assert/strict";
import { loadConfig } from "../lib/config/config.ts";
import { configProblems } from "./_support/gateway.ts";
import { consoleLogger } from "../lib/observability/log.ts";
import { loadDotEnv, probeKv, serve, StartupError, startupLine } from "../lib/startup.ts";

Deno.test("loadDotEnv sets what .env says unless the environment already has it, and a missing file is fine", async () => {
  const dir = await Deno.makeTempDir();
  const names = ["SFG_TEST_FROM_FILE", "SFG_TEST_ALREADY_SET", "SFG_TEST_QUOTED"];
  try {
    await Deno.writeTextFile(
      `${dir}/.env`,
      'SFG_TEST_FROM_FILE=file\nSFG_TEST_ALREADY_SET=file\n# a comment\nSFG_TEST_QUOTED="a # b"\n',
    );
    Deno.env.set("SFG_TEST_ALREADY_SET", "environment");
    await loadDotEnv(`${dir}/.env`);
    assert.equal(Deno.env.get("SFG_TEST_FROM_FILE"), "file");
    assert.equal(Deno.env.get("SFG_TEST_ALREADY_SET"), "environment");
    assert.equal(Deno.env.get("SFG_TEST_QUOTED"), "a # b");
    await loadDotEnv(`${dir}/missing.env`);
  } finally {
    for (const name of names) Deno.env.delete(name);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the start-up line names Deno's version, where images go, whether KV answered, and the auth mode", async () => {
  using kv = await Deno.openKv(":memory:");
  const probe = await probeKv(kv);
  assert.equal(probe.ok, true);
  assert.deepEqual(await Array.fromAsync(kv.list({ prefix: [] })), []);
  const line = startupLine(loadConfig({ KV_PATH: "./data/x.kv" }), { ok: true, ms: 3 });
  assert.equal(
    line,
    `sf-image-gateway on Deno ${Deno.version.deno}: images in KV at ./data/x.kv; KV answered a ` +
      "write and read in 3 ms; auth: pass-through mode, each client's bearer token is used as " +
      "its own SiliconFlow key",
  );
  const s3 = loadConfig({
    DENO_DEPLOY: "true",
    IMAGE_STORE: "s3",
    S3_ENDPOINT: "https://acc.r2.cloudflarestorage.com/",
    S3_BUCKET: "pics",
    S3_ACCESS_KEY_ID: "AKIDSECRET1",
    S3_SECRET_ACCESS_KEY: "verysecret",
  });
  const failed = startupLine(s3, { ok: false, ms: 0, error: "connection refused" });
  assert.equal(
    failed,
    `sf-image-gateway on Deno ${Deno.version.deno}: images in S3 bucket "pics" at ` +
      "https://acc.r2.cloudflarestorage.com, metadata in the app's Deno KV database; KV did NOT " +
      "answer a write and read (connection refused); images cannot be stored; auth: pass-through " +
      "mode, each client's bearer token is used as its own SiliconFlow key",
  );
  assert.doesNotMatch(failed, /AKIDSECRET1|verysecret/);
});

Deno.test("probeKv reports a KV that does not answer instead of throwing", async () => {
  const kv = await Deno.openKv(":memory:");
  kv.close();
  const probe = await probeKv(kv);
  assert.equal(probe.ok, false);
  assert.equal(typeof probe.error, "string");
});

Deno.test("a busy port stops the start with one line naming the address, even when its holder lets others share it", () => {
  // Recycling listens with SO_REUSEPORT, which would share a port silently without the probe.
  for (const reusePort of [false, true]) {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0, reusePort });
    const config = loadConfig({
      HOST: "127.0.0.1",
      PORT: String(listener.addr.port),
      IDLE_CONNECTION_SECONDS: "60",
    });
    assert.throws(
      () => serve(() => new Response(), config, () => {}, consoleLogger),
      (err: unknown) =>
        err instanceof StartupError &&
        err.message ===
          `Cannot listen on 127.0.0.1:${listener.addr.port}: the port is in use (set PORT or HOST)`,
      `reusePort: ${reusePort}`,
    );
  }
});

Deno.test("IDLE_CONNECTION_SECONDS is 60 by default, 0 turns recycling off, and nothing between 0 and 0.5", () => {
  assert.equal(loadConfig({}).idleConnectionMs, 60_000);
  assert.equal(loadConfig({ IDLE_CONNECTION_SECONDS: "0" }).idleConnectionMs, 0);
  assert.equal(loadConfig({ IDLE_CONNECTION_SECONDS: "1.5" }).idleConnectionMs, 1500);
  assert.deepEqual(configProblems({ IDLE_CONNECTION_SECONDS: "0.1" }), [
    'IDLE_CONNECTION_SECONDS must be 0 (off) or at least 0.5, got "0.1"',
  ]);
  assert.deepEqual(configProblems({ IDLE_CONNECTION_SECONDS: "-1" }), [
    'IDLE_CONNECTION_SECONDS must be a number 0–3600, got "-1"',
  ]);
});

/** Sends one keep-alive request on `conn` and reads its (small) answer. */
async function requestOn(conn: Deno.Conn, path: string): Promise<string> {
  await conn.write(new TextEncoder().encode(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`));
  const buf = new Uint8Array(4096);
  const n = await conn.read(buf);
  return new TextDecoder().decode(buf.subarray(0, n ?? 0));
}

/** Milliseconds until the server closes `conn`, or `undefined` if it stays open for `withinMs`. */
async function closedWithin(conn: Deno.Conn, withinMs: number): Promise<number | undefined> {
  const started = Date.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const open = new Promise<"open">((r) => timer = setTimeout(() => r("open"), withinMs));
  const closed = conn.read(new Uint8Array(64)).then(() => "closed", () => "closed");
  try {
    return (await Promise.race([closed, open])) === "closed" ? Date.now() - started : undefined;
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("recycling keeps PORT=0's port, closes an idle keep-alive connection, and lets a request in flight finish", async () => {
  const config = loadConfig({ HOST: "127.0.0.1", PORT: "0", IDLE_CONNECTION_SECONDS: "0.5" });
  const lines: string[] = [];
  const log = {
    info: (l: string) => lines.push(l),
    warn: (l: string) => lines.push(l),
    error: () => {},
  };
  let listened = 0;
  const server = serve(
    async (req) => {
      if (new URL(req.url).pathname === "/slow") await new Promise((r) => setTimeout(r, 1300));
      return new Response("ok");
    },
    config,
    () => listened++,
    log,
  );
  try {
    const port = server.addr.port;
    assert.notEqual(port, 0);
    const slow = fetch(`http://127.0.0.1:${port}/slow`);
    using idle = await Deno.connect({ hostname: "127.0.0.1", port });
    assert.match(await requestOn(idle, "/"), /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nok$/);
    // Recycled every 0.5 s: idle now, it is closed at the next recycling.
    const closedAfter = await closedWithin(idle, 2000);
    assert.ok(closedAfter !== undefined && closedAfter <= 1000, `closed after ${closedAfter} ms`);
    const res = await slow; // started before two recyclings, answered after them
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "ok");
    const again = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(await again.text(), "ok");
    assert.equal(listened, 1, "onListen is called for the first listener only");
    assert.deepEqual(lines, []);
  } finally {
    await server.shutdown();
  }
});

Deno.test("main.ts registers the sweeper's cron before anything awaits or exits", async () => {
  const main = await Deno.readTextFile(new URL("../main.ts", import.meta.url));
  const code = main.slice(main.indexOf("*/") + 2);
  const cron = code.indexOf("Deno.cron(");
  assert.ok(cron > 0, "main.ts registers a cron");
  for (const first of ["await ", "Deno.exit", "loadConfig(", "throw "]) {
    const at = code.indexOf(first);
    assert.ok(at === -1 || at > cron, `${first.trim()} comes after Deno.cron`);
  }
});

Deno.test("loadConfig reads HOST, IMAGE_STORE and the S3 settings, path-style by default", () => {
  const config = loadConfig({
    HOST: "127.0.0.1",
    IMAGE_STORE: "s3",
    S3_ENDPOINT: "http://127.0.0.1:9000/",
    S3_BUCKET: "images",
    S3_ACCESS_KEY_ID: "id",
    S3_SECRET_ACCESS_KEY: "secret",
    S3_PREFIX: "gw/",
  });
  assert.equal(config.host, "127.0.0.1");
  assert.deepEqual(config.s3, {
    endpoint: "http://127.0.0.1:9000",
    bucket: "images",
    region: "us-east-1",
    accessKeyId: "id",
    secretAccessKey: "secret",
    prefix: "gw/",
    pathStyle: true,
    timeoutMs: 30_000,
  });
  assert.equal(loadConfig({ S3_BUCKET: "images" }).s3, undefined);
  assert.equal(loadConfig({ HOST: "::1" }).host, "::1");
});

Deno.test("loadConfig names every missing or invalid storage setting, never a secret", () => {
  const problems = configProblems;
  assert.deepEqual(problems({ IMAGE_STORE: "s3", S3_SECRET_ACCESS_KEY: "hush-hush" }), [
    'S3_ENDPOINT must be set when IMAGE_STORE is "s3"',
    'S3_BUCKET must be set when IMAGE_STORE is "s3"',
    'S3_ACCESS_KEY_ID must be set when IMAGE_STORE is "s3"',
  ]);
  assert.deepEqual(problems({ IMAGE_STORE: "disk", HOST: "my host", S3_BUCKET: "Bad_Bucket" }), [
    'HOST must be an address such as 0.0.0.0 or 127.0.0.1, got "my host"',
    'IMAGE_STORE must be "kv" or "s3"',
    'S3_BUCKET must be a bucket name (3–63 lower-case letters, digits, dots, hyphens), got "Bad_Bucket"',
  ]);
  assert.deepEqual(problems({ S3_PREFIX: "/abs", S3_PATH_STYLE: "maybe" }), [
    "S3_PREFIX must not start with a slash",
    'S3_PATH_STYLE must be "true" or "false"',
  ]);
});

Deno.test("loadConfig on Deno Deploy refuses a KV file, whose disk is not kept", () => {
  assert.throws(() => loadConfig({ DENO_DEPLOY: "true", KV_PATH: "./data/gateway.kv" }), {
    message: 'Invalid configuration:\n  - KV_PATH is the file "./data/gateway.kv", but Deno ' +
      "Deploy does not keep its disk: unset KV_PATH to use the database assigned to the app (or " +
      "give a KV Connect URL)",
  });
  assert.equal(loadConfig({ DENO_DEPLOY: "true" }).kvPath, undefined);
  assert.equal(loadConfig({ DENO_DEPLOY: "true" }).denoDeploy, true);
  const url = "https://api.deno.com/databases/abc/connect";
  assert.equal(loadConfig({ DENO_DEPLOY: "true", KV_PATH: url }).kvPath, url);
});

Deno.test("loadConfig refuses an S3_ENDPOINT with credentials in it, which the start-up line would show", () => {
  assert.throws(
    () =>
      loadConfig({
        IMAGE_STORE: "s3",
        S3_ENDPOINT: "https://user:pass@s3.example.com",
        S3_BUCKET: "images",
        S3_ACCESS_KEY_ID: "id",
        S3_SECRET_ACCESS_KEY: "secret",
      }),
    {
      message: "Invalid configuration:\n  - S3_ENDPOINT must not contain credentials; set " +
        "S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY instead",
    },
  );
});
