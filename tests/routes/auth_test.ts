/**
 * Client authentication in both auth modes, CORS, and the promise that no key ever shows up in a
 * response body or a log line; plus the pure helpers of `lib/auth.ts`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { bearerToken, isAllowedKey } from "../../lib/routes/auth.ts";
import {
  API_HEADERS,
  GATEWAY_KEY,
  headersOf,
  startGateway,
  type TestGateway,
  UPSTREAM_KEY,
  withoutTimes,
} from "../_support/gateway.ts";
import { MODELS } from "../_support/fake_siliconflow.ts";

const WWW_AUTHENTICATE = { "www-authenticate": 'Bearer realm="sf-image-gateway"' };

const PASS_THROUGH = {
  env: { SILICONFLOW_API_KEYS: undefined, GATEWAY_API_KEYS: undefined },
  fake: { keys: ["sk-user-own"] },
};

const GENERATION = { model: "Kwai-Kolors/Kolors", prompt: "a lighthouse at dusk" };

function authError(message: string) {
  return {
    error: { message, type: "invalid_request_error", param: null, code: "invalid_api_key" },
  };
}

const MISSING_POOL_KEY = authError(
  "Missing API key: send the gateway key as 'Authorization: Bearer <key>'",
);

/** The full default model list, as the fake's listing makes it. */
function defaultModelList() {
  const ids = [...new Set([...MODELS["text-to-image"], ...MODELS["image-to-image"]])];
  return {
    object: "list",
    data: ids.map((id) => ({
      id,
      object: "model",
      created: 1_704_067_200,
      owned_by: "siliconflow",
    })),
  };
}

Deno.test("pool mode answers 401 invalid_api_key with a Bearer challenge when no key is sent", async () => {
  await using gw = await startGateway();
  const res = await gw.get("/v1/models", { key: null });
  assert.equal(res.status, 401);
  assert.deepEqual(headersOf(res), { ...API_HEADERS, ...WWW_AUTHENTICATE });
  assert.deepEqual(await res.json(), MISSING_POOL_KEY);
  assert.deepEqual(gw.fake.calls, []);
});

Deno.test("pool mode answers 401 for a key that is not one of GATEWAY_API_KEYS", async () => {
  await using gw = await startGateway();
  for (const key of ["wrong-key", GATEWAY_KEY.slice(0, -1), `${GATEWAY_KEY}x`, UPSTREAM_KEY]) {
    const res = await gw.get("/v1/models", { key });
    assert.equal(res.status, 401, `key ${key}`);
    assert.deepEqual(headersOf(res), { ...API_HEADERS, ...WWW_AUTHENTICATE });
    assert.deepEqual(await res.json(), authError("Incorrect API key provided for this gateway"));
  }
  assert.deepEqual(gw.fake.calls, []);
});

Deno.test("pool mode answers GET /v1/models with 200 for a configured gateway key", async () => {
  await using gw = await startGateway();
  const res = await gw.get("/v1/models");
  assert.equal(res.status, 200);
  assert.deepEqual(headersOf(res), API_HEADERS);
  assert.deepEqual(await res.json(), defaultModelList());
});

Deno.test("pool mode accepts every key of GATEWAY_API_KEYS", async () => {
  await using gw = await startGateway({
    env: { GATEWAY_API_KEYS: "gw-one-0123456789ab, gw-two-0123456789ab\ngw-three-0123456789ab" },
  });
  for (const key of ["gw-one-0123456789ab", "gw-two-0123456789ab", "gw-three-0123456789ab"]) {
    const res = await gw.get("/v1/models", { key });
    assert.equal(res.status, 200, `key ${key}`);
    await res.body?.cancel();
  }
});

Deno.test("pool mode accepts the bearer scheme in any letter case", async () => {
  await using gw = await startGateway();
  for (const scheme of ["bearer", "BEARER", "Bearer"]) {
    const res = await gw.get("/v1/models", {
      key: null,
      headers: { authorization: `${scheme} ${GATEWAY_KEY}` },
    });
    assert.equal(res.status, 200, scheme);
    assert.deepEqual(headersOf(res), API_HEADERS);
    assert.deepEqual(await res.json(), defaultModelList());
  }
});

Deno.test("pool mode ignores a key sent in the query string", async () => {
  await using gw = await startGateway();
  for (const query of [`key=${GATEWAY_KEY}`, `api_key=${GATEWAY_KEY}`]) {
    const res = await gw.get(`/v1/models?${query}`, { key: null });
    assert.equal(res.status, 401, query);
    assert.deepEqual(headersOf(res), { ...API_HEADERS, ...WWW_AUTHENTICATE });
    assert.deepEqual(await res.json(), MISSING_POOL_KEY);
  }
  // The request log names the path only, so the key in the query string is not written down.
  assert.deepEqual(withoutTimes(gw.log.lines), ["GET /v1/models 401", "GET /v1/models 401"]);
  assert.deepEqual(gw.fake.calls, []);
});

