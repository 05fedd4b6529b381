/**
 * Redaction: every secret the gateway knows, found in text that leaves it (answers, log lines,
 * fallback links) and replaced by `sk-***`. A secret is found as it is in any letter case, with
 * any of its characters percent-encoded (`%2D` or `%2d` for `-`), and inside base64 or base64url
 * text at each of the three alignments; anything shaped like a SiliconFlow key (`sk-` and 16 more
 * characters) goes too.
 *
 * One pass finds them all: an Aho–Corasick automaton over the text with its percent-escapes decoded
 * on the way, so the time is linear in the text whatever the number of secrets (a pool may hold a
 * hundred keys, and a log line or upstream message may be long).
 *
 * @module
 */
import type { Config } from "../config/config.ts";
import { Automaton } from "./text_search.ts";

/** What a secret is replaced by. */
export const REDACTED = "sk-***";
/** Shorter secrets are not looked for: they would match ordinary words. */
const MIN_SECRET_CHARS = 4;
/** Base64 forms only from this length: the stable core of a shorter one is too common a string. */
const MIN_ENCODED_CHARS = 8;
/** Unknown SiliconFlow-shaped keys. Linear: one class, no nested quantifier. */
const KEY_SHAPE = /\bsk-[A-Za-z0-9_-]{16,}/gi;
/**
 * Characters of an upstream message looked at, at least: a few KB hold any real message, and
 * more would only be a page of HTML.
 */
const MIN_SCAN_CHARS = 8192;

/** UTF-8 bytes as a string of units 0–255, the way percent-escapes decode. */
function utf8Units(text: string): string {
  return String.fromCharCode(...new TextEncoder().encode(text));
}

/** ASCII letters lower-cased; other units as they are. */
function lowerAscii(unit: number): number {
  return unit >= 65 && unit <= 90 ? unit + 32 : unit;
}

/** The value of hex digit `unit`, or -1. */
function hexValue(unit: number): number {
  if (unit >= 48 && unit <= 57) return unit - 48;
  const lower = lowerAscii(unit);
  return lower >= 97 && lower <= 102 ? lower - 87 : -1;
}

/** The byte of a `%XX` escape at `i` (ending before `end`), or -1. */
function percentAt(text: string, i: number, end: number): number {
  if (text.charCodeAt(i) !== 37 || i + 2 >= end) return -1;
  const high = hexValue(text.charCodeAt(i + 1));
  const low = hexValue(text.charCodeAt(i + 2));
  return high < 0 || low < 0 ? -1 : high * 16 + low;
}

/** A text with its percent-escapes decoded, as the scan sees it. */
function decoded(text: string): string {
  let out = "";
  for (let i = 0; i < text.length;) {
    const byte = percentAt(text, i, text.length);
    out += byte >= 0 ? String.fromCharCode(byte) : text[i];
    i += byte >= 0 ? 3 : 1;
  }
  return out;
}

/**
 * The part of `base64(prefix + secret)` that does not depend on what surrounds the secret, for a
 * prefix of `shift` bytes: the characters whose 6 bits all come from the secret's bytes. The one
 * or two characters at each end that mix the secret's bits with its neighbours' are not looked
 * for, and stay: a few bits of a key, never enough to guess the rest.
 */
function base64Core(bytes: string, shift: number): string {
  const encoded = btoa("\0".repeat(shift) + bytes).replace(/=+$/, "");
  const first = Math.ceil((8 * shift) / 6);
  const end = Math.floor((8 * (shift + bytes.length)) / 6);
  return encoded.slice(first, end);
}

/** The patterns of a set of secrets: literal ones (compared lower-cased) and base64 cores. */
class SecretSet {
  readonly literal: Automaton;
  readonly encoded: Automaton;
  /** Units of the longest pattern. */
  readonly longest: number;

