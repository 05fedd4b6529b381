/**
 * Observability as an operator sees it: `X-Request-Id` on every answer and in every log line of
 * its request, `LOG_FORMAT=json` lines with the fields log collectors index (and never a key,
 * base64 or, unless asked, a prompt), and `GET /metrics` scraped and parsed as Prometheus does.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  GATEWAY_KEY,
  headersOf,
  REQUEST_ID,
  startGateway,
  UPSTREAM_KEY,
} from "./_support/gateway.ts";
import { tinyPng } from "./_support/images.ts";

const GENERATIONS = "/v1/images/generations";

Deno.test("every answer carries X-Request-Id: a sane incoming one is kept, any other replaced", async () => {
  await using gw = await startGateway();
  const paths: [string, number][] = [
    ["/health", 200],
    ["/v1/models", 200],
    ["/v1/nope", 404],
    ["/i/AAAAAAAAAAAAAAAA.png", 404],
  ];
  const ids = new Set<string>();
  for (const [path, status] of paths) {
    const res = await gw.get(path);
    assert.equal(res.status, status, path);
    headersOf(res); // asserts a fresh UUID
    ids.add(res.headers.get("x-request-id")!);
    await res.body?.cancel();
  }
  assert.equal(ids.size, paths.length);
  const unauthorised = await gw.get("/v1/models", { key: null });
  assert.equal(unauthorised.status, 401);
  assert.match(unauthorised.headers.get("x-request-id") ?? "", REQUEST_ID);
  await unauthorised.body?.cancel();

  for (const kept of ["req-42", "7f3c9a2e.b1:trace/span=+x", "a".repeat(128)]) {
    const res = await gw.get("/health", { headers: { "x-request-id": kept } });
    assert.equal(res.headers.get("x-request-id"), kept);
    await res.body?.cancel();
  }
  for (const replaced of ["has space", "a".repeat(129), 'quote"d', "caf\u00e9"]) {
    const res = await gw.get("/health", { headers: { "x-request-id": replaced } });
    assert.match(res.headers.get("x-request-id") ?? "", REQUEST_ID, replaced);
    await res.body?.cancel();
  }
});

Deno.test("text logs prefix every line of a request with its id", async () => {
  await using gw = await startGateway({ formatLogs: true, env: { UPSTREAM_RETRIES: "0" } });
  gw.fake.failNext({ status: 200, body: { images: [{ url: "http://127.0.0.1:1/gone.png" }] } });
  const res = await gw.app.request(GENERATIONS, {
    method: "POST",
    headers: {
      authorization: `Bearer ${GATEWAY_KEY}`,
      "content-type": "application/json",
      "x-request-id": "trace-1",
    },
    body: JSON.stringify({ prompt: "a fox" }),
  });
  assert.equal(res.status, 200);
  await res.body?.cancel();
  assert.equal(gw.log.warnings.length, 1);
  assert.match(
    gw.log.warnings[0],
    /^\[trace-1\] image not stored, answering with the upstream link: /,
  );
  assert.match(gw.log.lines.at(-1)!, /^\[trace-1\] POST \/v1\/images\/generations 200 \d+ms$/);
});

Deno.test("LOG_FORMAT=json: one object per line with the request's fields, never a key or base64", async () => {
  await using gw = await startGateway({ formatLogs: true, env: { LOG_FORMAT: "json" } });
  const res = await gw.post(GENERATIONS, {
    prompt: "a secret fox",
    n: 2,
    response_format: "b64_json",
  });
  assert.equal(res.status, 200);
  const id = res.headers.get("x-request-id");
  await res.body?.cancel();
  const access = JSON.parse(gw.log.lines.at(-1)!);
  assert.match(access.time, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  assert.deepEqual({ ...access, time: "T", duration_ms: typeof access.duration_ms }, {
    time: "T",
    level: "info",
    request_id: id,
    method: "POST",
    path: GENERATIONS,
    status: 200,
    duration_ms: "number",
    model: "Kwai-Kolors/Kolors",
    images: 2,
    bytes_stored: 2 * tinyPng.length,
    upstream_status: 200,
  });
  const missing = await gw.get("/v1/nope");
  await missing.body?.cancel();
  const notFound = JSON.parse(gw.log.lines.at(-1)!);
  assert.equal(notFound.status, 404);
  assert.equal(notFound.model, undefined);
  const all = [...gw.log.lines, ...gw.log.warnings, ...gw.log.errors].join("\n");
  for (const secret of [GATEWAY_KEY, UPSTREAM_KEY, "a secret fox", "iVBORw0KGgo"]) {
    assert.ok(!all.includes(secret), `the log holds ${secret}`);
  }
  for (const line of gw.log.lines) JSON.parse(line);
});

Deno.test("LOG_PROMPTS=true adds the prompt to the access line", async () => {
  await using gw = await startGateway({
    formatLogs: true,
    env: { LOG_FORMAT: "json", LOG_PROMPTS: "true" },
  });
  const chat = await gw.post("/v1/chat/completions", {
    model: "Kwai-Kolors/Kolors",
    messages: [{ role: "user", content: "a red fox --ar 9:16" }],
  });
  await chat.body?.cancel();
  const access = JSON.parse(gw.log.lines.at(-1)!);
  assert.equal(access.path, "/v1/chat/completions");
  assert.equal(access.prompt, "a red fox");
  assert.equal(access.images, 1);
});

/** Prometheus's text format, parsed: `name{labels}` → value, comments checked for each name. */
function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const typed = new Set<string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const comment = /^# (HELP|TYPE) (\w+) (.+)$/.exec(line);
    if (comment) {
      if (comment[1] === "TYPE") {
        assert.match(comment[3], /^(counter|gauge|histogram)$/, line);
        typed.add(comment[2]);
      }
      continue;
    }
    const sample = /^(\w+)(\{[^}]*\})? (-?[\d.e+]+|NaN|\+Inf)$/.exec(line);
    assert.ok(sample, `not a sample: ${line}`);
    const family = sample[1].replace(/_(bucket|sum|count)$/, "");
    assert.ok(typed.has(sample[1]) || typed.has(family), `no TYPE for ${sample[1]}`);
    samples.set(`${sample[1]}${sample[2] ?? ""}`, Number(sample[3]));
  }
  return samples;
}

