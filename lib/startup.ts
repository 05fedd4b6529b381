/**
 * What `main.ts` does between reading the environment and serving: the optional `.env` file, the
 * storage checks (KV answers a write and a read; an S3 bucket exists and takes writes), the one
 * start-up line, the sweep under its lease, and listening (supervised, see `supervised_server.ts`)
 * with a one-line error for a busy port.
 * Everything that stops the start throws a {@link StartupError} whose message is the whole story.
 *
 * @module
 */
import { parseEnv } from "node:util";
import type { Config } from "./config/config.ts";
import type { Logger } from "./observability/log.ts";
import type { GatewayServices } from "./services.ts";
import { type Server, supervise } from "./supervised_server.ts";
import { checkBucket, S3Error } from "./storage/s3_bucket.ts";
import { sweepImages, underSweepLease } from "./storage/sweeper.ts";

/** A start that cannot go on; `main.ts` prints the message, without a stack, and exits 1. */
export class StartupError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StartupError";
  }
}

/**
 * Reads `path` when it exists, setting the variables that are not already set (the real
 * environment wins, as with `--env-file`). A missing file is normal: it is optional.
 */
export async function loadDotEnv(path = ".env"): Promise<void> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    // No file, or no permission to read one (`deno task` grants it; Deploy has none).
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotCapable) return;
    throw new StartupError(`Cannot read ${path}: ${err instanceof Error ? err.message : err}`);
  }
  for (const [name, value] of Object.entries(parseEnv(text))) {
    if (value !== undefined && Deno.env.get(name) === undefined) Deno.env.set(name, value);
  }
}

/** The one start-up line describing the auth mode; never contains a key. */
export function describeAuthMode(config: Config): string {
  return config.authMode === "pool"
    ? `auth: pool mode, ${config.upstreamKeys.length} SiliconFlow key(s), ` +
      `${config.gatewayKeys.length} client key(s) required on /v1/*`
    : "auth: pass-through mode, each client's bearer token is used as its own SiliconFlow key";
}

/** Whether KV took a write and gave it back, and how long that took. */
export interface KvProbe {
  ok: boolean;
  ms: number;
  error?: string;
}

const PROBE_TIMEOUT_MS = 5000;