  constructor(secrets: Iterable<string>) {
    const literal = new Set<string>();
    const encoded = new Set<string>();
    for (const secret of secrets) {
      if (secret.length < MIN_SECRET_CHARS) continue;
      // Decoded as the text is, so a secret holding "%41" still matches itself.
      const plain = decoded(secret);
      const bytes = utf8Units(plain);
      for (const form of new Set([plain, bytes])) {
        literal.add(form.replace(/[A-Z]+/g, (letters) => letters.toLowerCase()));
      }
      if (plain.length < MIN_ENCODED_CHARS) continue;
      for (let shift = 0; shift < 3; shift++) {
        const core = base64Core(bytes, shift);
        encoded.add(core);
        encoded.add(core.replaceAll("+", "-").replaceAll("/", "_"));
      }
    }
    this.literal = new Automaton(literal);
    this.encoded = new Automaton(encoded);
    this.longest = Math.max(0, ...[...literal, ...encoded].map((p) => p.length));
  }
}

/** `[start, end)` ranges of the text to replace, as pairs, in the order they were found. */
type Ranges = number[];

/** Adds a range, merged into the last one when they overlap: a text of repeats stays few ranges. */
function addRange(ranges: Ranges, from: number, to: number): void {
  const last = ranges.length - 2;
  if (last >= 0 && from <= ranges[last + 1] && to >= ranges[last]) {
    ranges[last] = Math.min(ranges[last], from);
    ranges[last + 1] = Math.max(ranges[last + 1], to);
  } else ranges.push(from, to);
}

/** Finds every secret of `set` in `text[0, end)`, adding its raw range to `ranges`. */
function findSecrets(text: string, end: number, set: SecretSet, ranges: Ranges): void {
  // Where each of the last `longest` decoded units began in the raw text: a ring, not an array
  // as long as the text.
  const size = set.longest + 1;
  const starts = new Int32Array(size);
  let literal = 0;
  let encoded = 0;
  for (let i = 0, k = 0; i < end; k++) {
    const byte = percentAt(text, i, end);
    const unit = byte >= 0 ? byte : text.charCodeAt(i);
    starts[k % size] = i;
    i += byte >= 0 ? 3 : 1;
    literal = set.literal.step(literal, lowerAscii(unit));
    encoded = set.encoded.step(encoded, unit);
    const a = set.literal.longest(literal);
    if (a > 0) addRange(ranges, starts[(k - a + 1) % size], i);
    const b = set.encoded.longest(encoded);
    if (b > 0) addRange(ranges, starts[(k - b + 1) % size], i);
  }
}

/** `text` up to `stop` with its ranges replaced (a range begun before `stop` goes whole). */
function replaceRanges(text: string, ranges: Ranges, stop: number): string {
  const pairs: [number, number][] = [];
  for (let i = 0; i < ranges.length; i += 2) pairs.push([ranges[i], ranges[i + 1]]);
  pairs.sort((x, y) => x[0] - y[0]);
  let out = "";
  let at = 0;
  for (let i = 0; i < pairs.length;) {
    const from = pairs[i][0];
    if (from >= stop) break;
    // Overlapping finds (a key and its lower-cased twin, a key inside a key) make one replacement.
    let to = pairs[i][1];
    for (i++; i < pairs.length && pairs[i][0] < to; i++) to = Math.max(to, pairs[i][1]);
    out += text.slice(at, from) + REDACTED;
    at = to;
  }
  return at < stop ? out + text.slice(at, stop) : out;
}

/** Finds and replaces the secrets it was made with; see the module's documentation. */
export class Redactor {
  #sets: readonly SecretSet[];

  /** A redactor of `secrets`; those shorter than 4 characters are ignored. */
  constructor(secrets: Iterable<string> = []) {
    const set = new SecretSet(new Set(secrets));
    this.#sets = set.literal.empty && set.encoded.empty ? [] : [set];
  }

