/**
 * `Range` and `If-Range` for `GET /i/:id` (RFC 9110 §14.2, §13.1.5): the single byte range a
 * client asks for, or none. Pure.
 *
 * The headers come from anyone holding a link, so reading them costs time linear in their length,
 * and no more than a constant once they are long: a `Range` longer than {@link MAX_RANGE_HEADER}
 * is ignored before any scan (the whole image is served, as RFC 9110 lets a server do with any
 * `Range`), and the parser is written by hand, one pass over the characters. The regular
 * expression it replaces, `/^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i`, tried every split of a run
 * of spaces between its `\s*`s: `bytes=` and 64,000 spaces took 2.6 s of CPU per request.
 *
 * @module
 */

/**
 * The longest `Range` header read, in characters (header values are bytes, one per character).
 * A single range of two 16-digit offsets with spaces around every token is under 60; 200 leaves
 * room for any client that writes one, and none writes more.
 */
export const MAX_RANGE_HEADER = 200;

/** Bytes `start` up to but not including `end`. */
export interface ByteRange {
  start: number;
  end: number;
}

/** The two numbers of `bytes=first-last`, as written: digits, either may be empty. */
export interface RangeSpec {
  first: string;
  last: string;
}

/**
 * The single byte range asked for, `undefined` for the whole image (no `Range`, a stale
 * `If-Range`, several ranges, a header over {@link MAX_RANGE_HEADER} characters or one we do not
 * understand — RFC 9110 lets a server ignore `Range`), or `"unsatisfiable"` (answered 416).
 *
 * @param etag the image's strong ETag, quotes included; `If-Range` must name exactly it
 * @param size the image's length in bytes
 */
export function requestedRange(
  header: string | undefined,
  ifRange: string | undefined,
  etag: string,
  size: number,
): ByteRange | "unsatisfiable" | undefined {
  if (!header || header.length > MAX_RANGE_HEADER) return undefined;
  // A date, a weak tag or another tag means "the whole image if it changed": ours never matches
  // a date, and an image never changes, but the rule is the client's to rely on. Short-circuits
  // on length first, so a long If-Range is not trimmed.
  if (ifRange !== undefined && (ifRange.length > MAX_RANGE_HEADER || ifRange.trim() !== etag)) {
    return undefined;
  }
  const spec = parseRangeSpec(header);
  if (!spec || (spec.first === "" && spec.last === "")) return undefined;
  if (spec.first === "") {
    const suffix = Number(spec.last);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size };
  }
  const start = Number(spec.first);
  // "bytes=5-3" is syntactically invalid (RFC 9110 §14.1.1), so it is ignored rather than refused.
  if (spec.last !== "" && Number(spec.last) < start) return undefined;
  if (start >= size) return "unsatisfiable";
  const last = spec.last === "" ? size - 1 : Math.min(Number(spec.last), size - 1);
  return { start, end: last + 1 };
}

/**
 * `bytes=first-last` with optional spaces or tabs around each token and `bytes` in any case, as
 * `{ first, last }`; `undefined` for anything else (several ranges, another unit, junk). One pass,
 * each character looked at once, whatever the length: the cap is the caller's business.
 */
export function parseRangeSpec(header: string): RangeSpec | undefined {
  let at = skipSpaces(header, 0);
  if (header.slice(at, at + 5).toLowerCase() !== "bytes") return undefined;
  at = skipSpaces(header, at + 5);
  if (header[at] !== "=") return undefined;
  const firstStart = skipSpaces(header, at + 1);
  const firstEnd = skipDigits(header, firstStart);
  at = skipSpaces(header, firstEnd);
  if (header[at] !== "-") return undefined;
  const lastStart = skipSpaces(header, at + 1);
  const lastEnd = skipDigits(header, lastStart);
  if (skipSpaces(header, lastEnd) !== header.length) return undefined;
  return { first: header.slice(firstStart, firstEnd), last: header.slice(lastStart, lastEnd) };
}

/** Where the run of spaces and tabs (RFC 9110's OWS) at `from` ends. */
function skipSpaces(text: string, from: number): number {
  let i = from;
  while (i < text.length && (text[i] === " " || text[i] === "\t")) i++;
  return i;
}

/** Where the run of ASCII digits at `from` ends. */
function skipDigits(text: string, from: number): number {
  let i = from;
  for (let c = text.charCodeAt(i); c >= 48 && c <= 57; c = text.charCodeAt(++i));
  return i;
}
