/**
 * `GET /v1/models`, `GET /v1/models/{id}` (ids contain a slash) and `GET /models`: SiliconFlow's
 * image models in OpenAI's shape, cached, or a fixed list from `MODELS`/`MODELS_JSON`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createGateway } from "../../lib/app.ts";
import { loadConfig } from "../../lib/config/config.ts";
import { ModelList } from "../../lib/upstream/model_list.ts";
import { SiliconFlowClient, SiliconFlowError } from "../../lib/upstream/siliconflow.ts";
import { FakeSiliconFlow, MODELS } from "../_support/fake_siliconflow.ts";
import {
  API_HEADERS,
  assertOpenAIError,
  GATEWAY_KEY,
  headersOf,
  startGateway,
  UPSTREAM_KEY,
} from "../_support/gateway.ts";

/** For tests of what a failure becomes: the failure is not retried away. */
const NO_RETRIES = { UPSTREAM_RETRIES: "0" };

/** SiliconFlow's listing puts 0 in `created`; the gateway shows 2024-01-01 instead. */
const FALLBACK_CREATED = 1_704_067_200;

const PASS_THROUGH = {
  env: { SILICONFLOW_API_KEYS: undefined, GATEWAY_API_KEYS: undefined },
  fake: { keys: ["sk-user-own", "sk-user-two"] },
};

function model(id: string, owned_by = "siliconflow") {
  return { id, object: "model", created: FALLBACK_CREATED, owned_by };
}

/** Text-to-image models first, then the image-to-image ones not already listed. */
const DEFAULT_IDS = [
  "Kwai-Kolors/Kolors",
  "Qwen/Qwen-Image",
  "Qwen/Qwen-Image-Edit",
  "Qwen/Qwen-Image-Edit-2509",
];
const DEFAULT_LIST = { object: "list", data: DEFAULT_IDS.map((id) => model(id)) };

function modelCalls(fake: FakeSiliconFlow) {
  return fake.calls.filter((c) => c.path === "/v1/models");
}

Deno.test("GET /v1/models lists the union of SiliconFlow's text-to-image and image-to-image models", async () => {
  // The fixture the expectation is built from: Kolors is in both lists and must appear once.
  assert.deepEqual(
    [...new Set([...MODELS["text-to-image"], ...MODELS["image-to-image"]])],
    DEFAULT_IDS,
  );
  await using gw = await startGateway();
  const res = await gw.get("/v1/models");
  assert.equal(res.status, 200);
  assert.deepEqual(headersOf(res), API_HEADERS);
  assert.deepEqual(await res.json(), DEFAULT_LIST);
  assert.deepEqual(modelCalls(gw.fake).map((c) => c.key), [UPSTREAM_KEY, UPSTREAM_KEY]);
});

Deno.test("GET /v1/models asks SiliconFlow once per sub_type: text-to-image and image-to-image", async () => {
  await using fake = new FakeSiliconFlow();
  const kv = await Deno.openKv(":memory:");
  try {
    const requested: { url: string; authorization: string | null }[] = [];
    const recordingFetch: typeof fetch = (input, init) => {
      requested.push({
        url: String(input),
        authorization: new Headers(init?.headers).get("authorization"),
      });
      return fetch(input, init);
    };
    const config = loadConfig({
      SILICONFLOW_BASE_URL: fake.baseUrl,
      SILICONFLOW_API_KEYS: UPSTREAM_KEY,
      GATEWAY_API_KEYS: GATEWAY_KEY,
      KV_PATH: ":memory:",
    });
    const { app } = createGateway({
      config,
      kv,
      fetch: recordingFetch,
      logger: { info() {}, warn() {}, error() {} },
    });
    const res = await app.request("/v1/models", {
      headers: { authorization: `Bearer ${GATEWAY_KEY}` },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), DEFAULT_LIST);
    assert.deepEqual(
      requested.sort((a, b) => a.url.localeCompare(b.url)),
      [
        {
          url: `${fake.baseUrl}/models?sub_type=image-to-image`,
          authorization: `Bearer ${UPSTREAM_KEY}`,
        },
        {
          url: `${fake.baseUrl}/models?sub_type=text-to-image`,
          authorization: `Bearer ${UPSTREAM_KEY}`,
        },
      ],
    );
  } finally {
    kv.close();
  }
});