Deno.test("GET /metrics counts requests, upstream calls and errors, storage, the cache and the pool", async () => {
  await using gw = await startGateway({ env: { UPSTREAM_RETRIES: "0" } });
  const generated = await (await gw.post(GENERATIONS, { prompt: "a fox", n: 2 })).json();
  const link = new URL(generated.data[0].url).pathname;
  for (let i = 0; i < 2; i++) await (await gw.get(link, { key: null })).body?.cancel();
  await (await gw.get("/i/AAAAAAAAAAAAAAAA.png", { key: null })).body?.cancel();
  gw.fake.failNext({ status: 429, body: { message: "IPM limit reached." } });
  await (await gw.post(GENERATIONS, { prompt: "a fox" })).body?.cancel();

  const res = await gw.get("/metrics");
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const m = parseMetrics(await res.text());
  const expected: Record<string, number> = {
    'sfgw_http_requests_total{route="/v1/images/generations",method="POST",status="200"}': 1,
    'sfgw_http_requests_total{route="/v1/images/generations",method="POST",status="429"}': 1,
    'sfgw_http_requests_total{route="/i/:file",method="GET",status="200"}': 2,
    'sfgw_http_requests_total{route="/i/:file",method="GET",status="404"}': 1,
    'sfgw_http_request_duration_seconds_count{route="/i/:file"}': 3,
    'sfgw_upstream_calls_total{provider="siliconflow",status="200"}': 1,
    'sfgw_upstream_calls_total{provider="siliconflow",status="429"}': 1,
    'sfgw_upstream_errors_total{provider="siliconflow",kind="rate_limited"}': 1,
    sfgw_images_stored_total: 2,
    sfgw_bytes_stored_total: 2 * tinyPng.length,
    'sfgw_storage_duration_seconds_count{outcome="stored"}': 2,
    sfgw_image_cache_hits_total: 2,
    sfgw_image_cache_misses_total: 1,
    'sfgw_key_pool_keys{pool="siliconflow",state="healthy"}': 0,
    'sfgw_key_pool_keys{pool="siliconflow",state="resting"}': 1,
    'sfgw_key_pool_keys{pool="siliconflow",state="retired"}': 0,
    sfgw_generations_in_flight: 0,
  };
  for (const [sample, value] of Object.entries(expected)) {
    assert.equal(m.get(sample), value, sample);
  }
});

