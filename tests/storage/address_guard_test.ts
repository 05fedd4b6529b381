/**
 * Which hosts image downloads may reach (`address_guard.ts`), and `downloadImage` following
 * redirects by hand with every hop checked, over real loopback sockets.
 *
 * @module
 */
import assert from "node:assert/strict";
import { AddressGuard, addressRange, type Resolver } from "../../lib/storage/address_guard.ts";
import { DownloadError, downloadImage } from "../../lib/storage/download.ts";
import { tinyPng } from "../_support/images.ts";

const never = AbortSignal.timeout(5000);

Deno.test("addressRange: only unicast is public; IPv4-mapped IPv6 is judged as its IPv4", () => {
  const ranges: [string, string][] = [
    ["8.8.8.8", "unicast"],
    ["2606:4700::1111", "unicast"],
    ["127.0.0.1", "loopback"],
    ["::1", "loopback"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:10.1.2.3", "private"],
    ["::7f00:1", "ipv4Compatible"],
    ["10.1.2.3", "private"],
    ["172.16.0.1", "private"],
    ["192.168.1.1", "private"],
    ["169.254.169.254", "linkLocal"],
    ["fe80::1", "linkLocal"],
    ["fd00::1", "uniqueLocal"],
    ["100.64.0.1", "carrierGradeNat"],
    ["0.0.0.0", "unspecified"],
    ["2002:7f00:1::", "6to4"],
    ["64:ff9b::7f00:1", "rfc6052"],
    ["not an address", "invalid"],
  ];
  for (const [address, range] of ranges) assert.equal(addressRange(address), range, address);
});

/** A resolver from a table, counting its lookups. */
function tableResolver(table: Record<string, string[]>): Resolver & { lookups: string[] } {
  const lookups: string[] = [];
  return Object.assign((host: string) => {
    lookups.push(host);
    const addresses = table[host];
    return addresses ? Promise.resolve(addresses) : Promise.reject(new Error("SERVFAIL"));
  }, { lookups });
}

Deno.test("AddressGuard refuses hosts that are or resolve to non-public addresses, and allows the listed ones", async () => {
  const resolve = tableResolver({
    "cdn.example": ["93.184.216.34", "2606:2800:220:1::1"],
    "rebind.example": ["93.184.216.34", "127.0.0.1"],
    "metadata.example": ["169.254.169.254"],
    "empty.example": [],
  });
  const guard = new AddressGuard({
    origins: ["http://127.0.0.1:9999/v1"],
    hosts: ["minio.internal:9000", "10.0.0.5"],
    resolve,
  });
  const refusal = (url: string) => guard.refusal(new URL(url), never);
  assert.equal(await refusal("https://cdn.example/a.png"), undefined);
  assert.equal(await refusal("http://127.0.0.1:9999/outputs/a.png"), undefined);
  assert.equal(await refusal("http://minio.internal:9000/b/a.png"), undefined);
  assert.equal(await refusal("http://10.0.0.5:1234/a.png"), undefined);
  const hint = "; a private image host must be listed in DOWNLOAD_ALLOW_HOSTS";
  const refused: [string, string][] = [
    ["http://127.0.0.1:9998/", "127.0.0.1 is a loopback address, not a public one"],
    ["http://2130706433/", "127.0.0.1 is a loopback address, not a public one"],
    ["http://0x7f.1/", "127.0.0.1 is a loopback address, not a public one"],
    ["http://[::ffff:7f00:1]/", "[::ffff:7f00:1] is a loopback address, not a public one"],
    ["http://[fd00::1]/", "[fd00::1] is a uniqueLocal address, not a public one"],
    [
      "http://169.254.169.254/latest/meta-data/",
      "169.254.169.254 is a linkLocal address, not a public one",
    ],
    [
      "https://rebind.example/",
      "rebind.example resolves to 127.0.0.1, a loopback address, not a public one",
    ],
    [
      "https://metadata.example/",
      "metadata.example resolves to 169.254.169.254, a linkLocal address, not a public one",
    ],
  ];
  for (const [url, reason] of refused) {
    assert.equal(await refusal(url), reason + hint, url);
  }
  assert.equal(await refusal("https://empty.example/"), "empty.example has no address");
  assert.equal(await refusal("ftp://cdn.example/"), "ftp: is not http(s)");
  // minio.internal on another port is not listed: looked up, and the lookup fails.
  await assert.rejects(refusal("http://minio.internal:9001/"), /SERVFAIL/);
  // A verdict is kept for a while: one lookup per host for a batch of images.
  await refusal("https://cdn.example/b.png");
  assert.deepEqual(resolve.lookups.filter((h) => h === "cdn.example"), ["cdn.example"]);
});

/** A loopback server answering each path from `routes` (404 otherwise), recording requests. */
function server(routes: Record<string, (origin: string) => Response>) {
  const requests: string[] = [];
  const s = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    requests.push(url.pathname + url.search);
    return routes[url.pathname]?.(url.origin) ?? new Response("no", { status: 404 });
  });
  const origin = `http://127.0.0.1:${s.addr.port}`;
  return { origin, requests, [Symbol.asyncDispose]: () => s.shutdown() };
}

