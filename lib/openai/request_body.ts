/**
 * Reading request bodies so that nothing a client sends can cost the machine: a declared length
 * over {@link MAX_BODY_BYTES} is a 413 before a byte is read, bodies are counted as they stream and
 * cut at the cap, every byte is reserved in the gateway's {@link ByteBudget} as it arrives (past
 * it: 503 with `Retry-After`), the whole body must arrive within `REQUEST_BODY_TIMEOUT_SECONDS`
 * (408), and a client that aborts its upload ends in one quiet 499 log line. JSON is read whatever
 * the declared content type (clients are inconsistent), with a 400 in OpenAI's shape for empty or
 * malformed bodies.
 *
 * A body left unread (an early answer, a 401, a 413) is closed by {@link settleBody}, which
 * `routes/body_guard.ts` calls before each answer goes out. What Deno 2.9's HTTP/1.1 server does,
 * found over raw sockets: a reader cancelled before the answer is written makes Deno wait for the
 * rest of the body on a keep-alive connection (a stalled client then holds the socket for ever);
 * cancelled after it, with no read pending, Deno closes the connection (`Connection: close` was
 * already sent), yet keeps it alive when the body had fully arrived. A read still pending holds the
 * connection until it ends (its Rust side cannot be cancelled), so the cancel waits for it: a client
 * that stalls after its 408 is closed at its next byte, or by the listener recycling of
 * `IDLE_CONNECTION_SECONDS` (a server shutdown closes such connections at once).
 *
 * @module
 */
import { setImmediate } from "node:timers";
import type { ByteBudget } from "../byte_budget.ts";
import { MB } from "../config/env_values.ts";
import {
  ClientClosedError,
  InvalidRequestError,
  PayloadTooLargeError,
  RequestTimeoutError,
  ServerBusyError,
} from "../errors.ts";
import { onRequestEnd } from "../observability/request_context.ts";
import { checkJsonShape } from "./json_shape.ts";

/**
 * Largest request body: room for three input images of a few MB each inline as base64 (the
 * images' own caps are in `edit_images.ts`).
 */
export const MAX_BODY_BYTES = 32 * MB;
/**
 * `Retry-After` of a 503 for the byte budget: reservations last as long as their requests, and
 * most requests are over within seconds.
 */
export const BUSY_RETRY_SECONDS = 5;

type ChunkReader = ReadableStreamDefaultReader<Uint8Array>;

/** What the gateway knows about one request's body: its budget, and a reader left unfinished. */
interface BodyState {
  budget: ByteBudget;
  reserved: number;
  left?: { reader: ChunkReader; pending?: Promise<unknown> };
}

const states = new WeakMap<Request, BodyState>();

/**
 * Puts a request's body under the gateway's byte budget; what it reserves is given back when the
 * request is over. Called by `routes/body_guard.ts` for every request.
 */
export function governBody(request: Request, budget: ByteBudget): void {
  states.set(request, { budget, reserved: 0 });
}

/**
 * Frees the connection of a body that was not read to its end; called just before the answer is
 * returned (after it, Deno refuses to touch the body). Complete bodies keep their keep-alive.
 */
export function settleBody(request: Request): void {
  const left = states.get(request)?.left;
  if (left) return closeAfterAnswer(left.reader, left.pending);
  const body = request.body;
  if (body === null || request.bodyUsed || body.locked) return;
  closeAfterAnswer(body.getReader());
}

/** Cancels the reader once the answer is on its way: one turn of the event loop later. */
function closeAfterAnswer(reader: ChunkReader, pending?: Promise<unknown>): void {
  const cancel = () => setImmediate(() => reader.cancel().catch(() => {}));
  if (pending) pending.then(cancel, () => {});
  else cancel();
}

const EXPIRED = Symbol("expired");

/**
 * A request body read chunk by chunk under every limit above. {@link close} must follow, in a
 * `finally`: it stops the clock, and leaves an unfinished body to {@link settleBody}.
 */
export class BodyReader {
  readonly #request: Request;
  readonly #timeoutMs: number;
  readonly #maxBytes: number;
  readonly #state: BodyState | undefined;
  readonly #expired: Promise<typeof EXPIRED>;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #reader: ChunkReader | undefined;
  #pending: Promise<unknown> | undefined;
  #received = 0;
  #done = false;
  /** The length the client declared, or `undefined` for a chunked body. */
  readonly declared: number | undefined;

