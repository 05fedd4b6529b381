/**
 * A bound on the shape of a parsed JSON body, checked before any schema reads it. A body within
 * the byte limit can still hold a million array elements or keys, and a schema that reports an
 * issue per element, or copies an object per key, then spends seconds of CPU and gigabytes on it:
 * `{"messages":[1,1,…]}` of 1 MB took 3.3 s and 934 MB. Counting values is one linear walk.
 *
 * @module
 */
import { InvalidRequestError } from "../errors.ts";

/**
 * More values (array elements and object keys, at any depth) than any request needs: a chat of
 * 10,000 messages of a role and a text is 30,000.
 */
export const MAX_JSON_VALUES = 50_000;
/** More keys than any one object of a request has (its fields are a few dozen at most). */
export const MAX_OBJECT_KEYS = 1000;
/** Deeper nesting than any request has. */
export const MAX_JSON_DEPTH = 64;

/** @throws {InvalidRequestError} for a body with more values or deeper nesting than allowed */
export function checkJsonShape(value: unknown): void {
  let values = 0;
  const stack: { value: unknown; depth: number }[] = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const { value: node, depth } = stack.pop()!;
    if (node === null || typeof node !== "object") continue;
    if (depth >= MAX_JSON_DEPTH) {
      throw new InvalidRequestError(
        `The request body nests deeper than ${MAX_JSON_DEPTH} levels`,
        { code: "json_too_deep" },
      );
    }
    const children = Array.isArray(node) ? node : Object.values(node);
    if (!Array.isArray(node) && children.length > MAX_OBJECT_KEYS) {
      throw new InvalidRequestError(
        `An object in the request body has ${children.length} keys; at most ${MAX_OBJECT_KEYS} ` +
          "are read",
        { code: "json_too_large" },
      );
    }
    values += children.length;
    if (values > MAX_JSON_VALUES) {
      throw new InvalidRequestError(
        `The request body holds more than ${MAX_JSON_VALUES} JSON values; no request needs that many`,
        { code: "json_too_large" },
      );
    }
    for (const child of children) {
      if (child !== null && typeof child === "object") {
        stack.push({ value: child, depth: depth + 1 });
      }
    }
  }
}