Deno.test("GET /v1/models answers a second request from its cache without calling SiliconFlow", async () => {
  await using gw = await startGateway();
  const first = await gw.get("/v1/models");
  assert.equal(first.status, 200);
  assert.deepEqual(await first.json(), DEFAULT_LIST);
  assert.equal(modelCalls(gw.fake).length, 2);

  const second = await gw.get("/v1/models");
  assert.equal(second.status, 200);
  assert.deepEqual(headersOf(second), API_HEADERS);
  assert.deepEqual(await second.json(), DEFAULT_LIST);
  const one = await gw.get("/v1/models/Qwen/Qwen-Image");
  assert.equal(one.status, 200);
  assert.deepEqual(await one.json(), model("Qwen/Qwen-Image"));
  assert.equal(modelCalls(gw.fake).length, 2);
});

Deno.test("MODELS replaces SiliconFlow's list and no upstream call is made", async () => {
  await using gw = await startGateway({
    env: { MODELS: "Kwai-Kolors/Kolors, black-forest-labs/FLUX.1-dev" },
  });
  const res = await gw.get("/v1/models");
  assert.equal(res.status, 200);
  assert.deepEqual(headersOf(res), API_HEADERS);
  assert.deepEqual(await res.json(), {
    object: "list",
    data: [model("Kwai-Kolors/Kolors"), model("black-forest-labs/FLUX.1-dev")],
  });
  const one = await gw.get("/v1/models/black-forest-labs/FLUX.1-dev");
  assert.equal(one.status, 200);
  assert.deepEqual(await one.json(), model("black-forest-labs/FLUX.1-dev"));
  const listed = await gw.get("/v1/models/Qwen/Qwen-Image");
  await assertOpenAIError(listed, 404, { code: "model_not_found", param: "model" });
  assert.deepEqual(gw.fake.calls, []);
});

Deno.test("MODELS_JSON replaces SiliconFlow's list, keeping owned_by where given", async () => {
  await using gw = await startGateway({
    env: {
      MODELS_JSON: JSON.stringify([
        "Kwai-Kolors/Kolors",
        { id: "Qwen/Qwen-Image", owned_by: "Qwen" },
        { model: "Qwen/Qwen-Image-Edit" },
      ]),
    },
  });
  const res = await gw.get("/v1/models");
  assert.equal(res.status, 200);
  assert.deepEqual(headersOf(res), API_HEADERS);
  assert.deepEqual(await res.json(), {
    object: "list",
    data: [
      model("Kwai-Kolors/Kolors"),
      model("Qwen/Qwen-Image", "Qwen"),
      model("Qwen/Qwen-Image-Edit"),
    ],
  });
  assert.deepEqual(gw.fake.calls, []);
});

Deno.test("GET /v1/models/{id} answers the one model whose id contains a slash, plain or percent-encoded as the openai SDK sends it", async () => {
  await using gw = await startGateway();
  for (const path of ["/v1/models/Kwai-Kolors/Kolors", "/v1/models/Kwai-Kolors%2FKolors"]) {
    const res = await gw.get(path);
    assert.equal(res.status, 200);
    assert.deepEqual(headersOf(res), API_HEADERS);
    assert.deepEqual(await res.json(), model("Kwai-Kolors/Kolors"));
  }
});

Deno.test("GET /v1/models/{id} answers 404 model_not_found for an unknown id", async () => {
  await using gw = await startGateway();
  const res = await gw.get("/v1/models/no-such/model");
  assert.equal(res.status, 404);
  assert.deepEqual(headersOf(res), API_HEADERS);
  assert.deepEqual(await res.json(), {
    error: {
      message: 'The model "no-such/model" does not exist',
      type: "invalid_request_error",
      param: "model",
      code: "model_not_found",
    },
  });
});

Deno.test("GET /v1/models in pass-through mode lists with the client's own key", async () => {
  await using gw = await startGateway(PASS_THROUGH);
  const res = await gw.get("/v1/models", { key: "sk-user-own" });
  assert.equal(res.status, 200);
  assert.deepEqual(headersOf(res), API_HEADERS);
  assert.deepEqual(await res.json(), DEFAULT_LIST);
  assert.deepEqual(modelCalls(gw.fake).map((c) => c.key), ["sk-user-own", "sk-user-own"]);
});

