/**
 * Hostile connections against the real process (issue 15): a flood of idle connections past the
 * process's open-file limit does not end it, and it answers again while the flood holds and after;
 * connections that sit idle (a keep-alive wait, a request head trickling in) are closed after
 * `IDLE_CONNECTION_SECONDS`. Loopback only; every loop is bounded in count and time.
 *
 * @module
 */
import assert from "node:assert/strict";
import { startGatewayProcess } from "../_support/gateway_process.ts";
import { sleep, within } from "../_support/timing.ts";

/**
 * Opens `count` connections that send nothing, one after another; a refused one (the moment the
 * server listens again) is counted and skipped, and the flood stops at the first that hangs.
 */
async function flood(port: number, count: number) {
  const conns: Deno.Conn[] = [];
  const late: Promise<unknown>[] = [];
  let refused = 0;
  for (let i = 0; i < count; i++) {
    const connecting = Deno.connect({ hostname: "127.0.0.1", port });
    const conn = await within(connecting.catch(() => undefined), 1000, "hung" as const);
    if (conn === "hung") {
      late.push(connecting.then((c) => c.close(), () => {}));
      break;
    }
    if (conn) conns.push(conn);
    else refused++;
  }
  return { conns, late, refused };
}

/** `GET /health`'s status, or the error's name; never waits more than 2 s. */
async function health(url: string): Promise<number | string> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return res.status;
  } catch (err) {
    return err instanceof Error ? err.name : String(err);
  }
}

/** The first 200 from `/health` within `tries` tries, or the last answer. */
async function healthAgain(url: string, tries: number): Promise<number | string> {
  let last: number | string = "no try";
  for (let i = 0; i < tries && last !== 200; i++) {
    if (i > 0) await sleep(100);
    last = await health(url);
  }
  return last;
}

Deno.test("out of file descriptors the process lives on, and answers again while the flood holds and after", async () => {
  // 256 descriptors: the runtime and KV take a few dozen, the flood the rest and more.
  await using gw = await startGatewayProcess({}, { openFiles: 256 });
  const port = Number(new URL(gw.url).port);
  const { conns, late, refused } = await flood(port, 400);
  try {
    assert.equal(await within(gw.child.status, 200, "running"), "running");
    // Past the limit: connections it held, and those refused while it listened again.
    assert.ok(
      conns.length + refused > 256,
      `the flood opened ${conns.length} (${refused} refused)`,
    );
    assert.equal(await healthAgain(gw.url, 20), 200, "while the flood holds its connections");
  } finally {
    for (const conn of conns) conn.close();
    await Promise.all(late);
  }
  assert.equal(await healthAgain(gw.url, 20), 200, "after the flood let go");
  gw.child.kill("SIGTERM");
  const { code, stdout, stderr } = await gw.output();
  assert.equal(code, 0, "still stops cleanly");
  assert.match(
    stdout + stderr,
    /server: accepting connections failed \(Too many open files \(os error 24\)\); its idle connections are closed and it listens again/,
  );
});

/** Reads one answer (head and `Content-Length` body) from `conn`; at most 64 KiB and 3 s. */
async function readAnswer(conn: Deno.Conn): Promise<string> {
  const buf = new Uint8Array(65536);
  let size = 0;
  const deadline = Date.now() + 3000;
  while (size < buf.length && Date.now() < deadline) {
    const n = await within(conn.read(buf.subarray(size)), 3000, null);
    if (n === null) break;
    size += n;
    const text = new TextDecoder().decode(buf.subarray(0, size));
    const head = text.indexOf("\r\n\r\n");
    const length = /\r\ncontent-length: (\d+)\r\n/i.exec(text)?.[1];
    if (head >= 0 && length && size >= head + 4 + Number(length)) return text;
  }
  return new TextDecoder().decode(buf.subarray(0, size));
}

/** Milliseconds until the server closes `conn`, or `undefined` if it is still open after `ms`. */
async function closedWithin(conn: Deno.Conn, ms: number): Promise<number | undefined> {
  const started = Date.now();
  const closed = conn.read(new Uint8Array(64)).then(() => "closed", () => "closed");
  return (await within(closed, ms, "open")) === "closed" ? Date.now() - started : undefined;
}

Deno.test("idle keep-alive connections and trickled request heads are closed after IDLE_CONNECTION_SECONDS", async () => {
  await using gw = await startGatewayProcess({ IDLE_CONNECTION_SECONDS: "1" });
  const port = Number(new URL(gw.url).port);
  using keptAlive = await Deno.connect({ hostname: "127.0.0.1", port });
  using trickling = await Deno.connect({ hostname: "127.0.0.1", port });
  const encoder = new TextEncoder();
  await keptAlive.write(encoder.encode("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  assert.match(await readAnswer(keptAlive), /^HTTP\/1\.1 200 OK\r\n/);
  await trickling.write(encoder.encode("GET /health HTTP/1.1\r\nHost: x\r\n"));
  // Recycled every second: each is idle at the next recycling, at most 1 s away.
  const [idleFor, trickledFor] = await Promise.all([
    closedWithin(keptAlive, 3000),
    closedWithin(trickling, 3000),
  ]);
  assert.ok(idleFor !== undefined && idleFor <= 1500, `keep-alive closed after ${idleFor} ms`);
  assert.ok(
    trickledFor !== undefined && trickledFor <= 1500,
    `trickle closed after ${trickledFor} ms`,
  );
  assert.equal(await health(gw.url), 200);
});
