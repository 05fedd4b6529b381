/**
 * `lib/observability/redaction.ts`: every secret out of a text, in every form it can take there (any case,
 * percent-encoded, base64 and base64url at each alignment), in linear time, and never a secret's
 * beginning left where a text is cut.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  clipAtSpace,
  configuredSecrets,
  REDACTED,
  Redactor,
} from "../lib/observability/redaction.ts";
import { loadConfig } from "../lib/config/config.ts";

const KEY = "sk-upstream-key-0123456789abcdef";

/** Every character as `%XX`, in upper or lower-case hex. */
function percentEncoded(text: string, lower = false): string {
  const hex = (b: number) => b.toString(16).padStart(2, "0");
  return Array.from(
    new TextEncoder().encode(text),
    (b) => `%${lower ? hex(b) : hex(b).toUpperCase()}`,
  )
    .join("");
}

/** `text` in base64 after `shift` bytes of something else, in either alphabet. */
function base64After(shift: number, text: string, url = false): string {
  const b64 = btoa("Qz!".slice(0, shift) + text);
  return url ? b64.replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "") : b64;
}

/** Asserts that no run of 6 characters from the middle of `form` is left in `text`. */
function assertGone(text: string, form: string, label: string) {
  const middle = form.slice(4, -4);
  for (let i = 0; i + 6 <= middle.length; i++) {
    assert.ok(!text.includes(middle.slice(i, i + 6)), `${label}: "${middle.slice(i, i + 6)}" left`);
  }
}

/** Asserts that `text` holds no beginning of `key` longer than "sk-". */
function assertNoPrefix(text: string, key: string) {
  for (let n = 4; n <= key.length; n++) {
    assert.ok(!text.includes(key.slice(0, n)), `the key's first ${n} characters are shown`);
  }
}

Deno.test("Redactor finds a key in any letter case and with any character percent-encoded", () => {
  const r = new Redactor([KEY]);
  const half = KEY.slice(0, 10) + percentEncoded(KEY.slice(10), true);
  assert.equal(
    r.redact(
      `a ${KEY.toUpperCase()} b ${
        percentEncoded(KEY)
      } c ${half} d sk%2dupstream-key-0123456789ABCDEF`,
    ),
    `a ${REDACTED} b ${REDACTED} c ${REDACTED} d ${REDACTED}`,
  );
});

Deno.test("Redactor finds a key in base64 and base64url at each of the three alignments", () => {
  const r = new Redactor([KEY]);
  for (let shift = 0; shift < 3; shift++) {
    for (const url of [false, true]) {
      const form = base64After(shift, `key=${KEY}&x=1`, url);
      const out = r.redact(`token ${form} end`);
      assert.match(out, /^token .{0,8}sk-\*\*\*.{0,8} end$/, `shift ${shift}, url ${url}: ${out}`);
      assertGone(out, base64After(shift, KEY, url), `shift ${shift}, url ${url}`);
    }
  }
  // Percent-encoded base64, as a query string carries it.
  const form = encodeURIComponent(base64After(1, KEY));
  assertGone(r.redact(`?t=${form}`), base64After(1, KEY), "percent-encoded base64");
  // Text that only looks like base64 is left alone.
  assert.equal(r.redact("aGVsbG8gd29ybGQ="), "aGVsbG8gd29ybGQ=");
});

Deno.test("Redactor.with adds a request's own key without losing the gateway's", () => {
  const own = "pass-through-key-abcdefghijk";
  const r = new Redactor([KEY]).with([own]);
  assert.equal(r.redact(`${KEY} ${own.toUpperCase()}`), `${REDACTED} ${REDACTED}`);
  assert.equal(new Redactor([KEY]).redact(own), own);
});

