/**
 * Keys and addresses against a careless or hostile upstream and client: keys echoed in encoded
 * forms (answers, log lines, fallback links; the pool's, a provider's, a pass-through client's),
 * image links and redirects into the gateway's own network, forged `X-Forwarded-*` headers, and
 * model ids that are empty, carry control characters or are too long.
 *
 * @module
 */
import assert from "node:assert/strict";
import { FakeSiliconFlow } from "../_support/fake_siliconflow.ts";
import {
  assertOpenAIError,
  GATEWAY_KEY,
  linkPath,
  startGateway,
  type TestGateway,
} from "../_support/gateway.ts";
import { tinyPng } from "../_support/images.ts";

const GENERATIONS = "/v1/images/generations";
const POOL_KEY = "sk-pool-secret-0123456789abcdefXYZ";

/** Every character as `%XX`. */
const percentEncoded = (text: string) =>
  Array.from(new TextEncoder().encode(text), (b) => `%${b.toString(16).padStart(2, "0")}`).join("");

/** `text` in base64 after `shift` other bytes, in either alphabet. */
function base64After(shift: number, text: string, url: boolean): string {
  const b64 = btoa("Qz!".slice(0, shift) + text);
  return url ? b64.replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "") : b64;
}

/** The key in each encoded form: percent-encoded, and base64 / base64url at each alignment. */
function encodedForms(key: string): string[] {
  const forms = [percentEncoded(key), key.replace("-", "%2D")];
  for (let shift = 0; shift < 3; shift++) {
    for (const url of [false, true]) forms.push(base64After(shift, key, url));
  }
  return forms;
}

/** Asserts that nothing of `key` is left in `text`: no form's middle, no run of 6 characters. */
function assertNoKey(text: string, key: string, where: string) {
  for (const form of [key, ...encodedForms(key)]) {
    const middle = form.slice(4, -4);
    for (let i = 0; i + 6 <= middle.length; i++) {
      const run = middle.slice(i, i + 6);
      assert.ok(!text.includes(run), `${where}: "${run}" of ${form} is left in: ${text}`);
    }
  }
}