/** Log lines without their trailing duration (`… 12ms`). */
Deno.test("pool mode rejects an Authorization header that is not a bearer token", async () => {
  await using gw = await startGateway();
  for (
    const authorization of [
      `Basic ${btoa(`user:${GATEWAY_KEY}`)}`,
      GATEWAY_KEY,
      "Bearer",
      `Bearer ${GATEWAY_KEY} extra`,
    ]
  ) {
    const res = await gw.get("/v1/models", { key: null, headers: { authorization } });
    assert.equal(res.status, 401, authorization);
    assert.deepEqual(await res.json(), MISSING_POOL_KEY);
  }
});

Deno.test("GET /health needs no key in pool mode", async () => {
  await using gw = await startGateway();
  const res = await gw.get("/health", { key: null });
  assert.equal(res.status, 200);
  assert.deepEqual(headersOf(res), {
    "cache-control": "no-store",
    "content-type": "application/json",
  });
  assert.deepEqual(await res.json(), { status: "ok", kv: "ok", auth_mode: "pool" });
});

Deno.test("GET /i/:file needs no key in pool mode (unknown images are 404, not 401)", async () => {
  await using gw = await startGateway();
  for (const path of ["/i/anything", "/i/AAAAAAAAAAAAAAAA.png"]) {
    const res = await gw.get(path, { key: null });
    assert.equal(res.status, 404, path);
    assert.deepEqual(headersOf(res), { "content-type": "application/json" });
    assert.deepEqual(await res.json(), {
      error: {
        message: "Image not found",
        type: "invalid_request_error",
        param: null,
        code: "not_found",
      },
    });
  }
});

Deno.test("POST /v1/images/generations needs a key in pool mode and calls no upstream without one", async () => {
  await using gw = await startGateway();
  const res = await gw.post("/v1/images/generations", GENERATION, { key: null });
  assert.equal(res.status, 401);
  assert.deepEqual(headersOf(res), { ...API_HEADERS, ...WWW_AUTHENTICATE });
  assert.deepEqual(await res.json(), MISSING_POOL_KEY);

  const wrong = await gw.post("/v1/images/generations", GENERATION, { key: "wrong-key" });
  assert.equal(wrong.status, 401);
  assert.deepEqual(await wrong.json(), authError("Incorrect API key provided for this gateway"));
  assert.deepEqual(gw.fake.calls, []);
});

Deno.test("pool mode pays upstream with the pool key, not the client's key", async () => {
  await using gw = await startGateway();
  const res = await gw.post("/v1/images/generations", GENERATION);
  assert.equal(res.status, 200);
  await res.body?.cancel();
  assert.deepEqual(gw.fake.calls.map((c) => c.key), [UPSTREAM_KEY]);
});

Deno.test("pass-through mode sends the client's bearer token to SiliconFlow as its key", async () => {
  await using gw = await startGateway(PASS_THROUGH);
  const res = await gw.post("/v1/images/generations", GENERATION, { key: "sk-user-own" });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-image-storage"), "kv");
  const body = await res.json();
  assert.equal(body.data.length, 1);
  assert.deepEqual(gw.fake.calls.map((c) => [c.path, c.key]), [
    ["/v1/images/generations", "sk-user-own"],
  ]);
});

Deno.test("pass-through mode answers 401 when no bearer token is sent", async () => {
  await using gw = await startGateway(PASS_THROUGH);
  const res = await gw.post("/v1/images/generations", GENERATION, { key: null });
  assert.equal(res.status, 401);
  assert.deepEqual(headersOf(res), { ...API_HEADERS, ...WWW_AUTHENTICATE });
  assert.deepEqual(
    await res.json(),
    authError(
      "Missing API key: this gateway runs in pass-through mode; send your SiliconFlow key as " +
        "'Authorization: Bearer <key>'",
    ),
  );
  assert.deepEqual(gw.fake.calls, []);
});

