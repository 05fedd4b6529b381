/**
 * Base64 for image bytes, as `b64_json` answers and `data:` URIs carry them. `node:buffer` encodes
 * natively and reads a view's bytes in place; `Uint8Array.prototype.toBase64` would too, but Deno
 * Deploy runs Deno 2.5, which lacks it.
 *
 * @module
 */
import { Buffer } from "node:buffer";

/** Standard (padded, `+/`) base64 of the bytes. */
export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/** `data:<mime>;base64,…` of the bytes. */
export function toDataUri(mime: string, bytes: Uint8Array): string {
  return `data:${mime};base64,${toBase64(bytes)}`;
}
