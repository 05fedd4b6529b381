/**
 * The real gateway as a child process (`deno run main.ts`), for what only a process shows: signals,
 * exit codes, start-up. Its KV is a file in a fresh folder; it is stopped with `await using`.
 *
 * @module
 */
const ROOT = new URL("../../", import.meta.url).pathname;

export interface GatewayChild extends AsyncDisposable {
  url: string;
  child: Deno.ChildProcess;
  kvPath: string;
  /** Everything the process wrote, once it has exited. */
  output(): Promise<{ code: number; stdout: string; stderr: string }>;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

/** How the process is started, besides its environment. */
export interface GatewayProcessOptions {
  /** The process's open-file limit (`ulimit -n`, through `sh`); the runner's own by default. */
  openFiles?: number;
}

export async function startGatewayProcess(
  env: Record<string, string>,
  options: GatewayProcessOptions = {},
): Promise<GatewayChild> {
  const dir = await Deno.makeTempDir({ prefix: "sf-image-gateway-proc-" });
  const port = freePort();
  const kvPath = `${dir}/gateway.kv`;
  const deno = [Deno.execPath(), "run", "-N", "-E", `-R=${dir},${ROOT}`, `-W=${dir}`, "main.ts"];
  // `exec` keeps the gateway the child itself, so signals and the exit code are its own.
  const [command, ...args] = options.openFiles === undefined ? deno : [
    "sh",
    "-c",
    'ulimit -n "$1" && shift && exec "$@"',
    "sh",
    String(options.openFiles),
    ...deno,
  ];
  const child = new Deno.Command(command, {
    args,
    cwd: ROOT,
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "",
      HOME: Deno.env.get("HOME") ?? "",
      DENO_DIR: Deno.env.get("DENO_DIR") ?? "",
      NO_COLOR: "1",
      DENO_NO_UPDATE_CHECK: "1",
      HOST: "127.0.0.1",
      PORT: String(port),
      KV_PATH: kvPath,
      ...env,
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new Response(child.stdout).text();
  const stderr = new Response(child.stderr).text();
  const url = `http://127.0.0.1:${port}`;
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const output = async () => ({
    code: (await status).code,
    stdout: await stdout,
    stderr: await stderr,
  });
  // Bounded wait for /health.
  for (let i = 0; i < 300 && !exited; i++) {
    try {
      const res = await fetch(`${url}/health`);
      await res.body?.cancel();
      if (res.ok) break;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  if (exited) throw new Error(`the gateway did not start:\n${(await output()).stderr}`);
  return {
    url,
    child,
    kvPath,
    output,
    async [Symbol.asyncDispose]() {
      if (!exited) child.kill("SIGKILL");
      await output();
      await Deno.remove(dir, { recursive: true });
    },
  };
}