Deno.test("GET /metrics shows generations in flight while SiliconFlow works", async () => {
  await using gw = await startGateway({ fake: { delayMs: 300 } });
  const working = gw.post(GENERATIONS, { prompt: "a fox" });
  let during: number | undefined;
  for (let i = 0; i < 50 && !during; i++) {
    await new Promise((r) => setTimeout(r, 10));
    during = parseMetrics(await (await gw.get("/metrics")).text()).get(
      "sfgw_generations_in_flight",
    );
  }
  assert.equal(during, 1);
  await (await working).body?.cancel();
  const after = parseMetrics(await (await gw.get("/metrics")).text());
  assert.equal(after.get("sfgw_generations_in_flight"), 0);
});

Deno.test("GET /metrics needs METRICS_TOKEN or a gateway key; in pass-through mode only the token", async () => {
  const TOKEN = "metrics-token-0123456789";
  {
    await using gw = await startGateway({ env: { METRICS_TOKEN: TOKEN } });
    for (const key of [null, "wrong-token-0123456789"]) {
      const res = await gw.get("/metrics", { key });
      assert.equal(res.status, 401);
      assert.equal((await res.json()).error.code, "invalid_api_key");
    }
    for (const key of [TOKEN, GATEWAY_KEY]) {
      const res = await gw.get("/metrics", { key });
      assert.equal(res.status, 200, key);
      await res.body?.cancel();
    }
  }
  {
    await using gw = await startGateway({
      env: { SILICONFLOW_API_KEYS: undefined, GATEWAY_API_KEYS: undefined },
    });
    const off = await gw.get("/metrics", { key: "sk-anything-at-all-123" });
    assert.equal(off.status, 403);
    assert.deepEqual(await off.json(), {
      error: {
        message: "Metrics are off: in pass-through mode set METRICS_TOKEN to scrape /metrics",
        type: "permission_error",
        param: null,
        code: "metrics_disabled",
      },
    });
  }
  {
    await using gw = await startGateway({
      env: { SILICONFLOW_API_KEYS: undefined, GATEWAY_API_KEYS: undefined, METRICS_TOKEN: TOKEN },
    });
    assert.equal((await gw.get("/metrics", { key: "sk-a-siliconflow-key-1" })).status, 401);
    const res = await gw.get("/metrics", { key: TOKEN });
    assert.equal(res.status, 200);
    // No pool in pass-through mode: the gauge has no samples.
    assert.equal(
      [...parseMetrics(await res.text()).keys()].some((k) => k.includes("pool=")),
      false,
    );
  }
});

Deno.test("a streamed answer's access line is written when the stream ends, with what it made", async () => {
  await using gw = await startGateway({ formatLogs: true, env: { LOG_FORMAT: "json" } });
  const res = await gw.post(GENERATIONS, { prompt: "a fox", n: 2, stream: true });
  assert.equal(res.status, 200);
  // Nothing is logged until the stream has been read to its end.
  assert.equal(gw.log.lines.length, 0);
  await res.text();
  // Written once the stream's work is over too (bounded wait: a few microtasks after the end).
  for (let i = 0; i < 100 && gw.log.lines.length === 0; i++) {
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.equal(gw.log.lines.length, 1);
  const access = JSON.parse(gw.log.lines[0]);
  assert.equal(access.request_id, res.headers.get("x-request-id"));
  assert.equal(access.images, 2);
  assert.equal(access.bytes_stored, 2 * tinyPng.length);
  assert.equal(access.upstream_status, 200);
  const metrics = parseMetrics(await (await gw.get("/metrics")).text());
  assert.equal(
    metrics.get(
      'sfgw_http_requests_total{route="/v1/images/generations",method="POST",status="200"}',
    ),
    1,
  );
});

Deno.test("unknown methods share one metrics label", async () => {
  await using gw = await startGateway();
  for (const method of ["FOO1", "FOO2", "BAR3"]) {
    await (await gw.app.request("/x", { method })).body?.cancel();
  }
  const metrics = parseMetrics(await (await gw.get("/metrics")).text());
  assert.equal(
    metrics.get('sfgw_http_requests_total{route="unmatched",method="other",status="404"}'),
    3,
  );
  assert.equal([...metrics.keys()].some((k) => /FOO|BAR/.test(k)), false);
});
