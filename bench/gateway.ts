/**
 * Runs the real gateway (`deno run -A main.ts`) as a child process on a loopback port, pointed at
 * a fake SiliconFlow, with a KV file in a temporary directory.
 *
 * @module
 */
import {
  type ChildWatch,
  freePort,
  readMemory,
  stopChild,
  waitForHttp,
  watchChild,
} from "./proc.ts";

/**
 * The checkout whose `main.ts` runs: this project, or `BENCH_GATEWAY_ROOT` (e.g. a `git worktree`
 * of an older commit, for a baseline measured by the same bench).
 */
export const GATEWAY_ROOT = Deno.env.get("BENCH_GATEWAY_ROOT") ??
  new URL("..", import.meta.url).pathname;

/** Settings of the gateway the parent may have set; the bench controls them all itself. */
const GATEWAY_VARS =
  /^(PORT|SILICONFLOW_.*|SF_BASE|GATEWAY_API_KEYS|ALLOW_CLIENT_KEYS?|PUBLIC_BASE_URL|KV_PATH|IMAGE_.*|MAX_.*|MODELS(_JSON)?|DEFAULT_IMAGE_MODEL|UPSTREAM_TIMEOUT_SECONDS|DENO_DEPLOY.*|CLIENT_.*|LOG_.*|METRICS_TOKEN)$/;

export interface GatewayOptions {
  upstreamBaseUrl: string;
  upstreamKey: string;
  gatewayKey: string;
  /** Directory for the KV file. */
  dir: string;
  /** KV file name inside `dir`; a second gateway on the same file starts with a cold cache. */
  kvFile?: string;
  /** More settings, e.g. `IMAGE_CACHE_MB`. */
  env?: Record<string, string>;
}

export class GatewayProcess implements AsyncDisposable {
  readonly url: string;
  readonly pid: number;
  readonly #child: Deno.ChildProcess;
  readonly #watch: ChildWatch;

  private constructor(child: Deno.ChildProcess, url: string) {
    this.#child = child;
    this.pid = child.pid;
    this.url = url;
    this.#watch = watchChild(child);
  }

  /** Starts the gateway and waits until `GET /health` answers 200. */
  static async start(options: GatewayOptions): Promise<GatewayProcess> {
    const port = freePort();
    const url = `http://127.0.0.1:${port}`;
    const inherited = Object.entries(Deno.env.toObject()).filter(([k]) => !GATEWAY_VARS.test(k));
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "main.ts"],
      cwd: GATEWAY_ROOT,
      clearEnv: true,
      env: {
        ...Object.fromEntries(inherited),
        DENO_NO_UPDATE_CHECK: "1",
        NO_COLOR: "1",
        PORT: String(port),
        SILICONFLOW_BASE_URL: options.upstreamBaseUrl,
        SILICONFLOW_API_KEYS: options.upstreamKey,
        GATEWAY_API_KEYS: options.gatewayKey,
        KV_PATH: `${options.dir}/${options.kvFile ?? "bench.kv"}`,
        PUBLIC_BASE_URL: url,
        // The bench is one client measuring the gateway, not its per-client limits.
        CLIENT_IMAGES_PER_MINUTE: "0",
        CLIENT_MAX_CONCURRENT: "0",
        ...options.env,
      },
      stdin: "null",
      // One log line per request goes to stdout; nobody reads it.
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const gateway = new GatewayProcess(child, url);
    try {
      await waitForHttp(`${url}/health`, { timeoutMs: 60_000, exited: gateway.#watch.exited });
    } catch (err) {
      await gateway[Symbol.asyncDispose]();
      const why = err instanceof Error ? err.message : String(err);
      throw new Error(`gateway did not start: ${why}\n--- its stderr ---\n${gateway.stderr()}`);
    }
    return gateway;
  }

  /** The last few KB the gateway wrote to stderr (warnings, crashes). */
  stderr(): string {
    return this.#watch.stderr();
  }

  get exited(): boolean {
    return this.#watch.exited();
  }

  memory() {
    return readMemory(this.pid);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await stopChild(this.#child);
  }
}
