/**
 * Reading request bodies: within `REQUEST_BODY_TIMEOUT_SECONDS`, so an upload that stalls cannot
 * hold a connection for ever; a client that aborts its upload ends in one quiet 499 log line; JSON
 * is read whatever the declared content type (clients are inconsistent), with a 400 in OpenAI's
 * shape for empty or malformed bodies.
 *
 * @module
 */
import { ClientClosedError, InvalidRequestError, RequestTimeoutError } from "../errors.ts";

/** The whole body, read before `timeoutMs` runs out. */
export async function readBody(
  request: Request,
  timeoutMs: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const reader = request.body?.getReader();
  if (!reader) return new Uint8Array(0);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    reader.cancel().catch(() => {});
  }, timeoutMs);
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      size += value.length;
    }
  } catch (err) {
    if (timedOut) throw timeout(timeoutMs);
    throw new ClientClosedError("The client closed the connection while sending the request", {
      cause: err,
    });
  } finally {
    clearTimeout(timer);
  }
  // A read that ended because of the timer's cancel() ends as if done.
  if (timedOut) throw timeout(timeoutMs);
  const body = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    body.set(part, offset);
    offset += part.length;
  }
  return body;
}

function timeout(ms: number): RequestTimeoutError {
  return new RequestTimeoutError(
    `The request body did not arrive within ${ms / 1000} s (REQUEST_BODY_TIMEOUT_SECONDS)`,
  );
}

/** Parses a JSON body whatever its declared content type; bad JSON is the client's 400. */
export async function readJson(request: Request, timeoutMs: number): Promise<unknown> {
  const text = new TextDecoder().decode(await readBody(request, timeoutMs));
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

/** A form body (multipart or URL-encoded), read within the deadline, then parsed. */
export async function readForm(request: Request, timeoutMs: number): Promise<FormData> {
  const body = await readBody(request, timeoutMs);
  const type = request.headers.get("content-type") ?? "";
  try {
    return await new Response(body, { headers: { "content-type": type } }).formData();
  } catch (err) {
    throw new InvalidRequestError(
      `The form body could not be read: ${err instanceof Error ? err.message : err}`,
      { code: "invalid_multipart" },
    );
  }
}
