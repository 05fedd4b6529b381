/**
 * The server supervisor with injected generations: a failed accept loop is shut down and replaced
 * (retried with growing delays while listening fails), recycling starts the next generation before
 * the previous one retires, warnings are one line a while, and shutdown reaches every generation.
 * Real sockets are in `startup_test.ts` and `hostile/connections_test.ts`.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Logger } from "../lib/log.ts";
import { type Server, supervise, type SuperviseOptions } from "../lib/supervised_server.ts";

const EMFILE = () => new Error("Too many open files (os error 24)");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A generation whose accept loop the test fails, and whose shutdown it may hold. */
class FakeServer implements Server {
  readonly addr: Deno.NetAddr = { transport: "tcp", hostname: "127.0.0.1", port: 4242 };
  readonly #finished = Promise.withResolvers<void>();
  readonly finished = this.#finished.promise;
  /** Resolve to let a shutdown finish (requests in flight done); already resolved by default. */
  drained: Promise<void> = Promise.resolve();
  constructor(readonly name: string, readonly events: string[]) {}
  fail(err: Error) {
    this.events.push(`${this.name} failed`);
    this.#finished.reject(err);
  }
  async shutdown() {
    this.events.push(`${this.name} shutdown`);
    await this.drained;
    this.#finished.resolve();
  }
}

/** Generations g1, g2, … and what happened to them, in order. */
function harness(
  options: Partial<SuperviseOptions> & { listenFails?: number } = {},
) {
  const events: string[] = [];
  const lines: string[] = [];
  const log: Logger = {
    info: (line) => lines.push(`info: ${line}`),
    warn: (line) => lines.push(`warn: ${line}`),
    error: (line) => lines.push(`error: ${line}`),
  };
  const servers = [new FakeServer("g1", events)];
  let failures = options.listenFails ?? 0;
  const listen = () => {
    if (failures-- > 0) {
      events.push("listen failed");
      throw EMFILE();
    }
    const server = new FakeServer(`g${servers.length + 1}`, events);
    servers.push(server);
    events.push(`${server.name} listening`);
    return server;
  };
  const supervisor = supervise(servers[0], { listen, recycleMs: 0, log, ...options });
  return { supervisor, servers, events, lines };
}

/** Waits (at most 2 s) until `ok()` holds. */
async function until(ok: () => boolean) {
  for (let i = 0; i < 200 && !ok(); i++) await sleep(10);
  assert.ok(ok(), "the condition held within 2 s");
}

/** Whether `p` settles within 20 ms. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<boolean>((r) => timer = setTimeout(() => r(false), 20));
  try {
    return await Promise.race([p.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("a generation whose accept loop fails is shut down and another listens in its place", async () => {
  const { supervisor, servers, events, lines } = harness();
  servers[0].fail(EMFILE());
  await until(() => servers.length === 2);
  assert.deepEqual(events, ["g1 failed", "g1 shutdown", "g2 listening"]);
  assert.deepEqual(lines, [
    "warn: server: accepting connections failed (Too many open files (os error 24)); its idle " +
    "connections are closed and it listens again (raise the open-file limit: see docs/deploy.md)",
  ]);
  assert.equal(supervisor.addr.port, 4242);
  assert.equal(await settled(supervisor.finished), false, "the supervisor is still serving");
  await supervisor.shutdown();
  assert.deepEqual(events.slice(3), ["g2 shutdown"]);
  assert.equal(await settled(supervisor.finished), true);
});

Deno.test("failures within a minute of a warning are counted into the next warning, not logged each", async () => {
  const { supervisor, servers, lines } = harness({ warnEveryMs: 300 });
  servers[0].fail(EMFILE());
  await until(() => servers.length === 2);
  servers[1].fail(EMFILE());
  await until(() => servers.length === 3);
  assert.equal(lines.length, 1);
  await sleep(320);
  servers[2].fail(EMFILE());
  await until(() => servers.length === 4);
  assert.equal(lines.length, 2);
  assert.match(lines[1], /\(1 more since the last warning\)$/);
  await supervisor.shutdown();
});

Deno.test("listening again is retried with doubling delays up to the cap while listen fails", async () => {
  const { supervisor, servers, events, lines } = harness({
    listenFails: 4,
    retryMs: { first: 5, max: 20 },
  });
  const started = performance.now();
  servers[0].fail(EMFILE());
  await until(() => servers.length === 2);
  // 5 + 10 + 20 + 20 + 20 ms of back-off before the fifth try.
  assert.ok(performance.now() - started >= 74, `${performance.now() - started} ms`);
  assert.deepEqual(events, [
    "g1 failed",
    "g1 shutdown",
    "listen failed",
    "listen failed",
    "listen failed",
    "listen failed",
    "g2 listening",
  ]);
  // The second warning falls within the first one's minute: counted, not logged.
  assert.equal(lines.length, 2);
  assert.equal(lines[1], "info: server: listening again after 5 tries");
  await supervisor.shutdown();
});

Deno.test("recycling starts the next generation before the previous one shuts down", async () => {
  const { supervisor, servers, events } = harness({ recycleMs: 20 });
  await until(() => servers.length === 3);
  await supervisor.shutdown();
  assert.deepEqual(events.slice(0, 4), [
    "g2 listening",
    "g1 shutdown",
    "g3 listening",
    "g2 shutdown",
  ]);
  const count = servers.length;
  await sleep(50);
  assert.equal(servers.length, count, "no generation starts after shutdown");
});

Deno.test("a recycling that cannot listen keeps the current generation serving", async () => {
  const { supervisor, servers, events, lines } = harness({ recycleMs: 20, listenFails: 1 });
  await until(() => servers.length === 2);
  await supervisor.shutdown();
  assert.deepEqual(events.slice(0, 3), ["listen failed", "g2 listening", "g1 shutdown"]);
  assert.deepEqual(lines, [
    "warn: server: idle connections not recycled: cannot listen (Too many open files (os error 24))",
  ]);
});

Deno.test("shutdown waits for every generation still draining, and cancels a pending listen", async () => {
  const { supervisor, servers, events } = harness({ recycleMs: 20 });
  const drain = Promise.withResolvers<void>();
  servers[0].drained = drain.promise;
  await until(() => servers.length === 2);
  const stopped = supervisor.shutdown();
  assert.equal(await settled(stopped), false, "g1 still has a request in flight");
  drain.resolve();
  await stopped;
  assert.equal(await settled(supervisor.finished), true);
  assert.deepEqual(events, ["g2 listening", "g1 shutdown", "g2 shutdown"]);

  const other = harness({ retryMs: { first: 30, max: 30 } });
  other.servers[0].fail(EMFILE());
  await other.supervisor.shutdown();
  await sleep(50);
  assert.deepEqual(other.events, ["g1 failed", "g1 shutdown"]);
});