  /**
   * Checks the declared length before anything is read; bytes are reserved as they arrive.
   *
   * @throws {PayloadTooLargeError} for a declared length over the cap
   * @throws {ServerBusyError} when the budget cannot hold it now
   */
  constructor(request: Request, timeoutMs: number, maxBytes = MAX_BODY_BYTES) {
    this.#request = request;
    this.#timeoutMs = timeoutMs;
    this.#state = states.get(request);
    // A body larger than the whole budget could never be taken: that is a 413, not a 503.
    this.#maxBytes = Math.min(maxBytes, this.#state?.budget.limit ?? Infinity);
    const length = request.headers.get("content-length") ?? "";
    this.declared = /^\d{1,15}$/.test(length) ? Number(length) : undefined;
    // Reserved as bytes arrive, not as declared: a client that declares 32 MB and sends nothing
    // holds nothing of the budget (and no buffer of that size is made for it).
    if (this.declared !== undefined && this.declared > this.#maxBytes) throw this.#tooLarge();
    this.#expired = new Promise((resolve) => {
      this.#timer = setTimeout(() => resolve(EXPIRED), timeoutMs);
    });
  }

  /**
   * The next chunk, or `undefined` once the body has ended.
   *
   * @throws {RequestTimeoutError} when the deadline passes first
   * @throws {ClientClosedError} when the client goes away
   * @throws {PayloadTooLargeError} past the cap
   * @throws {ServerBusyError} past the budget
   */
  async next(): Promise<Uint8Array | undefined> {
    if (this.#done) return undefined;
    this.#reader ??= this.#request.body?.getReader();
    if (!this.#reader) {
      this.#done = true;
      return undefined;
    }
    const read = this.#reader.read();
    let result;
    try {
      result = await Promise.race([read, this.#expired]);
    } catch (err) {
      throw new ClientClosedError("The client closed the connection while sending the request", {
        cause: err,
      });
    }
    if (result === EXPIRED) {
      // The read stays pending: the connection is closed once it ends (see the module doc).
      this.#pending = read.catch(() => {});
      throw new RequestTimeoutError(
        `The request body did not arrive within ${this.#timeoutMs / 1000} s ` +
          "(REQUEST_BODY_TIMEOUT_SECONDS)",
      );
    }
    if (result.done) {
      this.#done = true;
      return undefined;
    }
    const chunk = result.value;
    this.#received += chunk.length;
    if (this.#received > this.#maxBytes) throw this.#tooLarge();
    this.#reserve(chunk.length);
    if (this.declared !== undefined && this.#received > this.declared) {
      // Deno's server never lets this through; a Request built in process might.
      throw new InvalidRequestError("The request body is longer than its Content-Length");
    }
    return chunk;
  }

  /** Stops the clock; an unfinished body is left to {@link settleBody} to close. */
  close(): void {
    clearTimeout(this.#timer);
    if (this.#done || !this.#reader) return;
    if (this.#state) this.#state.left = { reader: this.#reader, pending: this.#pending };
  }

  #reserve(bytes: number): void {
    const state = this.#state;
    if (!state) return;
    if (!state.budget.take(bytes)) {
      throw new ServerBusyError(
        "The gateway is holding as many request bytes as it may (REQUEST_BYTES_BUDGET); " +
          `try again in ${BUSY_RETRY_SECONDS} s`,
        BUSY_RETRY_SECONDS,
      );
    }
    // Given back once the request is over: its body's bytes (and what was made of them) are
    // held until then. Registered at the first bytes, so bodiless requests cost nothing.
    if (state.reserved === 0) {
      onRequestEnd(() => {
        state.budget.give(state.reserved);
        state.reserved = 0;
      });
    }
    state.reserved += bytes;
  }

  #tooLarge(): PayloadTooLargeError {
    const limit = this.#maxBytes;
    const budget = this.#state && limit === this.#state.budget.limit;
    return new PayloadTooLargeError(
      `The request body is over ${limit} bytes` +
        (budget && limit < MAX_BODY_BYTES ? " (REQUEST_BYTES_BUDGET)" : ""),
    );
  }
}

/** The whole body, read under every limit of {@link BodyReader}. */
export async function readBody(
  request: Request,
  timeoutMs: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const body = new BodyReader(request, timeoutMs);
  try {
    const parts: Uint8Array[] = [];
    let size = 0;
    for (let chunk = await body.next(); chunk; chunk = await body.next()) {
      parts.push(chunk);
      size += chunk.length;
    }
    const bytes = new Uint8Array(size);
    let offset = 0;
    for (const part of parts) {
      bytes.set(part, offset);
      offset += part.length;
    }
    return bytes;
  } finally {
    body.close();
  }
}

/** Parses a JSON body whatever its declared content type; bad JSON is the client's 400. */
export async function readJson(request: Request, timeoutMs: number): Promise<unknown> {
  const text = new TextDecoder().decode(await readBody(request, timeoutMs));
  if (text.trim() === "") throw new InvalidRequestError("The request body is empty; send JSON");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InvalidRequestError(
      `The request body is not valid JSON: ${err instanceof Error ? err.message : err}`,
      { code: "invalid_json" },
    );
  }
  // Bounded before any schema walks it (see `json_shape.ts`).
  checkJsonShape(value);
  return value;
}
