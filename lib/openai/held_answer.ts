/**
 * Telling whether an answer reached its client, where Deno 2.9.6 cannot say. Its HTTP/1.1 server
 * watches for a client leaving (`request.signal`) only while no request body is left with the
 * handler: for a request whose body did not arrive with its head in Deno's first read (a chat
 * conversation, an edit with its picture, a client that sends the body in its own packet) the
 * signal never fires, and `info.completed` resolves as if the answer were delivered. A write to a
 * closed connection does fail, though, and then Deno cancels the response body: so the last byte
 * of such an answer is held back briefly, and a client that is gone shows itself in that time.
 *
 * @module
 */

/**
 * How long the last byte is held: far more than a round trip to a proxy in front or a client
 * nearby, little beside the seconds a generation takes. A client farther away than that may go
 * unnoticed (its answer then counts as delivered).
 */
export const HOLD_MS = 100;

/**
 * Answers ready sooner than this are not held: clients give up after seconds (SDK and proxy
 * timeouts), so an answer that quick finds its client there, and the bench's one-second upstream
 * keeps its figures.
 */
export const HOLD_AFTER_MS = 1500;

/**
 * How long to hold an answer ready `elapsedMs` after its request arrived: only for requests with
 * a body (whose client's leaving Deno may not report), served by Deno, and slow enough.
 */
export function holdMs(request: Request, servedByDeno: boolean, elapsedMs: number): number {
  const hasBody = request.body !== null && request.headers.get("content-length") !== "0";
  return servedByDeno && hasBody && elapsedMs >= HOLD_AFTER_MS ? HOLD_MS : 0;
}

/** A JSON answer whose last byte goes out after `ms`, and whether it was delivered. */
export function heldJson(
  body: unknown,
  init: { status?: number; headers?: Record<string, string> },
  ms: number,
): { response: Response; delivered: Promise<boolean> } {
  const bytes = new TextEncoder().encode(JSON.stringify(body));
  const delivered = Promise.withResolvers<boolean>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes.subarray(0, bytes.length - 1));
      timer = setTimeout(() => {
        try {
          controller.enqueue(bytes.subarray(bytes.length - 1));
          controller.close();
          delivered.resolve(true);
        } catch {
          delivered.resolve(false);
        }
      }, ms);
    },
    cancel() {
      clearTimeout(timer);
      delivered.resolve(false);
    },
  });
  const headers = {
    ...init.headers,
    "content-type": "application/json",
    "content-length": String(bytes.length),
  };
  return {
    response: new Response(stream, { status: init.status, headers }),
    delivered: delivered.promise,
  };
}
