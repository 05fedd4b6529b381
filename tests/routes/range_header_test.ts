/**
 * `requestedRange()` and `parseRangeSpec()` with plain values: which `Range` headers give a range,
 * which are unsatisfiable and which are ignored, `If-Range`, and the length cap. The route's
 * answers (206, 416, 200) are pinned in `image_files_test.ts`; linear time in
 * `tests/hostile/parsers_test.ts`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { MAX_RANGE_HEADER, parseRangeSpec, requestedRange } from "../../lib/routes/range_header.ts";

const ETAG = `"${"0123456789abcdef".repeat(4)}"`;
const SIZE = 1000;
const range = (header: string | undefined, ifRange?: string) =>
  requestedRange(header, ifRange, ETAG, SIZE);

Deno.test("requestedRange() reads one range, open-ended or a suffix, clipped to the image", () => {
  const cases: [string, { start: number; end: number }][] = [
    ["bytes=0-99", { start: 0, end: 100 }],
    ["bytes=5-5", { start: 5, end: 6 }],
    ["bytes=100-", { start: 100, end: SIZE }],
    ["bytes=-10", { start: SIZE - 10, end: SIZE }],
    ["bytes=-5000", { start: 0, end: SIZE }],
    ["bytes=10-99999999999999999999", { start: 10, end: SIZE }],
    ["bytes=999-", { start: 999, end: SIZE }],
    // Spaces and tabs around every token, and the unit in any case.
    ["Bytes = 0 - 9", { start: 0, end: 10 }],
    ["BYTES=\t0-\t9", { start: 0, end: 10 }],
    [" bytes=0-9 ", { start: 0, end: 10 }],
  ];
  for (const [header, expected] of cases) assert.deepEqual(range(header), expected, header);
});

Deno.test("requestedRange() calls a range that starts past the end unsatisfiable", () => {
  for (
    const header of ["bytes=1000-", "bytes=1010-1020", "bytes=-0", "bytes=99999999999999999999-"]
  ) {
    assert.equal(range(header), "unsatisfiable", header);
  }
  assert.equal(requestedRange("bytes=-5", undefined, ETAG, 0), "unsatisfiable");
});

Deno.test("requestedRange() ignores what it does not understand, so the whole image is served", () => {
  const ignored = [
    undefined,
    "",
    "bytes=5-3", // invalid by RFC 9110 §14.1.1
    "bytes=0-1,5-6",
    "bytes=0-1, 5-6",
    "bytes=-",
    "bytes=",
    "bytes",
    "items=0-1",
    "bytes=a-b",
    "bytes=0-1x",
    "bytes=+1-2",
    "bytes=0x10-",
    "bytes 0-1",
    "bytesx=0-1",
    "bytes=0--1",
    "bytes=٠-٩", // Arabic-Indic digits are not ASCII digits
  ];
  for (const header of ignored) assert.equal(range(header), undefined, String(header));
});

Deno.test("requestedRange() honours Range only when If-Range names the image's ETag exactly", () => {
  assert.deepEqual(range("bytes=0-9", ETAG), { start: 0, end: 10 });
  assert.deepEqual(range("bytes=0-9", ` ${ETAG}\t`), { start: 0, end: 10 });
  for (const stale of ['"other"', `W/${ETAG}`, new Date(0).toUTCString(), "", `${ETAG}, "a"`]) {
    assert.equal(range("bytes=0-9", stale), undefined, stale);
  }
  // Stale wins over unsatisfiable: the whole (changed) image is what the client wants.
  assert.equal(range("bytes=5000-", '"other"'), undefined);
  assert.equal(range("bytes=0-9", `${ETAG}${" ".repeat(MAX_RANGE_HEADER)}`), undefined);
});

Deno.test("requestedRange() reads a Range of up to 200 characters and ignores a longer one", () => {
  assert.equal(MAX_RANGE_HEADER, 200);
  const padded = (length: number) => `bytes=${" ".repeat(length - 9)}0-9`;
  assert.equal(padded(200).length, 200);
  assert.deepEqual(range(padded(200)), { start: 0, end: 10 });
  assert.equal(range(padded(201)), undefined);
  assert.equal(range(`bytes=${"0".repeat(195)}-`), undefined);
});

Deno.test("parseRangeSpec() gives both numbers as written, either of them empty", () => {
  assert.deepEqual(parseRangeSpec("bytes=0-99"), { first: "0", last: "99" });
  assert.deepEqual(parseRangeSpec("bytes=007-"), { first: "007", last: "" });
  assert.deepEqual(parseRangeSpec("bytes=-5"), { first: "", last: "5" });
  assert.deepEqual(parseRangeSpec("bytes=-"), { first: "", last: "" });
  assert.deepEqual(parseRangeSpec("\t bYtEs \t=\t 1 \t-\t 2 \t"), { first: "1", last: "2" });
  // Only spaces and tabs are optional white space (RFC 9110 §5.6.3).
  for (const header of ["bytes=0-1\n", "bytes=\u00a00-1", "\vbytes=0-1", "bytes=0-1,"]) {
    assert.equal(parseRangeSpec(header), undefined, JSON.stringify(header));
  }
});
