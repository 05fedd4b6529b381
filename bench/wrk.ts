/**
 * Runs `wrk --latency` and parses its report: requests/s, transfer/s, the latency distribution and
 * any errors (socket errors, non-2xx answers).
 *
 * @module
 */
import { runQuiet } from "./proc.ts";

export interface WrkOptions {
  threads: number;
  connections: number;
  durationS: number;
}

export interface WrkResult {
  requests: number;
  requestsPerSec: number;
  /** Bytes per second read, as wrk reports it (binary units). */
  transferPerSec: number;
  /** Latency percentiles in milliseconds. */
  latencyMs: { p50: number; p75: number; p90: number; p99: number };
  socketErrors: number;
  non2xx: number;
}

const TIME_UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const SIZE_UNITS: Record<string, number> = {
  B: 1,
  KB: 1024,
  MB: 1024 ** 2,
  GB: 1024 ** 3,
  TB: 1024 ** 4,
  PB: 1024 ** 5,
};

function match(text: string, re: RegExp, what: string): RegExpExecArray {
  const m = re.exec(text);
  if (!m) throw new Error(`cannot find ${what} in wrk's output:\n${text}`);
  return m;
}

function latency(text: string, pct: number): number {
  const m = match(text, new RegExp(`^\\s*${pct}%\\s+([\\d.]+)(us|ms|s|m|h)\\s*$`, "m"), `${pct}%`);
  return Number(m[1]) * TIME_UNITS[m[2]];
}

/** Parses the text `wrk --latency` prints. */
export function parseWrk(text: string): WrkResult {
  const rps = match(text, /^Requests\/sec:\s+([\d.]+)/m, "Requests/sec");
  const transfer = match(text, /^Transfer\/sec:\s+([\d.]+)([KMGTP]?B)/m, "Transfer/sec");
  const requests = match(text, /^\s*(\d+) requests in /m, "the request count");
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  return {
    requests: Number(requests[1]),
    requestsPerSec: Number(rps[1]),
    transferPerSec: Number(transfer[1]) * SIZE_UNITS[transfer[2]],
    latencyMs: {
      p50: latency(text, 50),
      p75: latency(text, 75),
      p90: latency(text, 90),
      p99: latency(text, 99),
    },
    socketErrors: socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
    non2xx: non2xx ? Number(non2xx[1]) : 0,
  };
}

function args(url: string, o: WrkOptions): string[] {
  return [`-t${o.threads}`, `-c${o.connections}`, `-d${o.durationS}s`, "--latency", url];
}

/** The command line, for the report. */
export function wrkCommand(o: WrkOptions): string {
  return `wrk ${args("URL", o).join(" ")}`;
}

/** Runs wrk against `url` and parses the result. */
export async function runWrk(binary: string, url: string, o: WrkOptions): Promise<WrkResult> {
  const { ok, output } = await runQuiet(binary, args(url, o));
  if (!ok) throw new Error(`wrk failed:\n${output}`);
  return parseWrk(output);
}
