/**
 * Part 2: serving a stored image. wrk loads nginx serving the image's bytes from a file, then the
 * "deno floor" (plain `Deno.serve` answering the same bytes from memory with the gateway's
 * headers, see `deno_floor_server.ts`), then the gateway's `/i/:id` link, with identical settings,
 * each after a short unmeasured warm-up. nginx is the target; the floor shows how much of the gap
 * to nginx is Deno's HTTP server itself.
 *
 * @module
 */
import { DenoFloor, FLOOR_SLICE_BYTES } from "./deno_floor.ts";
import { Nginx, NGINX_SETTINGS } from "./nginx.ts";
import { runWrk, type WrkOptions, type WrkResult } from "./wrk.ts";

export interface ServingOptions {
  wrk: string;
  nginx: string;
  /** The gateway's `/i/` link of a stored image. */
  gatewayLink: string;
  /** The image's bytes, written to disk for nginx and the deno floor. */
  image: Uint8Array;
  dir: string;
  nginxWorkers: number;
  load: WrkOptions;
  warmupS: number;
}

export interface ServingResult {
  nginx: { version: string; workers: number; settings: string; url: string; wrk: WrkResult };
  denoFloor: {
    url: string;
    /** Bodies over this size are streamed in slices of it, as the gateway does. */
    sliceBytes: number;
    /** The headers it sends (all the gateway sends but `date`, which Deno adds itself). */
    headers: Record<string, string>;
    wrk: WrkResult;
  };
  gateway: { url: string; wrk: WrkResult };
  /** Gateway requests/s over nginx's. */
  throughputRatio: number;
  /** Gateway p99 over nginx's. */
  p99Ratio: number;
  /** Gateway requests/s over the deno floor's (informational). */
  floorThroughputRatio: number;
  /** Gateway p99 over the deno floor's (informational). */
  floorP99Ratio: number;
}

/** Fetches `url`, checks it answers exactly `expected`, and returns its headers. */
async function checkBytes(url: string, expected: Uint8Array): Promise<Headers> {
  const res = await fetch(url);
  const got = new Uint8Array(await res.arrayBuffer());
  const same = got.length === expected.length && got.every((b, i) => b === expected[i]);
  if (res.status !== 200 || !same) {
    throw new Error(`${url} answered ${res.status} with ${got.length} bytes, not the image`);
  }
  return res.headers;
}

/** Headers as a plain record, without `date` (the server adds it to every answer). */
function headerRecord(headers: Headers): Record<string, string> {
  return Object.fromEntries([...headers].filter(([name]) => name !== "date"));
}

/** Throws unless the floor sends exactly the gateway's headers (bar `date`). */
function checkSameHeaders(floor: Headers, gateway: Headers): void {
  const f = headerRecord(floor);
  const g = headerRecord(gateway);
  const names = [...new Set([...Object.keys(f), ...Object.keys(g)])].sort();
  const differ = names.filter((name) => f[name] !== g[name]);
  if (differ.length > 0) {
    const show = (name: string) => `${name}: gateway ${g[name]}, deno floor ${f[name]}`;
    throw new Error(
      `the deno floor's headers differ from the gateway's:\n${differ.map(show).join("\n")}`,
    );
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
  const file = `${root}/image.png`;
  await Deno.writeFile(file, o.image);
  const gatewayHeaders = await checkBytes(o.gatewayLink, o.image);

  let nginxUrl: string;
  let nginxVersion: string;
  let nginxResult: WrkResult;
  {
    await using nginx = await Nginx.start({
      binary: o.nginx,
      dir: o.dir,
      root,
      workers: o.nginxWorkers,
      probe: "image.png",
    });
    nginxUrl = `${nginx.origin}/image.png`;
    nginxVersion = nginx.version;
    await checkBytes(nginxUrl, o.image);
    nginxResult = await load(o.wrk, nginxUrl, o);
  }

  // The floor reads the bytes from the file nginx served; content-length it sets itself.
  const { "content-length": _length, ...floorHeaders } = headerRecord(gatewayHeaders);
  let floorUrl: string;
  let floorResult: WrkResult;
  {
    await using floor = await DenoFloor.start({ file, headers: floorHeaders });
    floorUrl = floor.url;
    checkSameHeaders(await checkBytes(floorUrl, o.image), gatewayHeaders);
    floorResult = await load(o.wrk, floorUrl, o);
  }

  const gatewayResult = await load(o.wrk, o.gatewayLink, o);
  return {
    nginx: {
      version: nginxVersion,
      workers: o.nginxWorkers,
      settings: NGINX_SETTINGS,
      url: nginxUrl,
      wrk: nginxResult,
    },
    denoFloor: {
      url: floorUrl,
      sliceBytes: FLOOR_SLICE_BYTES,
      headers: floorHeaders,
      wrk: floorResult,
    },
    gateway: { url: o.gatewayLink, wrk: gatewayResult },
    throughputRatio: gatewayResult.requestsPerSec / nginxResult.requestsPerSec,
    p99Ratio: gatewayResult.latencyMs.p99 / nginxResult.latencyMs.p99,
    floorThroughputRatio: gatewayResult.requestsPerSec / floorResult.requestsPerSec,
    floorP99Ratio: gatewayResult.latencyMs.p99 / floorResult.latencyMs.p99,
  };
}