  /** This redactor's secrets and `secrets` too (a request's own key), this one's not rebuilt. */
  with(secrets: readonly string[]): Redactor {
    const more = new Redactor(secrets);
    if (more.#sets.length === 0) return this;
    more.#sets = [...this.#sets, ...more.#sets];
    return more;
  }

  /** `text` with every secret replaced; linear in its length. */
  redact(text: string): string {
    return this.#redact(text, text.length, text.length);
  }

  /**
   * At most `max` characters of `text`, redacted before they are cut. Only the first few KB are
   * looked at; of those, the tail that a secret could straddle is dropped, so that no secret's
   * beginning is ever shown. A cut text ends with `…`.
   */
  clipped(text: string, max: number): string {
    // A pattern's raw form is at most 3 characters a unit (all percent-escaped); 64 covers a cut
    // SiliconFlow-shaped key (19 characters before it is recognised).
    const margin = 3 * Math.max(0, ...this.#sets.map((s) => s.longest)) + 64;
    const scan = Math.max(MIN_SCAN_CHARS, max + 2 * margin);
    const whole = text.length <= scan;
    const out = whole ? this.redact(text) : this.#redact(text, scan, scan - margin);
    return whole && out.length <= max ? out : `${out.slice(0, max)}…`;
  }

  #redact(text: string, end: number, stop: number): string {
    const ranges: Ranges = [];
    for (const set of this.#sets) findSecrets(text, end, set, ranges);
    const window = end === text.length ? text : text.slice(0, end);
    for (const match of window.matchAll(KEY_SHAPE)) {
      ranges.push(match.index, match.index + match[0].length);
    }
    return ranges.length === 0 ? text.slice(0, stop) : replaceRanges(text, ranges, stop);
  }
}

/** Redactors of recent secret lists, for {@link redact}: a request's list recurs in its calls. */
const recent = new Map<string, Redactor>();
const RECENT_LISTS = 64;

function redactorOf(secrets: readonly string[]): Redactor {
  const key = secrets.join("\0");
  let redactor = recent.get(key);
  if (redactor) recent.delete(key);
  else redactor = new Redactor(secrets);
  recent.set(key, redactor);
  if (recent.size > RECENT_LISTS) recent.delete(recent.keys().next().value!);
  return redactor;
}

/** Replaces every secret of `secrets` in `text` (any case, percent-encoded, in base64). */
export function redact(text: string, secrets: readonly string[]): string {
  return redactorOf(secrets).redact(text);
}

/** {@link Redactor.clipped} with `secrets`: at most `max` characters, redacted before the cut. */
export function redactClipped(text: string, secrets: readonly string[], max: number): string {
  return redactorOf(secrets).clipped(text, max);
}

/** How far back {@link clipAtSpace} looks for a space before it cuts through a long word. */
const MAX_WORD_CHARS = 1024;

/**
 * At most `max` characters of `text`, cut at a space (configured keys never hold one: lists are
 * split on spaces and commas), so that the cut cannot leave the start of a key behind; in a word
 * longer than 1,024 characters (longer than any key) 1,024 characters before `max`. A cut text ends
 * with `…`. For text cut before anyone knows which secrets to look for.
 */
export function clipAtSpace(text: string, max: number): string {
  if (text.length <= max) return text;
  const least = Math.max(0, max - MAX_WORD_CHARS);
  let end = max;
  while (end > least && !/\s/.test(text[end])) end--;
  return `${text.slice(0, end)}…`;
}

/**
 * Every secret the configuration holds: SiliconFlow's and the clients' keys, each provider's, the
 * prompt enhancer's, the metrics token and the object store's credentials.
 */
export function configuredSecrets(config: Config): string[] {
  return [
    ...config.upstreamKeys,
    ...config.gatewayKeys,
    ...config.providers.flatMap((p) => p.keys),
    ...(config.promptEnhance?.apiKeys ?? []),
    ...(config.metricsToken ? [config.metricsToken] : []),
    ...(config.s3 ? [config.s3.accessKeyId, config.s3.secretAccessKey] : []),
  ];
}