Deno.test("Redactor.clipped redacts before it cuts: a key at the cut shows no beginning", () => {
  const r = new Redactor([KEY]);
  for (let at = 280; at < 300; at++) {
    const out = r.clipped(`${"x".repeat(at)}${KEY} tail`, 300);
    assertNoPrefix(out, KEY);
    assert.ok(out.length <= 301);
  }
  // A key straddling the end of the window looked at (8 KB here) is not shown either.
  for (let at = 8000; at < 8400; at += 7) {
    const out = r.clipped(`${"x ".repeat(at / 2)}${KEY}${"y".repeat(10_000)}`, 9000);
    assertNoPrefix(out, KEY);
    assert.ok(out.endsWith("…"));
  }
  assert.equal(r.clipped(`short ${KEY}`, 300), `short ${REDACTED}`);
});

Deno.test("clipAtSpace never leaves a key's beginning at the cut", () => {
  assert.equal(clipAtSpace(`say ${KEY} now`, 10), "say…");
  assert.equal(clipAtSpace("a".repeat(5000), 4096), `${"a".repeat(4096 - 1024)}…`);
  assert.equal(clipAtSpace("short", 10), "short");
});

Deno.test("configuredSecrets lists every key and token of the configuration", () => {
  const config = loadConfig({
    SILICONFLOW_API_KEYS: "sk-pool-a,sk-pool-b",
    GATEWAY_API_KEYS: "gw-key-0123456789abcdef",
    PROVIDERS_JSON: JSON.stringify([{
      name: "acme",
      kind: "openai",
      base_url: "https://acme.example/v1",
      keys: ["acme-key-1"],
      models: ["acme/img"],
    }]),
    PROMPT_ENHANCE_MODEL: "Qwen/Qwen3-8B",
    PROMPT_ENHANCE_API_KEY: "sk-llm-1",
    METRICS_TOKEN: "metrics-token-0123456789",
    IMAGE_STORE: "s3",
    S3_ENDPOINT: "https://s3.example",
    S3_BUCKET: "images",
    S3_ACCESS_KEY_ID: "AKIAEXAMPLE",
    S3_SECRET_ACCESS_KEY: "s3-secret/abc+def",
  });
  assert.deepEqual(configuredSecrets(config), [
    "sk-pool-a",
    "sk-pool-b",
    "gw-key-0123456789abcdef",
    "acme-key-1",
    "sk-llm-1",
    "metrics-token-0123456789",
    "AKIAEXAMPLE",
    "s3-secret/abc+def",
  ]);
});

/**
 * The bound for 1 MB texts with a pool of 100 keys. Each takes ~0.1–0.2 s on a 2-CPU machine, so
 * 3000 ms is ~15× that for a busy CI machine, while a scan per key or per match (quadratic in the
 * number of matches) takes far longer.
 */
const MAX_MS_PER_MB = 3000;

Deno.test("Redactor is linear on 1 MB texts made to slow it down", () => {
  // Not shaped like SiliconFlow's keys, so that only the pool's own patterns can match.
  const pool = Array.from({ length: 100 }, (_, i) => `pool-key-${i}-${"a".repeat(20)}`);
  const r = new Redactor(pool);
  const near = `pool-key-1-${"a".repeat(19)}!`; // one character short of a key, repeated
  const cases: [string, string, (out: string) => void][] = [
    ["near misses", near.repeat(30_000), (out) => assert.equal(out.length, near.length * 30_000)],
    ["keys back to back", pool[7].repeat(30_000), (out) => assert.equal(out, REDACTED)],
    ["half-escapes", "%2%2D%".repeat(170_000), (out) => assert.equal(out.length, 6 * 170_000)],
    ["'a' × 1 MB", "a".repeat(1 << 20), (out) => assert.equal(out.length, 1 << 20)],
    ["sk- × 1 MB", "sk-".repeat(350_000), (out) => assert.equal(out, REDACTED)],
  ];
  for (const [label, text, check] of cases) {
    const start = performance.now();
    const out = r.redact(text);
    const ms = performance.now() - start;
    check(out);
    assert.ok(ms < MAX_MS_PER_MB, `${label}: ${Math.round(ms)} ms, over ${MAX_MS_PER_MB} ms`);
  }
});