const redirect = (location: string) => () =>
  new Response(null, { status: 302, headers: { location } });
const png = () => new Response(tinyPng as Uint8Array<ArrayBuffer>);

async function readAll(download: AsyncIterable<Uint8Array>): Promise<number> {
  let size = 0;
  for await (const part of download) size += part.length;
  return size;
}

Deno.test("downloadImage follows redirects by hand and refuses a hop to a host the guard refuses", async () => {
  await using secret = server({ "/secret.png": png });
  await using upstream = server({
    "/to-secret": redirect(`${secret.origin}/secret.png?token=abc`),
    "/a": redirect("/b"),
    "/b": redirect("/img.png"),
    "/img.png": png,
    "/loop": redirect("/loop"),
    "/no-location": () => new Response(null, { status: 302 }),
    "/to-file": redirect("file:///etc/passwd"),
  });
  const guard = new AddressGuard({ origins: [upstream.origin] });
  const options = { fetch, timeoutMs: 5000, maxBytes: 1 << 20, guard };

  const followed = await downloadImage(`${upstream.origin}/a?sig=1`, options);
  assert.equal(await readAll(followed), tinyPng.length);

  const refused = await downloadImage(`${upstream.origin}/to-secret`, options).catch((e) => e);
  assert.ok(refused instanceof DownloadError);
  assert.equal(refused.transient, false);
  assert.equal(
    refused.message,
    `Cannot download image from ${secret.origin}/secret.png: 127.0.0.1 is a loopback address, ` +
      "not a public one; a private image host must be listed in DOWNLOAD_ALLOW_HOSTS",
  );
  assert.deepEqual(secret.requests, []);

  const cases: [string, string][] = [
    ["/loop", "more than 5 redirects"],
    ["/no-location", "a redirect without a valid Location"],
    ["/to-file", "a redirect away from http(s)"],
  ];
  for (const [path, reason] of cases) {
    // The file: redirect is refused without a guard too.
    for (const opts of [options, { ...options, guard: undefined }]) {
      await assert.rejects(downloadImage(`${upstream.origin}${path}`, opts), (err: Error) => {
        assert.ok(err instanceof DownloadError && !err.transient);
        assert.ok(err.message.endsWith(`: ${reason}`), err.message);
        return true;
      });
    }
  }
  assert.equal(upstream.requests.filter((r) => r === "/loop").length, 12);

  // The upstream's own base64 answer, as a data URI, is read without any host.
  const inline = `data:application/octet-stream;base64,${btoa(String.fromCharCode(...tinyPng))}`;
  assert.equal(await readAll(await downloadImage(inline, options)), tinyPng.length);
});
