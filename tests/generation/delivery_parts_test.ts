/**
 * The parts of delivery, with plain values and a fresh KV: what makes two requests the same, the
 * send gate, this instance's running jobs, and the KV records of kept answers and idempotency keys.
 *
 * @module
 */
import assert from "node:assert/strict";
import { LocalJobs } from "../../lib/generation/local_jobs.ts";
import { fingerprint, idempotencyKeyOf } from "../../lib/generation/request_identity.ts";
import { SendGate } from "../../lib/generation/send_gate.ts";
import { ClientClosedError, InvalidRequestError } from "../../lib/errors.ts";
import { type AnswerRecord, UndeliveredAnswers } from "../../lib/storage/answer_records.ts";
import { KeyedAnswers } from "../../lib/storage/keyed_answers.ts";

const RECORD: AnswerRecord = {
  images: [{ id: "AAAAAAAAAAAAAAAA", ext: "png", seed: 1 }],
  model: "Kwai-Kolors/Kolors",
  calls: 1,
  failedCalls: 0,
};

Deno.test("fingerprint() is the same for the same parameters in any key order, and differs otherwise", () => {
  const a = fingerprint("image_generation", { req: { prompt: "x", n: 2, size: "1024x1024" } });
  const b = fingerprint("image_generation", { req: { size: "1024x1024", n: 2, prompt: "x" } });
  assert.equal(a, b);
  assert.match(a, /^[0-9a-f]{32}$/);
  assert.notEqual(a, fingerprint("image_edit", { req: { prompt: "x", n: 2, size: "1024x1024" } }));
  assert.notEqual(a, fingerprint("image_generation", { req: { prompt: "x", n: 1 } }));
  // Long strings (input images) count by their content.
  const image = `data:image/png;base64,${"A".repeat(100_000)}`;
  assert.equal(
    fingerprint("chat", { image }),
    fingerprint("chat", { image: `data:image/png;base64,${"A".repeat(100_000)}` }),
  );
  assert.notEqual(
    fingerprint("chat", { image }),
    fingerprint("chat", { image: `${image.slice(0, -1)}B` }),
  );
});

Deno.test("idempotencyKeyOf() takes 1–255 printable ASCII characters and refuses the rest", () => {
  assert.equal(idempotencyKeyOf(null), undefined);
  assert.equal(idempotencyKeyOf("order-42 / retry"), "order-42 / retry");
  assert.equal(idempotencyKeyOf("k".repeat(255)), "k".repeat(255));
  for (const bad of ["", "   ", "k".repeat(256), "a\tb", "ключ"]) {
    assert.throws(
      () => idempotencyKeyOf(bad),
      (err) => err instanceof InvalidRequestError && err.code === "invalid_idempotency_key",
    );
  }
});

Deno.test("SendGate refuses a call once the client has left, and reports a leaving after a call once", () => {
  const client = new AbortController();
  const gate = new SendGate(client.signal);
  let left = 0;
  gate.whenLeftAfterSend(() => left++);
  gate.beforeSend();
  assert.equal(gate.sent, true);
  client.abort();
  assert.equal(left, 1);
  assert.throws(() => gate.beforeSend(), ClientClosedError);

  const early = new AbortController();
  early.abort();
  const unsent = new SendGate(early.signal);
  assert.throws(() => unsent.beforeSend(), ClientClosedError);
  assert.equal(unsent.sent, false);
});

Deno.test("LocalJobs finds an identical job whose call is out once its client is seen leaving, within the grace", async () => {
  const jobs = new LocalJobs();
  const client = new AbortController();
  const over = Promise.withResolvers<void>();
  const remove = jobs.add("c:f", {
    outSince: () => 0,
    departed: client.signal,
    over: over.promise,
  });
  setTimeout(() => client.abort(), 30);
  const started = performance.now();
  const found = await jobs.abandoned("c:f", 1000);
  assert.ok(found);
  assert.ok(performance.now() - started < 500, "found when the client left, not after the grace");
  // A job whose client stays: the request is independent once the grace is over.
  const staying = new AbortController();
  jobs.add("c:g", { outSince: () => 0, departed: staying.signal, over: over.promise });
  assert.equal(await jobs.abandoned("c:g", 20), undefined);
  // A job whose call is not out is never waited for.
  const unsent = new AbortController();
  unsent.abort();
  jobs.add("c:h", { outSince: () => undefined, departed: unsent.signal, over: over.promise });
  assert.equal(await jobs.abandoned("c:h", 20), undefined);
  // A job whose call went out a moment ago is an identical request sent at the same time (the AI
  // SDK's parallel calls), not one a retry follows: never waited for.
  const left = new AbortController();
  left.abort();
  jobs.add("c:i", { outSince: () => performance.now(), departed: left.signal, over: over.promise });
  assert.equal(await jobs.abandoned("c:i", 1000), undefined);
  remove();
  assert.equal(await jobs.abandoned("c:f", 20), undefined);
});