Deno.test("pass-through mode turns SiliconFlow's 'Invalid token' into the gateway's 401 invalid_api_key", async () => {
  await using gw = await startGateway(PASS_THROUGH);
  const res = await gw.post("/v1/images/generations", GENERATION, { key: "sk-user-wrong" });
  assert.equal(res.status, 401);
  assert.deepEqual(headersOf(res), { ...API_HEADERS, ...WWW_AUTHENTICATE });
  assert.deepEqual(
    await res.json(),
    authError(
      "SiliconFlow rejected your API key: Invalid token. In pass-through mode your bearer token " +
        "is used as your SiliconFlow key",
    ),
  );
  assert.deepEqual(gw.fake.calls.map((c) => c.key), ["sk-user-wrong"]);
});

Deno.test("pool mode turns SiliconFlow's 401 for the pool key into 502 upstream_auth_failed", async () => {
  await using gw = await startGateway({ fake: { keys: ["other"] } });
  const res = await gw.post("/v1/images/generations", GENERATION);
  assert.equal(res.status, 502);
  assert.deepEqual(headersOf(res), API_HEADERS);
  assert.deepEqual(await res.json(), {
    error: {
      message: "SiliconFlow rejected the gateway's API keys: Invalid token. The gateway owner " +
        "must fix SILICONFLOW_API_KEYS",
      type: "upstream_error",
      param: null,
      code: "upstream_auth_failed",
    },
  });
  assert.deepEqual(gw.fake.calls.map((c) => c.key), [UPSTREAM_KEY]);
  assert.deepEqual(gw.log.warnings, ["SiliconFlow key #1 retired for every model: HTTP 401"]);
});

Deno.test("OPTIONS preflights on /v1/* and /models are answered without a key", async () => {
  await using gw = await startGateway();
  for (
    const [path, method, requested] of [
      ["/v1/images/generations", "POST", "authorization, content-type, x-stainless-lang"],
      ["/models", "GET", "authorization"],
    ]
  ) {
    const res = await gw.app.request(path, {
      method: "OPTIONS",
      headers: {
        origin: "https://chat.example",
        "access-control-request-method": method,
        "access-control-request-headers": requested,
      },
    });
    assert.equal(res.status, 204, path);
    assert.deepEqual(headersOf(res), {
      "access-control-allow-headers": requested.replaceAll(" ", ""),
      "access-control-allow-methods": "GET,POST,DELETE,OPTIONS",
      "access-control-allow-origin": "*",
      "access-control-expose-headers": API_HEADERS["access-control-expose-headers"],
      "access-control-max-age": "86400",
      vary: "Access-Control-Request-Headers",
    });
    assert.equal(await res.text(), "");
  }
  assert.deepEqual(gw.fake.calls, []);
});

Deno.test("API responses carry access-control-allow-origin * for successes and auth failures", async () => {
  await using gw = await startGateway();
  const origin = { origin: "https://chat.example" };

  const ok = await gw.get("/v1/models", { headers: origin });
  assert.equal(ok.status, 200);
  assert.deepEqual(headersOf(ok), API_HEADERS);
  assert.deepEqual(await ok.json(), defaultModelList());

  const denied = await gw.get("/v1/models", { key: null, headers: origin });
  assert.equal(denied.status, 401);
  assert.deepEqual(headersOf(denied), { ...API_HEADERS, ...WWW_AUTHENTICATE });
  assert.deepEqual(await denied.json(), MISSING_POOL_KEY);

  const generated = await gw.app.request("/v1/images/generations", {
    method: "POST",
    headers: { ...origin, authorization: `Bearer ${GATEWAY_KEY}` },
    body: JSON.stringify(GENERATION),
  });
  assert.equal(generated.status, 200);
  assert.deepEqual(headersOf(generated), { ...API_HEADERS, "x-image-storage": "kv" });
  await generated.body?.cancel();
});

/** Every text a client or an operator could see: response bodies and all log lines. */
async function visibleTexts(gw: TestGateway, responses: Response[]): Promise<string[]> {
  const bodies = await Promise.all(responses.map((res) => res.text()));
  return [
    ...bodies,
    ...responses.flatMap((res) => [...res.headers].map(([k, v]) => `${k}: ${v}`)),
    ...gw.log.lines,
    ...gw.log.warnings,
    ...gw.log.errors,
  ];
}

function assertNoSecret(texts: string[], secrets: string[]) {
  for (const text of texts) {
    for (const secret of secrets) {
      assert.ok(!text.includes(secret), `"${secret}" leaked in: ${text}`);
    }
  }
}