/** A loopback server that counts its requests. */
function countingServer(handler: (req: Request) => Response) {
  const requests: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    requests.push(new URL(req.url).pathname);
    return handler(req);
  });
  return {
    requests,
    origin: `http://127.0.0.1:${server.addr.port}`,
    host: `127.0.0.1:${server.addr.port}`,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** A secret that must never be published: any request for it is a failure of the gateway. */
const secretServer = () =>
  countingServer(() =>
    new Response(tinyPng as Uint8Array<ArrayBuffer>, { headers: { "content-type": "image/png" } })
  );

/** A gateway whose upstream answers every image link with a 302 to `location`. */
async function redirectingUpstream(location: string, env: Record<string, string> = {}) {
  return await startGateway({
    env,
    fake: {
      chaos: (what) =>
        what === "image" ? { status: 302, body: "", headers: { location } } : undefined,
    },
  });
}

Deno.test("encoded keys are redacted in the answer, the log lines and a fallback link", async () => {
  await using gw = await startGateway({
    env: { SILICONFLOW_API_KEYS: POOL_KEY, UPSTREAM_RETRIES: "0" },
    fake: { keys: [POOL_KEY] },
  });
  const forms = encodedForms(POOL_KEY);
  // An upstream message holding the key in every form.
  gw.fake.failNext({ status: 400, body: { code: 20015, message: `bad: ${forms.join(" ")}` } });
  const error = await assertOpenAIError(await gw.post(GENERATIONS, { prompt: "x" }), 400, {});
  assertNoKey(error.message, POOL_KEY, "answer");
  assert.match(
    error.message,
    /^SiliconFlow rejected the request\. SiliconFlow said: bad: sk-\*\*\*/,
  );

  // An image link holding it in its path and query, which cannot be downloaded (404).
  const origin = new URL(gw.fake.baseUrl).origin;
  const link = `${origin}/outputs/${forms[2]}/${forms[0]}.png?a=${forms[5]}&b=${forms[7]}`;
  gw.fake.failNext({ status: 200, body: { images: [{ url: link }], seed: 1 } });
  const res = await gw.post(GENERATIONS, { prompt: "x" });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-image-storage"), "upstream-fallback");
  const url = (await res.json()).data[0].url;
  assert.ok(url.startsWith(`${origin}/outputs/`), url);
  assertNoKey(url, POOL_KEY, "fallback link");
  // The log line naming the failed download.
  const logged = [...gw.log.lines, ...gw.log.warnings, ...gw.log.errors].join("\n");
  assert.match(logged, /image not stored, answering with the upstream link: .*HTTP 404/);
  assertNoKey(logged, POOL_KEY, "log lines");

  // Any line the gateway writes, whatever its source.
  gw.services.log.warn(`echo ${forms.join(" ")} ${POOL_KEY.toUpperCase()}`);
  gw.services.log.error("failed", new Error(`with ${forms[4]}`, { cause: new Error(forms[1]) }));
  assertNoKey([...gw.log.warnings, ...gw.log.errors].join("\n"), POOL_KEY, "direct lines");
});

Deno.test("a provider's key (PROVIDERS_JSON) echoed in base64 or percent-encoded is redacted", async () => {
  const providerKey = "kq7Zw-Pv2nX-0123456789-Lm4T";
  await using other = new FakeSiliconFlow({ keys: [providerKey] });
  await using gw = await startGateway({
    env: {
      PROVIDERS_JSON: JSON.stringify([{
        name: "acme",
        kind: "siliconflow",
        base_url: other.baseUrl,
        keys: [providerKey],
        models: ["Qwen/Qwen-Image"],
      }]),
      UPSTREAM_RETRIES: "0",
    },
  });
  other.failNext({
    status: 400,
    body: { code: 20015, message: `rejected ${encodedForms(providerKey).join(", ")}` },
  });
  const res = await gw.post(GENERATIONS, { model: "Qwen/Qwen-Image", prompt: "x" });
  const error = await assertOpenAIError(res, 400, {});
  assert.match(error.message, /^provider "acme" rejected the request\./);
  assertNoKey(error.message, providerKey, "answer");
});

Deno.test("in pass-through mode the client's own key is redacted from its request's log lines", async () => {
  const clientKey = "sk-client-own-key-0123456789abcdef";
  await using gw = await startGateway({
    env: { SILICONFLOW_API_KEYS: undefined, GATEWAY_API_KEYS: undefined },
    fake: { keys: [clientKey] },
  });
  const origin = new URL(gw.fake.baseUrl).origin;
  const b64 = base64After(2, clientKey, true);
  gw.fake.failNext({
    status: 200,
    body: { images: [{ url: `${origin}/outputs/${b64}/x.png` }], seed: 1 },
  });
  const res = await gw.post(GENERATIONS, { prompt: "x" }, { key: clientKey });
  assert.equal(res.status, 200);
  assertNoKey((await res.json()).data[0].url, clientKey, "fallback link");
  const logged = gw.log.warnings.join("\n");
  assert.match(logged, /image not stored/);
  assertNoKey(logged, clientKey, "log lines");
});

Deno.test("an image link redirecting into the gateway's network is not followed: not stored, the upstream link answered", async () => {
  await using secret = secretServer();
  await using gw = await redirectingUpstream(`${secret.origin}/internal-secret.png?token=abc`);
  const res = await gw.post(GENERATIONS, { prompt: "x" });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-image-storage"), "upstream-fallback");
  const url = (await res.json()).data[0].url;
  assert.ok(url.startsWith(`${new URL(gw.fake.baseUrl).origin}/outputs/`), url);
  assert.deepEqual(secret.requests, []);
  // Named by its host, never its query string; not retried (the refusal cannot pass).
  assert.deepEqual(gw.log.warnings, [
    "image not stored, answering with the upstream link: Cannot download image from " +
    `${secret.origin}/internal-secret.png: 127.0.0.1 is a loopback address, not a public one; ` +
    "a private image host must be listed in DOWNLOAD_ALLOW_HOSTS",
  ]);
  assert.equal(gw.fake.imageRequests.length, 0);
});

Deno.test("a redirect within the upstream's own origin is followed and the image stored", async () => {
  await using upstream = countingServer((req) => {
    const path = new URL(req.url).pathname;
    if (path === "/v1/images/generations") {
      return Response.json({ images: [{ url: `${upstream.origin}/signed/a.png?sig=1` }], seed: 7 });
    }
    if (path === "/signed/a.png") {
      return new Response(null, { status: 302, headers: { location: "/files/a.png" } });
    }
    return new Response(tinyPng as Uint8Array<ArrayBuffer>);
  });
  await using gw = await startGateway({ env: { SILICONFLOW_BASE_URL: `${upstream.origin}/v1` } });
  const res = await gw.post(GENERATIONS, { prompt: "x" });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-image-storage"), "kv");
  const served = await gw.get(linkPath((await res.json()).data[0].url), { key: null });
  assert.equal(served.status, 200);
  assert.deepEqual(new Uint8Array(await served.arrayBuffer()), tinyPng);
  assert.deepEqual(upstream.requests, ["/v1/images/generations", "/signed/a.png", "/files/a.png"]);
});

Deno.test("DOWNLOAD_ALLOW_HOSTS lets downloads reach a listed private host", async () => {
  await using secret = secretServer();
  await using gw = await redirectingUpstream(`${secret.origin}/store/a.png`, {
    DOWNLOAD_ALLOW_HOSTS: `other.internal, ${secret.host}`,
  });
  const res = await gw.post(GENERATIONS, { prompt: "x" });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-image-storage"), "kv");
  await res.body?.cancel();
  assert.deepEqual(secret.requests, ["/store/a.png"]);
});

Deno.test("X-Forwarded-Host and -Proto do not change links unless TRUST_PROXY_HEADERS is set", async () => {
  await using gw = await startGateway();
  const res = await gw.app.request(GENERATIONS, {
    method: "POST",
    headers: {
      authorization: `Bearer ${GATEWAY_KEY}`,
      "x-forwarded-proto": "https",
      "x-forwarded-host": "evil.example",
    },
    body: JSON.stringify({ prompt: "x" }),
  });
  assert.match((await res.json()).data[0].url, /^http:\/\/localhost\/i\/[A-Za-z0-9_-]{16}\.png$/);
});

/** A request to each endpoint with `model`, as the clients of each send it. */
function requestsWithModel(gw: TestGateway, model: string | undefined) {
  const png = new File([tinyPng as Uint8Array<ArrayBuffer>], "a.png", { type: "image/png" });
  const form = new FormData();
  if (model !== undefined) form.append("model", model);
  form.append("prompt", "make it blue");
  form.append("image", png);
  const image = `data:image/png;base64,${btoa(String.fromCharCode(...tinyPng))}`;
  const auth = { authorization: `Bearer ${GATEWAY_KEY}` };
  return {
    generations: () => gw.post(GENERATIONS, { model, prompt: "a fox" }),
    "edits (JSON)": () => gw.post("/v1/images/edits", { model, prompt: "make it blue", image }),
    "edits (multipart)": () =>
      gw.app.request("/v1/images/edits", { method: "POST", headers: auth, body: form }),
    chat: () =>
      gw.post("/v1/chat/completions", { model, messages: [{ role: "user", content: "a fox" }] }),
  };
}

Deno.test("an empty or blank model means the default model on every endpoint", async () => {
  await using gw = await startGateway();
  const expected = {
    generations: "Kwai-Kolors/Kolors",
    "edits (JSON)": "Qwen/Qwen-Image-Edit",
    "edits (multipart)": "Qwen/Qwen-Image-Edit",
    chat: "Kwai-Kolors/Kolors",
  };
  for (const model of ["", "   "]) {
    for (const [name, send] of Object.entries(requestsWithModel(gw, model))) {
      const calls = gw.fake.generationCalls.length;
      const res = await send();
      assert.equal(res.status, 200, `${name}, model ${JSON.stringify(model)}`);
      assert.equal(res.headers.get("x-model-substituted"), null, name);
      await res.body?.cancel();
      assert.equal(gw.fake.generationCalls.length, calls + 1, name);
      assert.equal(
        gw.fake.generationCalls.at(-1)!.body.model,
        expected[name as keyof typeof expected],
      );
    }
  }
});

Deno.test("a model with control characters or over 256 characters is a 400 before any upstream call", async () => {
  await using gw = await startGateway();
  const cases: [string, RegExp][] = [
    ["dall-e-3\r\nX-Injected: 1", /control characters or line breaks \(found U\+000D\)/],
    ["Kwai-Kolors/Kolors\u0000", /found U\+0000/],
    ["a\u007fb", /found U\+007F/],
    ["a\u0085b", /found U\+0085/],
    ["a\u2028b", /found U\+2028/],
    ["m".repeat(257), /^model is longer than 256 characters$/],
  ];
  for (const [model, message] of cases) {
    for (const [name, send] of Object.entries(requestsWithModel(gw, model))) {
      const res = await send();
      assert.equal(res.status, 400, name);
      await assertOpenAIError(res, 400, { param: "model", code: "invalid_model", message });
    }
  }
  assert.equal(gw.fake.calls.length, 0);
  // 256 characters (of any plane) are still a model id: an unknown one, answered by SiliconFlow.
  const res = await gw.post("/v1/chat/completions", {
    model: "😀".repeat(256),
    messages: [{ role: "user", content: "a fox" }],
  });
  assert.notEqual(res.status, 400);
  await res.body?.cancel();
});
