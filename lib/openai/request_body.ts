/**
 * Reading request bodies: JSON whatever the declared content type (clients are inconsistent), with
 * a 400 in OpenAI's shape for empty or malformed bodies.
 *
 * @module
 */
import { InvalidRequestError } from "../errors.ts";

/** Parses a JSON body whatever its declared content type; bad JSON is the client's 400. */
export async function readJson(req: Request): Promise<unknown> {
  const text = await req.text();
  if (text.trim() === "") throw new InvalidRequestError("The request body is empty; send JSON");
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InvalidRequestError(
      `The request body is not valid JSON: ${err instanceof Error ? err.message : err}`,
      { code: "invalid_json" },
    );
  }
}
