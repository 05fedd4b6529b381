/**
 * Process and network helpers shared by the benchmark's parts: free loopback ports, finding and
 * installing binaries, waiting for a server, stopping a child process, and reading its memory.
 *
 * @module
 */

/** A port that was free on 127.0.0.1 a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

const EXTRA_BIN_DIRS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin"];

/** The absolute path of an executable found on `PATH` (or the usual sbin dirs), if any. */
export async function findBinary(name: string): Promise<string | undefined> {
  const dirs = [...(Deno.env.get("PATH") ?? "").split(":"), ...EXTRA_BIN_DIRS];
  for (const dir of dirs.filter((d) => d !== "")) {
    const path = `${dir}/${name}`;
    try {
      const info = await Deno.stat(path);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Runs a command to completion and returns its combined output; never throws. */
export async function runQuiet(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ ok: boolean; output: string }> {
  try {
    const { success, stdout, stderr } = await new Deno.Command(cmd, { args, env }).output();
    const decode = (b: Uint8Array) => new TextDecoder().decode(b);
    return { ok: success, output: decode(stdout) + decode(stderr) };
  } catch (err) {
    return { ok: false, output: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * Paths of the wanted binaries, installing the missing ones with apt-get first. `log` receives
 * one line per step; the result lacks whatever is still missing afterwards.
 */
export async function ensureBinaries(
  packages: Record<string, string>,
  log: (line: string) => void,
): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const name of Object.keys(packages)) {
    const path = await findBinary(name);
    if (path) found.set(name, path);
  }
  const missing = Object.keys(packages).filter((name) => !found.has(name));
  if (missing.length === 0) return found;

  const pkgs = [...new Set(missing.map((name) => packages[name]))];
  log(`${missing.join(", ")} not found: installing with apt-get install -y ${pkgs.join(" ")}`);
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  const update = await runQuiet("apt-get", ["update"], env);
  const install = update.ok
    ? await runQuiet("apt-get", ["install", "-y", ...pkgs], env)
    : { ok: false, output: update.output };
  if (!install.ok) log(`apt-get failed:\n${lastLines(install.output, 8)}`);
  for (const name of missing) {
    const path = await findBinary(name);
    if (path) found.set(name, path);
  }
  return found;
}

/** The last `count` non-empty lines of a text, indented for the report. */
export function lastLines(text: string, count: number): string {
  return text.trim().split("\n").slice(-count).map((line) => `    ${line}`).join("\n");
}

/** Polls `url` until it answers 200, the child exits, or `timeoutMs` passes. */
export async function waitForHttp(
  url: string,
  { timeoutMs, exited }: { timeoutMs: number; exited: () => boolean },
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited()) throw new Error(`the process serving ${url} exited during start-up`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
}

/** Sends SIGTERM, then SIGKILL if the child is still running after `graceMs`. */
export async function stopChild(child: Deno.ChildProcess, graceMs = 3000): Promise<void> {
  const kill = (signal: Deno.Signal) => {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  };
  kill("SIGTERM");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), graceMs);
  });
  const outcome = await Promise.race([child.status, timeout]);
  clearTimeout(timer);
  if (outcome === "timeout") {
    kill("SIGKILL");
    await child.status;
  }
}

/** Memory figures from `/proc/<pid>/status`, in bytes. */
export interface ProcessMemory {
  /** Peak resident set size ("high water mark"). */
  vmHWM: number;
  vmRSS: number;
  /** Of the resident set now: anonymous memory (heap, buffers) and mapped files (code, SQLite). */
  rssAnon: number;
  rssFile: number;
}

/** Reads VmHWM and VmRSS of a live process; `undefined` when it is gone or not on Linux. */
export async function readMemory(pid: number): Promise<ProcessMemory | undefined> {
  let status: string;
  try {
    status = await Deno.readTextFile(`/proc/${pid}/status`);
  } catch {
    return undefined;
  }
  const kib = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
  const vmHWM = kib("VmHWM") * 1024;
  const vmRSS = kib("VmRSS") * 1024;
  const rssAnon = kib("RssAnon") * 1024;
  const rssFile = kib("RssFile") * 1024;
  return Number.isFinite(vmHWM) ? { vmHWM, vmRSS, rssAnon, rssFile } : undefined;
}

/**
 * Samples a process's memory every `everyMs` until `stop()`; returns the peaks of the resident
 * set's anonymous and file-backed parts (VmHWM has only their sum).
 */
export function sampleMemory(pid: number, everyMs = 25) {
  const peak = { rssAnon: 0, rssFile: 0 };
  let running = true;
  const done = (async () => {
    while (running) {
      const m = await readMemory(pid);
      if (m) {
        peak.rssAnon = Math.max(peak.rssAnon, m.rssAnon);
        peak.rssFile = Math.max(peak.rssFile, m.rssFile);
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      return peak;
    },
  };
}

/** Drains a byte stream, keeping only its last `maxChars` characters (for error messages). */
/** What a started server process has printed on stderr (the tail), and whether it has exited. */
export interface ChildWatch {
  stderr: () => string;
  exited: () => boolean;
}

/** Drains a child's stderr (so its pipe never blocks) and notes when it exits. */
export function watchChild(child: Deno.ChildProcess): ChildWatch {
  const stderr = drainTail(child.stderr);
  let exited = false;
  child.status.then(() => (exited = true));
  return { stderr, exited: () => exited };
}

export function drainTail(stream: ReadableStream<Uint8Array>, maxChars = 4000): () => string {
  let tail = "";
  (async () => {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      tail = (tail + text).slice(-maxChars);
    }
  })().catch(() => {});
  return () => tail;
}

/** Busy and total jiffies of all CPUs, from the first line of `/proc/stat`. */
async function cpuTimes(): Promise<{ busy: number; total: number } | undefined> {
  try {
    const line = (await Deno.readTextFile("/proc/stat")).split("\n")[0];
    const [user, nice, system, idle, iowait, irq, softirq, steal] = line.split(/\s+/).slice(1)
      .map(Number);
    const busy = user + nice + system + irq + softirq + steal;
    return { busy, total: busy + idle + iowait };
  } catch {
    return undefined;
  }
}

/** The share (0–1) of all CPUs' time spent busy during the next `ms` milliseconds. */
export async function cpuBusyShare(ms = 1000): Promise<number | undefined> {
  const before = await cpuTimes();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const after = await cpuTimes();
  if (!before || !after || after.total === before.total) return undefined;
  return (after.busy - before.busy) / (after.total - before.total);
}