Deno.test("GET /v1/models in pass-through mode caches per client key, never across keys", async () => {
  await using gw = await startGateway(PASS_THROUGH);
  const own = await gw.get("/v1/models", { key: "sk-user-own" });
  assert.equal(own.status, 200);
  await own.body?.cancel();

  // A key SiliconFlow rejects must not be served the list another client's key fetched.
  const rejected = await gw.get("/v1/models", { key: "sk-user-rejected" });
  await assertOpenAIError(rejected, 401, { code: "invalid_api_key", param: null });

  const two = await gw.get("/v1/models", { key: "sk-user-two" });
  assert.equal(two.status, 200);
  assert.deepEqual(await two.json(), DEFAULT_LIST);

  const ownAgain = await gw.get("/v1/models", { key: "sk-user-own" });
  assert.equal(ownAgain.status, 200);
  assert.deepEqual(await ownAgain.json(), DEFAULT_LIST);

  assert.deepEqual(modelCalls(gw.fake).map((c) => c.key), [
    "sk-user-own",
    "sk-user-own",
    "sk-user-rejected",
    "sk-user-rejected",
    "sk-user-two",
    "sk-user-two",
  ]);
});

Deno.test("GET /models (without /v1) answers the same list and model objects", async () => {
  await using gw = await startGateway();
  const list = await gw.get("/models");
  assert.equal(list.status, 200);
  assert.deepEqual(headersOf(list), API_HEADERS);
  assert.deepEqual(await list.json(), DEFAULT_LIST);

  const one = await gw.get("/models/Kwai-Kolors/Kolors");
  assert.equal(one.status, 200);
  assert.deepEqual(headersOf(one), API_HEADERS);
  assert.deepEqual(await one.json(), model("Kwai-Kolors/Kolors"));

  const unknown = await gw.get("/models/no-such/model");
  await assertOpenAIError(unknown, 404, { code: "model_not_found", param: "model" });
});

Deno.test("GET /models (without /v1) needs a key in pool mode too", async () => {
  await using gw = await startGateway();
  const res = await gw.get("/models", { key: null });
  assert.equal(res.status, 401);
  assert.deepEqual(headersOf(res), {
    ...API_HEADERS,
    "www-authenticate": 'Bearer realm="sf-image-gateway"',
  });
  assert.deepEqual(await res.json(), {
    error: {
      message: "Missing API key: send the gateway key as 'Authorization: Bearer <key>'",
      type: "invalid_request_error",
      param: null,
      code: "invalid_api_key",
    },
  });
  assert.deepEqual(gw.fake.calls, []);
});

Deno.test("GET /v1/models answers 503 when SiliconFlow is overloaded and nothing is cached", async () => {
  await using gw = await startGateway({ env: NO_RETRIES });
  gw.fake.failNext({
    status: 503,
    body: { code: 50505, message: "Model service overloaded. Please try again later." },
  });
  const res = await gw.get("/v1/models");
  assert.equal(res.status, 503);
  assert.deepEqual(headersOf(res), { ...API_HEADERS, "retry-after": "5" });
  assert.deepEqual(await res.json(), {
    error: {
      message: "SiliconFlow is overloaded; try again later. SiliconFlow said: Model service " +
        "overloaded. Please try again later. (code 50505)",
      type: "upstream_error",
      param: null,
      code: "siliconflow_50505",
    },
  });

  // A failed listing is not cached: the next request asks again and succeeds.
  const retry = await gw.get("/v1/models");
  assert.equal(retry.status, 200);
  assert.deepEqual(await retry.json(), DEFAULT_LIST);
  assert.equal(modelCalls(gw.fake).length, 4);
});

/** A ModelList on the fake with a clock the test moves, and a runner using the pool key. */
function clockedModelList(fake: FakeSiliconFlow) {
  const clock = { now: 1_000_000 };
  const list = new ModelList({
    fixed: undefined,
    siliconflow: new SiliconFlowClient({ baseUrl: fake.baseUrl, timeoutMs: 5000 }),
    now: () => clock.now,
  });
  return { list, clock };
}

const withKey = <T>(_model: string, call: (key: string) => Promise<T>) => call(UPSTREAM_KEY);

