/**
 * What identifies a request beyond its client: the fingerprint of its endpoint and parameters
 * (same fingerprint, same request: a retry), and its `Idempotency-Key`.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { InvalidRequestError } from "../errors.ts";

/** The request header of a client that wants one answer per key. */
export const IDEMPOTENCY_HEADER = "idempotency-key";
/** Stripe allows keys of up to 255 characters; printable ASCII only, as a header value is. */
const MAX_KEY_LENGTH = 255;

/** Hex SHA-256 of a text. */
export const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

/**
 * A hash of what makes two requests the same: the endpoint and the parsed parameters, with keys
 * in a fixed order and long strings (input images) by their own hash.
 */
export function fingerprint(endpoint: string, parameters: unknown): string {
  const canonical = (value: unknown): unknown => {
    if (typeof value === "string" && value.length > 256) {
      return `sha256:${createHash("sha256").update(value).digest("hex")}`;
    }
    if (Array.isArray(value)) return value.map(canonical);
    if (value && typeof value === "object") {
      return Object.keys(value).sort().map((k) => [k, canonical((value as never)[k])]);
    }
    return value;
  };
  return createHash("sha256").update(JSON.stringify([endpoint, canonical(parameters)]))
    .digest("hex").slice(0, 32);
}

/**
 * The request's `Idempotency-Key`, or `undefined` without one.
 *
 * @throws {InvalidRequestError} for an empty, over-long or non-printable key
 */
export function idempotencyKeyOf(header: string | null | undefined): string | undefined {
  if (header === null || header === undefined) return undefined;
  const printable = header.length <= MAX_KEY_LENGTH &&
    [...header].every((c) => c >= " " && c <= "~");
  if (header.trim() === "" || !printable) {
    throw new InvalidRequestError(
      `The Idempotency-Key header must be 1–${MAX_KEY_LENGTH} printable ASCII characters`,
      { param: "Idempotency-Key", code: "invalid_idempotency_key" },
    );
  }
  return header;
}
