/**
 * Part 2: serving a stored image. wrk loads the gateway's `/i/:id` link and then nginx serving the
 * very same bytes from a file, with identical settings, each after a short unmeasured warm-up.
 *
 * @module
 */
import { Nginx, NGINX_SETTINGS } from "./nginx.ts";
import { runWrk, type WrkOptions, type WrkResult } from "./wrk.ts";

export interface ServingOptions {
  wrk: string;
  nginx: string;
  /** The gateway's `/i/` link of a stored image. */
  gatewayLink: string;
  /** The image's bytes, written to disk for nginx. */
  image: Uint8Array;
  dir: string;
  nginxWorkers: number;
  load: WrkOptions;
  warmupS: number;
}

export interface ServingResult {
  nginx: { version: string; workers: number; settings: string; url: string; wrk: WrkResult };
  gateway: { url: string; wrk: WrkResult };
  /** Gateway requests/s over nginx's. */
  throughputRatio: number;
  /** Gateway p99 over nginx's. */
  p99Ratio: number;
}

/** Fetches `url` and checks it answers exactly `expected`. */
async function checkBytes(url: string, expected: Uint8Array): Promise<void> {
  const res = await fetch(url);
  const got = new Uint8Array(await res.arrayBuffer());
  const same = got.length === expected.length && got.every((b, i) => b === expected[i]);
  if (res.status !== 200 || !same) {
    throw new Error(`${url} answered ${res.status} with ${got.length} bytes, not the image`);
  }
}

async function load(wrk: string, url: string, o: ServingOptions): Promise<WrkResult> {
  await runWrk(wrk, url, { ...o.load, durationS: o.warmupS });
  const result = await runWrk(wrk, url, o.load);
  if (result.socketErrors > 0 || result.non2xx > 0) {
    console.warn(
      `  warning: ${url}: ${result.socketErrors} socket errors, ${result.non2xx} non-2xx`,
    );
  }
  return result;
}

export async function measureServing(o: ServingOptions): Promise<ServingResult> {
  const root = `${o.dir}/www`;
  await Deno.mkdir(root, { recursive: true });
  await Deno.writeFile(`${root}/image.png`, o.image);
  await checkBytes(o.gatewayLink, o.image);

  await using nginx = await Nginx.start({
    binary: o.nginx,
    dir: o.dir,
    root,
    workers: o.nginxWorkers,
    probe: "image.png",
  });
  const nginxUrl = `${nginx.origin}/image.png`;
  await checkBytes(nginxUrl, o.image);

  const nginxResult = await load(o.wrk, nginxUrl, o);
  const gatewayResult = await load(o.wrk, o.gatewayLink, o);
  return {
    nginx: {
      version: nginx.version,
      workers: o.nginxWorkers,
      settings: NGINX_SETTINGS,
      url: nginxUrl,
      wrk: nginxResult,
    },
    gateway: { url: o.gatewayLink, wrk: gatewayResult },
    throughputRatio: gatewayResult.requestsPerSec / nginxResult.requestsPerSec,
    p99Ratio: gatewayResult.latencyMs.p99 / nginxResult.latencyMs.p99,
  };
}