Deno.test("no key appears in any response or log line in pool mode, even when SiliconFlow echoes one", async () => {
  await using gw = await startGateway();
  const responses: Response[] = [];
  responses.push(await gw.post("/v1/images/generations", GENERATION));
  responses.push(await gw.get("/v1/models"));
  responses.push(await gw.get("/v1/models", { key: null }));
  responses.push(await gw.get("/v1/models", { key: "gw-test-ke" }));
  responses.push(await gw.get(`/v1/models?key=${GATEWAY_KEY}`, { key: null }));
  responses.push(await gw.get("/v1/models/no-such/model"));
  gw.fake.failNext({ status: 400, body: { code: 20015, message: `bad key ${UPSTREAM_KEY}` } });
  const echoed = await gw.post("/v1/images/generations", GENERATION);
  gw.fake.failNext({
    status: 429,
    body: { code: 50603, message: `rate limit for ${UPSTREAM_KEY} (${GATEWAY_KEY})` },
  });
  const limited = await gw.post("/v1/images/generations", GENERATION);

  assert.deepEqual(responses.map((r) => r.status), [200, 200, 401, 401, 401, 404]);
  assert.equal(echoed.status, 400);
  assert.deepEqual(await echoed.clone().json(), {
    error: {
      message: "SiliconFlow rejected the request. SiliconFlow said: bad key sk-*** (code 20015)",
      type: "invalid_request_error",
      param: null,
      code: "siliconflow_20015",
    },
  });
  assert.equal(limited.status, 429);
  assert.deepEqual(await limited.clone().json(), {
    error: {
      message: "SiliconFlow's rate limit was reached. SiliconFlow said: rate limit for sk-*** " +
        "(sk-***) (code 50603)",
      type: "rate_limit_error",
      param: null,
      code: "rate_limit_exceeded",
    },
  });
  responses.push(echoed, limited);
  assertNoSecret(await visibleTexts(gw, responses), [UPSTREAM_KEY, GATEWAY_KEY]);
  assert.equal(gw.log.lines.length, 8);
});

Deno.test("no key appears in any response or log line when the pool key is rejected", async () => {
  await using gw = await startGateway({ fake: { keys: ["other"] } });
  const responses = [
    await gw.post("/v1/images/generations", GENERATION),
    await gw.get("/v1/models"),
  ];
  assert.deepEqual(responses.map((r) => r.status), [502, 502]);
  assertNoSecret(await visibleTexts(gw, responses), [UPSTREAM_KEY, GATEWAY_KEY]);
  assert.ok(gw.log.warnings.length > 0);
});

Deno.test("no client key appears in any response or log line in pass-through mode", async () => {
  await using gw = await startGateway(PASS_THROUGH);
  const responses = [
    await gw.post("/v1/images/generations", GENERATION, { key: "sk-user-own" }),
    await gw.post("/v1/images/generations", GENERATION, { key: "sk-user-wrong" }),
    await gw.get("/v1/models", { key: "sk-user-wrong" }),
  ];
  gw.fake.failNext({
    status: 403,
    body: { code: 30011, message: "key sk-user-own is not verified" },
  });
  const echoed = await gw.post("/v1/images/generations", GENERATION, { key: "sk-user-own" });
  assert.deepEqual([...responses, echoed].map((r) => r.status), [200, 401, 401, 403]);
  assert.match((await echoed.clone().json()).error.message, /key sk-\*\*\* is not verified/);
  responses.push(echoed);
  assertNoSecret(await visibleTexts(gw, responses), ["sk-user-own", "sk-user-wrong"]);
});

Deno.test("bearerToken reads the token of a Bearer header in any letter case", () => {
  assert.equal(bearerToken("Bearer abc"), "abc");
  assert.equal(bearerToken("bearer abc"), "abc");
  assert.equal(bearerToken("  BEARER   abc  "), "abc");
  assert.equal(bearerToken(undefined), undefined);
  assert.equal(bearerToken(""), undefined);
  assert.equal(bearerToken("Bearer"), undefined);
  assert.equal(bearerToken("Bearer "), undefined);
  assert.equal(bearerToken("Basic abc"), undefined);
  assert.equal(bearerToken("abc"), undefined);
  assert.equal(bearerToken("Bearer a b"), undefined);
});

Deno.test("isAllowedKey is true for each configured key and false for anything else", () => {
  const keys = ["gw-alpha", "gw-beta-longer-key", "k3"];
  for (const key of keys) assert.equal(isAllowedKey(key, keys), true, key);
  for (
    const candidate of [
      "",
      "gw-alph",
      "gw-alpha-",
      "w-alpha",
      "xgw-alpha",
      "GW-ALPHA",
      "gw-beta",
      "k",
      "k33",
      " gw-alpha",
    ]
  ) {
    assert.equal(isAllowedKey(candidate, keys), false, JSON.stringify(candidate));
  }
  assert.equal(isAllowedKey("gw-alpha", []), false);
  assert.equal(isAllowedKey("", []), false);
});
