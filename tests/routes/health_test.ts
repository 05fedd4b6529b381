/**
 * `GET /health` and `GET /v1/health` (liveness plus whether KV answers), unknown routes, and
 * trailing slashes.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  API_HEADERS,
  GATEWAY_KEY,
  headersOf,
  startGateway,
  withoutTimes,
} from "../_support/gateway.ts";

const HEALTH_HEADERS = { "cache-control": "no-store", "content-type": "application/json" };

/** A KV whose `get` is replaced by `get`; everything else reaches the real KV. */
function withGet(get: () => Promise<never>): (kv: Deno.Kv) => Deno.Kv {
  return (kv) =>
    new Proxy(kv, {
      get(target, prop) {
        if (prop === "get") return get;
        const value = Reflect.get(target, prop);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
}

function unknownRoute(method: string, path: string) {
  return {
    error: {
      message: `No route for ${method} ${path}`,
      type: "invalid_request_error",
      param: null,
      code: "unknown_route",
    },
  };
}

for (const path of ["/health", "/v1/health"]) {
  Deno.test(`GET ${path} answers ok without a key and is not cached`, async () => {
    await using gw = await startGateway();
    const res = await gw.get(path, { key: null });
    assert.equal(res.status, 200);
    assert.deepEqual(headersOf(res), HEALTH_HEADERS);
    assert.deepEqual(await res.json(), { status: "ok", kv: "ok", auth_mode: "pool" });
    assert.deepEqual(gw.fake.calls, []);
  });

  Deno.test(`GET ${path} answers 503 degraded when KV rejects reads`, async () => {
    await using gw = await startGateway({
      wrapKv: withGet(() => Promise.reject(new Error("database is locked (simulated)"))),
    });
    const res = await gw.get(path, { key: null });
    assert.equal(res.status, 503);
    assert.deepEqual(headersOf(res), HEALTH_HEADERS);
    assert.deepEqual(await res.json(), { status: "degraded", kv: "error", auth_mode: "pool" });
  });
}

Deno.test("GET /health reports pass-through mode", async () => {
  await using gw = await startGateway({
    env: { SILICONFLOW_API_KEYS: undefined, GATEWAY_API_KEYS: undefined },
  });
  const res = await gw.get("/health", { key: null });
  assert.equal(res.status, 200);
  assert.deepEqual(headersOf(res), HEALTH_HEADERS);
  assert.deepEqual(await res.json(), { status: "ok", kv: "ok", auth_mode: "pass-through" });
});

Deno.test("GET /health ignores a wrong key rather than refusing it", async () => {
  await using gw = await startGateway();
  const res = await gw.get("/health", { key: "not-a-gateway-key" });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { status: "ok", kv: "ok", auth_mode: "pool" });
});

Deno.test("GET /health answers 503 degraded when KV does not answer within 2 seconds", async () => {
  await using gw = await startGateway({ wrapKv: withGet(() => new Promise<never>(() => {})) });
  const start = performance.now();
  const res = await gw.get("/health", { key: null });
  const elapsed = performance.now() - start;
  assert.equal(res.status, 503);
  assert.deepEqual(headersOf(res), HEALTH_HEADERS);
  assert.deepEqual(await res.json(), { status: "degraded", kv: "error", auth_mode: "pool" });
  assert.ok(elapsed >= 1900 && elapsed < 5000, `answered after ${elapsed} ms`);
});

Deno.test("HEAD /health answers the status without a body", async () => {
  await using gw = await startGateway();
  const res = await gw.app.request("/health", { method: "HEAD" });
  assert.equal(res.status, 200);
  assert.deepEqual(headersOf(res), HEALTH_HEADERS);
  assert.equal(await res.text(), "");
});

Deno.test("an unknown route answers 404 unknown_route in OpenAI's error shape", async () => {
  await using gw = await startGateway();
  const res = await gw.get("/nope", { key: null });
  assert.equal(res.status, 404);
  assert.deepEqual(headersOf(res), { "content-type": "application/json" });
  assert.deepEqual(await res.json(), unknownRoute("GET", "/nope"));
});

Deno.test("a known path with another method answers 405 with Allow, in OpenAI's shape", async () => {
  await using gw = await startGateway();
  const cases: [string, string, string][] = [
    ["POST", "/health", "GET, HEAD"],
    ["GET", "/v1/images/generations", "POST, OPTIONS"],
    ["PUT", "/v1/chat/completions", "POST, OPTIONS"],
    ["DELETE", "/v1/models/Kwai-Kolors/Kolors", "GET, HEAD, OPTIONS"],
    ["POST", "/i/AAAAAAAAAAAAAAAA.png", "GET, HEAD, OPTIONS"],
  ];
  for (const [method, path, allow] of cases) {
    const res = await gw.app.request(path, {
      method,
      headers: { authorization: `Bearer ${GATEWAY_KEY}` },
    });
    assert.equal(res.status, 405, `${method} ${path}`);
    assert.equal(res.headers.get("allow"), allow);
    assert.equal(res.headers.get("content-type"), "application/json");
    assert.deepEqual(await res.json(), {
      error: {
        message: `${method} is not allowed on ${path}; use ${allow.replace(", OPTIONS", "")}`,
        type: "invalid_request_error",
        param: null,
        code: "method_not_allowed",
      },
    });
  }
});

Deno.test("repeated slashes route as one, as one-api sends them from a base URL with a trailing slash", async () => {
  await using gw = await startGateway();
  const models = await gw.get("//v1//models");
  assert.equal(models.status, 200);
  assert.equal((await models.json()).object, "list");
  const generated = await gw.post("//v1/images//generations/", { prompt: "a fox" });
  assert.equal(generated.status, 200);
  assert.match((await generated.json()).data[0].url, /^http:\/\/localhost\/i\/[\w-]{16}\.png$/);
  const health = await gw.get("///health", { key: null });
  assert.equal(health.status, 200);
  const unknown = await gw.get("//v1//nope");
  assert.deepEqual(await unknown.json(), unknownRoute("GET", "/v1/nope"));
});

Deno.test("an unknown /v1 route needs a key in pool mode, then answers 404 unknown_route", async () => {
  await using gw = await startGateway();
  const anonymous = await gw.get("/v1/nope", { key: null });
  assert.equal(anonymous.status, 401);
  assert.deepEqual(headersOf(anonymous), {
    ...API_HEADERS,
    "www-authenticate": 'Bearer realm="sf-image-gateway"',
  });
  assert.deepEqual((await anonymous.json()).error.code, "invalid_api_key");

  const res = await gw.get("/v1/nope");
  assert.equal(res.status, 404);
  assert.deepEqual(headersOf(res), API_HEADERS);
  assert.deepEqual(await res.json(), unknownRoute("GET", "/v1/nope"));
});

Deno.test("a trailing slash on /v1/models, /models and /health answers like the plain path", async () => {
  await using gw = await startGateway();
  for (const [plain, slashed] of [["/v1/models", "/v1/models/"], ["/models", "/models/"]]) {
    const a = await gw.get(plain);
    const b = await gw.get(slashed);
    assert.equal(b.status, 200, slashed);
    assert.deepEqual(headersOf(b), headersOf(a));
    assert.deepEqual(await b.json(), await a.json());
  }
  const health = await gw.get("/health/", { key: null });
  assert.equal(health.status, 200);
  assert.deepEqual(headersOf(health), HEALTH_HEADERS);
  assert.deepEqual(await health.json(), { status: "ok", kv: "ok", auth_mode: "pool" });
});

Deno.test("the request log names method, path and status of a request, never its query", async () => {
  await using gw = await startGateway();
  await (await gw.get("/health?token=abc", { key: null })).text();
  await (await gw.get("/v1/nope?token=abc")).text();
  assert.deepEqual(withoutTimes(gw.log.lines), ["GET /health 200", "GET /v1/nope 404"]);
  assert.deepEqual(gw.log.warnings, []);
  assert.deepEqual(gw.log.errors, []);
});

Deno.test({
  name: "the request log has a line for a request to an unknown route outside /v1",
  // BUG: lib/app.ts's `app.notFound` handler throws NotFoundError. Hono calls the not-found
  // handler from compose() at the end of the middleware chain, outside that level's try/catch, so
  // the error escapes through `requestLog`'s `await next()` (and is only caught at requestLog's
  // own level by onError). The line after `await next()` never runs: `GET /nope` answers 404
  // but leaves no log line. (`/v1/nope` is logged because the /v1 middlewares catch it first.)
  async fn() {
    await using gw = await startGateway();
    const res = await gw.get("/nope", { key: null });
    assert.equal(res.status, 404);
    await res.body?.cancel();
    assert.deepEqual(withoutTimes(gw.log.lines), ["GET /nope 404"]);
  },
});

/** Log lines without their trailing duration (`… 12ms`). */
