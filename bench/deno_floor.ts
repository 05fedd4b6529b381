/**
 * Runs `bench/deno_floor_server.ts` (plain `Deno.serve` answering the image from memory) as a child
 * process on a loopback port, with the same `deno` binary as the gateway: what Deno's HTTP server
 * itself can do on this machine, the floor under the gateway's `/i/:id`.
 *
 * @module
 */
import { freePort, stopChild, waitForHttp, watchChild } from "./proc.ts";

/** The project root: the floor runs from here like the gateway, with the same `deno.json`. */
const ROOT = new URL("..", import.meta.url).pathname;
const SERVER = new URL("./deno_floor_server.ts", import.meta.url).pathname;

/** Slice size of stream bodies: `SLICE_BYTES` of lib/routes/image_files.ts (256 KiB). */
export const FLOOR_SLICE_BYTES = 256 * 1024;

export interface DenoFloorOptions {
  /** The image file, read once when the server starts. */
  file: string;
  /** Response headers besides `content-length`, which the server sets from the file. */
  headers: Record<string, string>;
}

export class DenoFloor implements AsyncDisposable {
  /** The URL to load; the server answers every path with the image. */
  readonly url: string;
  readonly #child: Deno.ChildProcess;

  private constructor(child: Deno.ChildProcess, url: string) {
    this.#child = child;
    this.url = url;
  }

  /** Starts the server and waits until it answers 200. */
  static async start(o: DenoFloorOptions): Promise<DenoFloor> {
    const port = freePort();
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net=127.0.0.1",
        `--allow-read=${o.file}`,
        SERVER,
        String(port),
        o.file,
        String(FLOOR_SLICE_BYTES),
        JSON.stringify(o.headers),
      ],
      cwd: ROOT,
      env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const { stderr, exited } = watchChild(child);
    const floor = new DenoFloor(child, `http://127.0.0.1:${port}/image.png`);
    try {
      await waitForHttp(floor.url, { timeoutMs: 30_000, exited });
    } catch (err) {
      await floor[Symbol.asyncDispose]();
      const why = err instanceof Error ? err.message : String(err);
      throw new Error(`deno floor did not start: ${why}\n--- its stderr ---\n${stderr()}`);
    }
    return floor;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await stopChild(this.#child);
  }
}
