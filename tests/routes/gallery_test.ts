/**
 * The gallery API: `GET /v1/images` lists the caller's own images newest first, in pages, and
 * `DELETE /v1/images/{id}` deletes one; owners are kept apart, and another owner's image is a 404
 * that reveals nothing.
 *
 * @module
 */
import assert from "node:assert/strict";
import { GATEWAY_KEY, startGateway, type TestGateway } from "../_support/gateway.ts";

const OTHER_KEY = "gw-other-key-9876543210";
const GALLERY = "/v1/images";

async function make(gw: TestGateway, prompt: string, key = GATEWAY_KEY, body = {}) {
  const res = await gw.post("/v1/images/generations", { prompt, ...body }, { key });
  assert.equal(res.status, 200);
  return (await res.json()).data.map((d: { url: string }) => d.url) as string[];
}

const idOf = (url: string) => /\/i\/([\w-]{16})\.\w+$/.exec(url)![1];

Deno.test("GET /v1/images lists the caller's own images, newest first, with prompt, model and size", async () => {
  await using gw = await startGateway({ env: { GATEWAY_API_KEYS: `${GATEWAY_KEY},${OTHER_KEY}` } });
  const before = Math.floor(Date.now() / 1000);
  const [fox] = await make(gw, "a red fox");
  await new Promise((r) => setTimeout(r, 5));
  const [owl] = await make(gw, "an owl", GATEWAY_KEY, {
    model: "Qwen/Qwen-Image",
    size: "1664x928",
  });
  await make(gw, "somebody else's cat", OTHER_KEY);

  const res = await gw.get(GALLERY);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("cache-control"), "no-store");
  const body = await res.json();
  for (const item of body.data) {
    assert.ok(item.created >= before && item.created <= Date.now() / 1000 + 1);
    item.created = "T";
  }
  assert.deepEqual(body, {
    object: "list",
    data: [
      {
        id: idOf(owl),
        object: "image",
        url: owl,
        prompt: "an owl",
        model: "Qwen/Qwen-Image",
        size: "1664x928",
        created: "T",
      },
      {
        id: idOf(fox),
        object: "image",
        url: fox,
        prompt: "a red fox",
        model: "Kwai-Kolors/Kolors",
        size: "1024x1024",
        created: "T",
      },
    ],
    first_id: idOf(owl),
    last_id: idOf(fox),
    has_more: false,
  });
  const theirs = await (await gw.get(GALLERY, { key: OTHER_KEY })).json();
  assert.deepEqual(theirs.data.map((d: { prompt: string }) => d.prompt), ["somebody else's cat"]);
});

Deno.test("GET /v1/images pages with limit and after, and refuses a bad limit", async () => {
  await using gw = await startGateway();
  const urls: string[] = [];
  for (let i = 0; i < 5; i++) {
    urls.unshift(...(await make(gw, `image ${i}`)));
    await new Promise((r) => setTimeout(r, 2));
  }
  const seen: string[] = [];
  let after: string | undefined;
  for (let page = 0; page < 10; page++) {
    const body = await (await gw.get(`${GALLERY}?limit=2${after ? `&after=${after}` : ""}`)).json();
    seen.push(...body.data.map((d: { url: string }) => d.url));
    assert.equal(body.has_more, seen.length < 5, `page ${page}`);
    if (!body.has_more) break;
    after = body.last_id;
  }
  assert.deepEqual(seen, urls);
  // A cursor that is no image of the caller's (deleted, or another's) is refused, never restarted
  // from the newest, which would show a page twice.
  const deletedId = idOf(urls[1]);
  const gone = await gw.app.request(`${GALLERY}/${deletedId}`, {
    method: "DELETE",
    headers: { authorization: `Bearer ${GATEWAY_KEY}` },
  });
  assert.equal(gone.status, 200);
  for (const cursor of [deletedId, "AAAAAAAAAAAAAAAA"]) {
    const res = await gw.get(`${GALLERY}?limit=2&after=${cursor}`);
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), {
      error: {
        message: "after must be the id of one of your images; to start again, leave it out",
        type: "invalid_request_error",
        param: "after",
        code: "invalid_cursor",
      },
    });
  }
  for (const bad of ["0", "101", "two", "0x10", "1e1", " 5"]) {
    const res = await gw.get(`${GALLERY}?limit=${bad}`);
    assert.equal(res.status, 400, bad);
    const error = (await res.json()).error;
    assert.equal(error.param, "limit");
    assert.equal(error.code, "invalid_value");
  }
});

Deno.test("DELETE /v1/images/{id} deletes the caller's own image; another's answers 404 and stays", async () => {
  await using gw = await startGateway({ env: { GATEWAY_API_KEYS: `${GATEWAY_KEY},${OTHER_KEY}` } });
  const [mine] = await make(gw, "mine");
  const [theirs] = await make(gw, "theirs", OTHER_KEY);
  const path = (url: string) => new URL(url).pathname;

  const refused = await gw.app.request(`${GALLERY}/${idOf(theirs)}`, {
    method: "DELETE",
    headers: { authorization: `Bearer ${GATEWAY_KEY}` },
  });
  assert.equal(refused.status, 404);
  const missing = await gw.app.request(`${GALLERY}/AAAAAAAAAAAAAAAA`, {
    method: "DELETE",
    headers: { authorization: `Bearer ${GATEWAY_KEY}` },
  });
  // The same answer for someone else's image as for one that never existed.
  const [a, b] = [(await refused.json()).error, (await missing.json()).error];
  assert.deepEqual({ ...a, message: "" }, { ...b, message: "" });
  assert.deepEqual({ ...a, message: "" }, {
    message: "",
    type: "invalid_request_error",
    param: "id",
    code: "image_not_found",
  });
  assert.equal((await gw.get(path(theirs), { key: null })).status, 200);

  const deleted = await gw.app.request(`${GALLERY}/${idOf(mine)}`, {
    method: "DELETE",
    headers: { authorization: `Bearer ${GATEWAY_KEY}` },
  });
  assert.equal(deleted.status, 200);
  assert.deepEqual(await deleted.json(), {
    id: idOf(mine),
    object: "image.deleted",
    deleted: true,
  });
  const gone = await gw.get(path(mine), { key: null });
  assert.equal(gone.status, 404);
  await gone.body?.cancel();
  assert.deepEqual((await (await gw.get(GALLERY)).json()).data, []);
  // Its KV records are all gone: metadata, chunks, the gallery's index entry.
  const left = await Array.fromAsync(gw.kv.list({ prefix: [] }));
  assert.ok(left.every((e) => !e.key.includes(idOf(mine))), JSON.stringify(left.map((e) => e.key)));
});

Deno.test("pass-through mode keeps owners apart by their bearer tokens", async () => {
  await using gw = await startGateway({
    env: { SILICONFLOW_API_KEYS: undefined, GATEWAY_API_KEYS: undefined },
    fake: { keys: ["sk-user-a-0001", "sk-user-b-0002"] },
  });
  await make(gw, "a's picture", "sk-user-a-0001");
  await make(gw, "b's picture", "sk-user-b-0002");
  for (
    const [key, prompt] of [["sk-user-a-0001", "a's picture"], ["sk-user-b-0002", "b's picture"]]
  ) {
    const body = await (await gw.get(GALLERY, { key })).json();
    assert.deepEqual(body.data.map((d: { prompt: string }) => d.prompt), [prompt]);
  }
});
