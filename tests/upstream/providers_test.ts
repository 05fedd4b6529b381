/**
 * Several providers (`PROVIDERS_JSON`): routing by declared model with each provider's own keys,
 * an OpenAI-compatible provider for generations (JSON) and edits (multipart), every image stored
 * behind a durable link, `/v1/models` listing them all, errors named after their provider, and the
 * checks that stop a start.
 *
 * @module
 */
import assert from "node:assert/strict";
import { FakeSiliconFlow } from "../_support/fake_siliconflow.ts";
import {
  assertOpenAIError,
  bytesOf,
  configProblems,
  GATEWAY_KEY,
  linkPath,
  startGateway,
} from "../_support/gateway.ts";
import { base64Of, tinyJpeg, tinyPng } from "../_support/images.ts";

/** A fake OpenAI-compatible Images API: answers `data[].b64_json`, records what it was sent. */
function fakeOpenAI(key: string) {
  const requests: {
    path: string;
    auth: string | null;
    json?: unknown;
    form?: Record<string, string[]>;
  }[] = [];
  let status = 200;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    const auth = req.headers.get("authorization");
    if (path.endsWith("/images/edits")) {
      const form = await req.formData();
      const fields: Record<string, string[]> = {};
      for (const [name, value] of form) {
        (fields[name] ??= []).push(
          typeof value === "string" ? value : `file:${value.size}:${value.type}`,
        );
      }
      requests.push({ path, auth, form: fields });
    } else requests.push({ path, auth, json: await req.json() });
    if (auth !== `Bearer ${key}`) {
      return Response.json({
        error: { message: "Incorrect API key provided", type: "invalid_request_error" },
      }, { status: 401 });
    }
    if (status !== 200) return Response.json({ error: { message: "boom" } }, { status });
    return Response.json({ created: 1, data: [{ b64_json: base64Of(tinyJpeg) }] });
  });
  return {
    baseUrl: `http://127.0.0.1:${server.addr.port}/v1`,
    requests,
    fail(next: number) {
      status = next;
    },
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

Deno.test("a model a provider declares goes to that provider with its own key; others stay on SiliconFlow", async () => {
  await using other = new FakeSiliconFlow({ keys: ["sk-other-provider-0001"] });
  const providers = [{
    name: "sf2",
    kind: "siliconflow",
    base_url: other.baseUrl,
    keys: ["sk-other-provider-0001"],
    models: ["Qwen/Qwen-Image"],
  }];
  await using gw = await startGateway({ env: { PROVIDERS_JSON: JSON.stringify(providers) } });
  for (const model of ["Qwen/Qwen-Image", "Kwai-Kolors/Kolors"]) {
    const res = await gw.post("/v1/images/generations", { model, prompt: "x" });
    assert.equal(res.status, 200, model);
    assert.equal(res.headers.get("x-image-storage"), "kv");
    const served = await gw.get(linkPath((await res.json()).data[0].url), { key: null });
    assert.equal(served.status, 200);
    await served.body?.cancel();
  }
  assert.deepEqual(other.generationCalls.map((c) => [c.key, c.body.model]), [[
    "sk-other-provider-0001",
    "Qwen/Qwen-Image",
  ]]);
  assert.deepEqual(gw.fake.generationCalls.map((c) => c.body.model), ["Kwai-Kolors/Kolors"]);
});

Deno.test("an OpenAI-compatible provider: JSON generations, multipart edits, base64 answers stored", async () => {
  await using openai = fakeOpenAI("sk-openai-provider-01");
  const providers = [{
    name: "openai",
    kind: "openai",
    base_url: openai.baseUrl,
    keys: "sk-openai-provider-01",
    models: ["gpt-image-1", "gpt-image-1-edit"],
  }];
  await using gw = await startGateway({ env: { PROVIDERS_JSON: JSON.stringify(providers) } });
  // Declared, gpt-image-1 is used as it is, not replaced by DEFAULT_IMAGE_MODEL.
  const res = await gw.post("/v1/images/generations", {
    model: "gpt-image-1",
    prompt: "a fox",
    size: "1024x1536",
    response_format: "url",
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-model-substituted"), null);
  const body = await res.json();
  assert.equal(body.model, "gpt-image-1");
  const image = await gw.get(linkPath(body.data[0].url), { key: null });
  assert.equal(image.headers.get("content-type"), "image/jpeg");
  assert.deepEqual(await bytesOf(image), tinyJpeg);
  assert.deepEqual(openai.requests[0], {
    path: "/v1/images/generations",
    auth: "Bearer sk-openai-provider-01",
    json: { model: "gpt-image-1", prompt: "a fox", n: 1, size: "1024x1536" },
  });

  const form = new FormData();
  form.set("model", "gpt-image-1-edit");
  form.set("prompt", "make it night");
  form.set("response_format", "url");
  form.append("image[]", new File([tinyPng], "a.png", { type: "image/png" }));
  const edited = await gw.app.request("/v1/images/edits", {
    method: "POST",
    headers: { authorization: `Bearer ${GATEWAY_KEY}` },
    body: form,
  });
  assert.equal(edited.status, 200);
  linkPath((await edited.json()).data[0].url);
  assert.deepEqual(openai.requests[1], {
    path: "/v1/images/edits",
    auth: "Bearer sk-openai-provider-01",
    form: {
      model: ["gpt-image-1-edit"],
      prompt: ["make it night"],
      n: ["1"],
      "image[]": [`file:${tinyPng.length}:image/png`],
    },
  });

  const models = await (await gw.get("/v1/models")).json();
  const owners = Object.fromEntries(
    models.data.map((m: { id: string; owned_by: string }) => [m.id, m.owned_by]),
  );
  assert.equal(owners["gpt-image-1"], "openai");
  assert.equal(owners["gpt-image-1-edit"], "openai");
  assert.equal(owners["Kwai-Kolors/Kolors"], "siliconflow");
});

Deno.test("a provider's failure is named after it, never SiliconFlow, and carries no key", async () => {
  await using openai = fakeOpenAI("sk-openai-provider-01");
  const providers = [{
    name: "acme",
    kind: "openai",
    base_url: openai.baseUrl,
    keys: "sk-wrong-key-0000000001",
    models: ["Acme-1"],
  }];
  await using gw = await startGateway({ env: { PROVIDERS_JSON: JSON.stringify(providers) } });
  const error = await assertOpenAIError(
    await gw.post("/v1/images/generations", { model: "acme-1", prompt: "x" }),
    502,
    {
      code: "upstream_auth_failed",
    },
  );
  assert.equal(
    error.message,
    'provider "acme" rejected the gateway\'s API keys: Incorrect API key provided. The gateway owner must fix its PROVIDERS_JSON keys',
  );
  assert.doesNotMatch(JSON.stringify(gw.log), /sk-wrong-key/);
  assert.deepEqual((await (await gw.get("/v1/status")).json()).providers, {
    acme: { keys: 1, healthy: 0, resting: 0, retired: 1 },
  });
  // Asked as "acme-1", sent as the provider declared it.
  assert.deepEqual(openai.requests.map((r) => (r.json as { model: string }).model), ["Acme-1"]);
});

Deno.test("PROVIDERS_JSON that clashes, is malformed, or would be an open relay stops the start", () => {
  const problems = configProblems;
  const pool = { SILICONFLOW_API_KEYS: "sk-pool-0000000000001", GATEWAY_API_KEYS: GATEWAY_KEY };
  const p = (name: string, models: string[], kind = "openai") => ({
    name,
    kind,
    base_url: "https://api.example.com/v1",
    keys: [`sk-${name}-000000000001`],
    models,
  });
  assert.deepEqual(
    problems({
      ...pool,
      PROVIDERS_JSON: JSON.stringify([p("a", ["m1", "Shared"]), p("b", ["shared"])]),
    }),
    [
      'PROVIDERS_JSON declares the model "shared" for both "a" and "b"; each model has one provider',
    ],
  );
  assert.deepEqual(
    problems({ ...pool, PROVIDERS_JSON: JSON.stringify([p("siliconflow", ["m"])]) }),
    [
      'PROVIDERS_JSON names the provider "siliconflow" twice ("siliconflow" is the default\'s name)',
    ],
  );
  assert.deepEqual(problems({ PROVIDERS_JSON: JSON.stringify([p("a", ["m"])]) }), [
    "PROVIDERS_JSON needs pool mode: set GATEWAY_API_KEYS (and SILICONFLOW_API_KEYS), or every caller could spend the providers' keys",
  ]);
  assert.deepEqual(problems({ ...pool, PROVIDERS_JSON: '[{"name": "a", "kind": "midjourney"}]' }), [
    'PROVIDERS_JSON entry 0.kind: kind must be "siliconflow" or "openai"',
  ]);
  assert.deepEqual(problems({ ...pool, PROVIDERS_JSON: '[{"keys": [sk-live-SECRET]}]' }), [
    "PROVIDERS_JSON is not valid JSON",
  ]);
});

Deno.test("an OpenAI-compatible provider is never made to fetch a link a client sent", async () => {
  await using openai = fakeOpenAI("sk-openai-provider-01");
  const providers = [{
    name: "openai",
    kind: "openai",
    base_url: openai.baseUrl,
    keys: "sk-openai-provider-01",
    models: ["gpt-image-1"],
  }];
  await using gw = await startGateway({ env: { PROVIDERS_JSON: JSON.stringify(providers) } });
  const res = await gw.post("/v1/images/generations", {
    model: "gpt-image-1",
    prompt: "x",
    image: "http://127.0.0.1:1/internal-only.png",
  });
  await assertOpenAIError(res, 400, {
    message:
      /this provider takes input images as uploads: send the file \(or a data: URI\), not a link/,
  });
  assert.equal(openai.requests.length, 0);
});