Deno.test("ModelList asks SiliconFlow again once its 10-minute cache has aged", async () => {
  await using fake = new FakeSiliconFlow();
  const { list, clock } = clockedModelList(fake);

  assert.deepEqual(await list.list(withKey, [UPSTREAM_KEY]), DEFAULT_LIST.data);
  clock.now += 10 * 60_000 - 1;
  assert.deepEqual(await list.list(withKey, [UPSTREAM_KEY]), DEFAULT_LIST.data);
  assert.equal(modelCalls(fake).length, 2);
  clock.now += 1;
  assert.deepEqual(await list.list(withKey, [UPSTREAM_KEY]), DEFAULT_LIST.data);
  assert.equal(modelCalls(fake).length, 4);
});

Deno.test("ModelList serves its stale list when SiliconFlow fails after the cache has aged", async () => {
  await using fake = new FakeSiliconFlow();
  const { list, clock } = clockedModelList(fake);

  assert.deepEqual(await list.list(withKey, [UPSTREAM_KEY]), DEFAULT_LIST.data);
  clock.now += 60 * 60_000;
  fake.failNext({ status: 503, body: { code: 50505, message: "overloaded" } }, { times: 2 });
  assert.deepEqual(await list.list(withKey, [UPSTREAM_KEY]), DEFAULT_LIST.data);
  assert.equal(modelCalls(fake).length, 4);

  // Another key has nothing cached, so its failure is thrown.
  fake.failNext({ status: 503, body: { code: 50505, message: "overloaded" } }, { times: 2 });
  await assert.rejects(
    () => list.list(withKey, ["another-secret"]),
    (err) => err instanceof SiliconFlowError && err.status === 503 && err.code === 50505,
  );
});

Deno.test("ModelList keeps SiliconFlow's created and owned_by when they are given", async () => {
  const upstream: typeof fetch = (input) => {
    const subType = new URL(String(input)).searchParams.get("sub_type");
    const data = subType === "text-to-image"
      ? [{ id: "a/one", object: "model", created: 1_720_000_000, owned_by: "a-lab" }]
      : [
        { id: "a/one", object: "model", created: 1, owned_by: "other" },
        { id: "b/two", object: "model", created: 0, owned_by: "" },
      ];
    return Promise.resolve(Response.json({ object: "list", data }));
  };
  const list = new ModelList({
    fixed: undefined,
    siliconflow: new SiliconFlowClient({
      baseUrl: "https://sf.invalid/v1",
      fetch: upstream,
      timeoutMs: 5000,
    }),
  });
  const withKey = <T>(_model: string, call: (key: string) => Promise<T>) => call("k");
  assert.deepEqual(await list.list(withKey, ["k"]), [
    { id: "a/one", object: "model", created: 1_720_000_000, owned_by: "a-lab" },
    { id: "b/two", object: "model", created: FALLBACK_CREATED, owned_by: "siliconflow" },
  ]);
});

Deno.test("GET /v1/models?include=capabilities adds each model's sizes, input images, steps and guidance for the playground", async () => {
  await using gw = await startGateway({ env: { MODEL_ALIASES: "dall-e-3=Qwen/Qwen-Image" } });
  const res = await gw.get("/v1/models?include=capabilities");
  assert.equal(res.status, 200);
  const { data } = await res.json();
  const byId = Object.fromEntries(
    data.map((m: { id: string; capabilities: unknown }) => [m.id, m]),
  );
  assert.deepEqual(byId["Kwai-Kolors/Kolors"], {
    ...model("Kwai-Kolors/Kolors"),
    capabilities: {
      kind: "text-to-image",
      sizes: ["1024x1024", "960x1280", "768x1024", "720x1440", "720x1280"],
      input_images: { min: 0, max: 1 },
      negative_prompt: true,
      seed: true,
      steps: { min: 1, max: 100, default: 20 },
      guidance: { param: "guidance_scale", min: 0, max: 20, default: 7.5 },
    },
  });
  assert.deepEqual(byId["Qwen/Qwen-Image-Edit-2509"].capabilities, {
    kind: "image-to-image",
    sizes: [],
    input_images: { min: 1, max: 3 },
    negative_prompt: true,
    seed: true,
    steps: { min: 1, max: 100, default: 20 },
    guidance: null,
  });
  // An alias is described as the model it stands for.
  assert.equal(byId["dall-e-3"].capabilities.guidance.param, "cfg");
  // Without the query, OpenAI's shape exactly.
  assert.deepEqual(Object.keys((await (await gw.get("/v1/models")).json()).data[0]).sort(), [
    "created",
    "id",
    "object",
    "owned_by",
  ]);
});