Deno.test("UndeliveredAnswers: a kept answer is taken by one request only, and a running job is seen", async () => {
  await using kv = await Deno.openKv(":memory:");
  const kept = new UndeliveredAnswers(kv, 60_000);
  await kept.running("client", "fp", "job-1", Date.now() + 60_000);
  let entries = await kept.list("client", "fp");
  assert.deepEqual(entries.map((e) => e.value.state), ["running"]);
  assert.equal(await kept.claim(entries[0]), undefined);
  await kept.ready("client", "fp", "job-1", RECORD);
  entries = await kept.list("client", "fp");
  const [first, second] = await Promise.all([kept.claim(entries[0]), kept.claim(entries[0])]);
  assert.deepEqual([first, second].filter(Boolean), [RECORD]);
  assert.deepEqual(await kept.list("client", "fp"), []);
  // Another client's or another request's answers are not this one's.
  await kept.ready("other", "fp", "job-2", RECORD);
  await kept.ready("client", "fp2", "job-3", RECORD);
  assert.deepEqual(await kept.list("client", "fp"), []);
});

Deno.test("KeyedAnswers: one owner per key, its answer for the same parameters, a conflict for others, a dead owner's lease taken over", async () => {
  await using kv = await Deno.openKv(":memory:");
  const keyed = new KeyedAnswers(kv);
  const now = Date.now();
  const claims = await Promise.all([1, 2, 3].map(() => keyed.claim("c", "k", "fp", now + 60_000)));
  assert.deepEqual(claims.map((c) => c.kind).sort(), ["owner", "running", "running"]);
  const { token } = claims.find((c) => c.kind === "owner") as { token: string };
  assert.deepEqual(await keyed.claim("c", "k", "other", now + 60_000), { kind: "conflict" });
  // Only the owner writes the key's answer.
  assert.equal(
    await keyed.finish({ client: "c", keyHash: "k", token: "not-the-owner" }, {
      state: "done",
      record: RECORD,
    }),
    false,
  );
  assert.equal(
    await keyed.finish({ client: "c", keyHash: "k", token }, { state: "done", record: RECORD }),
    true,
  );
  assert.deepEqual(await keyed.claim("c", "k", "fp", now), { kind: "done", record: RECORD });
  // A renewal after the answer cannot bring the key back to running.
  assert.equal(await keyed.renew({ client: "c", keyHash: "k", token }, now + 60_000), false);
  assert.deepEqual(await keyed.claim("c", "k", "fp", now), { kind: "done", record: RECORD });
  // The same key of another client is its own.
  assert.equal((await keyed.claim("d", "k", "fp", now + 60_000)).kind, "owner");
  // A running claim whose lease ran out (its instance died) is taken over, and the old owner
  // can no longer write.
  const dead = await keyed.claim("c", "dead", "fp", now - 1);
  assert.equal(dead.kind, "owner");
  const successor = await keyed.claim("c", "dead", "fp", now + 60_000);
  assert.equal(successor.kind, "owner");
  assert.equal(
    await keyed.release({ client: "c", keyHash: "dead", token: (dead as { token: string }).token }),
    false,
  );
  assert.equal(
    await keyed.release({
      client: "c",
      keyHash: "dead",
      token: (successor as { token: string }).token,
    }),
    true,
  );
  assert.equal((await keyed.claim("c", "dead", "fp2", now + 60_000)).kind, "owner");
});
