/**
 * The "deno floor" of part 2: the least a Deno program can do to serve the image, run as its own
 * process by `bench/deno_floor.ts`. Plain `Deno.serve`, no framework, no routing, no KV: every
 * request gets the image, read once at start from a file the bench wrote, with the headers the
 * gateway sends for it. Bodies larger than the slice size go out as a pull `ReadableStream` of
 * slices, the strategy of the gateway's cached path (`sliced()` in lib/routes/image_files.ts);
 * this file imports nothing so it shares no code with the gateway.
 *
 * Usage: `deno run --allow-net=127.0.0.1 --allow-read=FILE bench/deno_floor_server.ts
 * PORT FILE SLICE_BYTES HEADERS_JSON`
 *
 * @module
 */

const [portArg, file, sliceArg, headersJson] = Deno.args;
const port = Number(portArg);
const sliceBytes = Number(sliceArg);
if (!Number.isInteger(port) || !file || !(sliceBytes > 0) || !headersJson) {
  console.error("usage: deno_floor_server.ts PORT FILE SLICE_BYTES HEADERS_JSON");
  Deno.exit(2);
}

const bytes = await Deno.readFile(file);
const headers: Record<string, string> = {
  ...JSON.parse(headersJson) as Record<string, string>,
  "content-length": String(bytes.length),
};

/** The bytes as they are when small, otherwise as a stream of `sliceBytes` slices. */
function body(): Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array<ArrayBuffer>> {
  if (bytes.length <= sliceBytes) return bytes;
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      controller.enqueue(bytes.subarray(offset, offset + sliceBytes));
      offset += sliceBytes;
      if (offset >= bytes.length) controller.close();
    },
  });
}

Deno.serve(
  { hostname: "127.0.0.1", port, onListen: () => {} },
  () => new Response(body(), { headers }),
);