/** Writes, reads back and deletes one random key. */
export async function probeKv(kv: Deno.Kv): Promise<KvProbe> {
  const key = ["startup_probe", crypto.randomUUID()];
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)),
      PROBE_TIMEOUT_MS,
    );
  });
  try {
    const probe = (async () => {
      await kv.set(key, started, { expireIn: 60_000 });
      const back = await kv.get<number>(key);
      await kv.delete(key);
      if (back.value !== started) throw new Error("the value read back differs");
    })();
    await Promise.race([probe, timeout]);
    return { ok: true, ms: Math.round(performance.now() - started) };
  } catch (err) {
    return { ok: false, ms: 0, error: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}

/** Checks the object store, when there is one: a bucket that is not usable stops the start. */
export async function checkObjectStore(services: GatewayServices): Promise<void> {
  if (!services.s3) return;
  try {
    await checkBucket(services.s3);
  } catch (err) {
    if (err instanceof S3Error) {
      throw new StartupError(`Cannot use the object store: ${err.message}`);
    }
    throw err;
  }
}

function describeKv(config: Config): string {
  if (config.kvPath === undefined) return "the app's Deno KV database";
  if (/^https?:\/\//i.test(config.kvPath)) return `KV Connect at ${new URL(config.kvPath).host}`;
  return config.kvPath === ":memory:" ? "KV in memory (lost on exit)" : `KV at ${config.kvPath}`;
}

/** The start-up line: Deno's version, where images go, whether KV answered, and the auth mode. */
export function startupLine(config: Config, probe: KvProbe): string {
  const store = config.s3
    ? `images in S3 bucket "${config.s3.bucket}" at ${config.s3.endpoint}, metadata in ${
      describeKv(config)
    }`
    : `images in ${describeKv(config)}`;
  const kv = probe.ok
    ? `KV answered a write and read in ${probe.ms} ms`
    : `KV did NOT answer a write and read (${probe.error}); images cannot be stored`;
  return `sf-image-gateway on Deno ${Deno.version.deno}: ${store}; ${kv}; ${
    describeAuthMode(config)
  }`;
}

/** The cron's work: one sweep across instances at a time (a KV lease), logged when it did something. */
export async function sweepOnce({ kv, images, log }: GatewayServices): Promise<void> {
  const result = await underSweepLease(
    kv,
    () =>
      sweepImages(kv, Date.now(), images.deleteBytes, (id, err) =>
        log.warn(
          `sweep: image ${id} left for the next sweep: ${err instanceof Error ? err.message : err}`,
        )),
  );
  if (result && (result.expired || result.orphans)) {
    log.info(`sweep: ${result.expired} expired, ${result.orphans} orphaned removed`);
  }
}

/** The listening call, with a busy or forbidden address as a {@link StartupError}. */
function listening<T>(config: Config, log: Logger, listen: () => T): T {
  try {
    return listen();
  } catch (err) {
    const where = `${config.host}:${config.port}`;
    if (err instanceof Deno.errors.AddrInUse) {
      throw new StartupError(`Cannot listen on ${where}: the port is in use (set PORT or HOST)`);
    }
    if (
      err instanceof Deno.errors.AddrNotAvailable || err instanceof Deno.errors.PermissionDenied
    ) {
      throw new StartupError(`Cannot listen on ${where}: ${err.message}`);
    }
    log.error(`Cannot listen on ${where}:`, err);
    throw err;
  }
}

/**
 * `Deno.serve` on `HOST:PORT`, supervised (`supervised_server.ts`): an accept loop that fails for
 * want of file descriptors is replaced instead of ending the process, and with
 * `IDLE_CONNECTION_SECONDS` the listener is recycled to close idle connections. On Deno Deploy,
 * which owns the sockets, a plain `Deno.serve`. A busy or forbidden address is a
 * {@link StartupError}.
 */
export function serve(
  handler: Deno.ServeHandler,
  config: Config,
  onListen: (addr: Deno.NetAddr) => void,
  log: Logger,
): Server {
  const { host: hostname } = config;
  if (config.denoDeploy) {
    return listening(
      config,
      log,
      () => Deno.serve({ hostname, port: config.port, onListen }, handler),
    );
  }
  // Recycling needs SO_REUSEPORT, whose sharing of a port Deno supports on Linux only.
  const recycleMs = Deno.build.os === "linux" ? config.idleConnectionMs : 0;
  const reusePort = recycleMs > 0;
  // With SO_REUSEPORT a second process of the same user could share the port without an error;
  // a listener without it fails on a port anyone holds. It also turns PORT=0 into the real port.
  const port = !reusePort ? config.port : listening(config, log, () => {
    using probe = Deno.listen({ hostname, port: config.port });
    return probe.addr.port;
  });
  const first = listening(
    config,
    log,
    () => Deno.serve({ hostname, port, reusePort, onListen }, handler),
  );
  const again = { hostname, port: first.addr.port, reusePort, onListen() {} };
  return supervise(first, { listen: () => Deno.serve(again, handler), recycleMs, log });
}

/**
 * On SIGTERM or SIGINT: no new connections; requests in flight (generations storing their images)
 * go on for `graceMs`; streams still open then end with a final event; the process exits 0.
 */
export function stopOnSignals(
  server: Server,
  services: GatewayServices,
  graceMs: number,
): void {
  const { log } = services;
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: not taking new requests; work in flight has ${graceMs / 1000} s`);
    const grace = setTimeout(() => services.shutdown.abort(), graceMs);
    // Handlers that outlive the grace (a generation SiliconFlow is still making) are not waited for.
    const deadline = setTimeout(() => {
      log.warn("shutdown: the grace is over; exiting with work unfinished");
      Deno.exit(0);
    }, graceMs + 2000);
    await server.shutdown();
    clearTimeout(grace);
    clearTimeout(deadline);
    log.info("shutdown: done");
    Deno.exit(0);
  };
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    try {
      Deno.addSignalListener(signal, () => void stop(signal));
    } catch {
      // Not every platform has every signal (Windows has no SIGTERM listeners).
    }
  }
}
