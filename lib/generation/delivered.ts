/**
 * Whether an answer reached its client, told to its delivery (`delivery.ts`) once known: not when
 * the client had left; otherwise when Deno finished writing it (`info.completed`, through Hono's
 * `c.env`), or failed to. Without that promise (a test calling the app in process) an answer
 * handed over counts as delivered.
 *
 * @module
 */
import { heldJson, holdMs } from "../openai/held_answer.ts";
import { currentRequest, trackWork } from "../observability/request_context.ts";
import type { Delivery } from "./delivery.ts";

/** A write Deno has not finished in this time is taken as delivered (the client is reading). */
const WRITE_BOUND_MS = 120_000;

/** Deno's `info.completed` for a request served by `Deno.serve` (Hono's `c.env`), if any. */
export function completionOf(env: unknown): Promise<void> | undefined {
  const completed = (env as { completed?: unknown } | undefined)?.completed;
  return completed instanceof Promise ? completed : undefined;
}

/**
 * Settles `delivery`: at once when the client `left`; else once `completed` settles (bounded).
 * Never throws: a failure is logged.
 */
export async function settleDelivery(
  delivery: Delivery,
  { left, completed, log }: {
    left: boolean;
    completed: Promise<void> | undefined;
    log: { warn(line: string): void };
  },
): Promise<void> {
  const fail = (err: unknown) =>
    log.warn(`cannot record the delivery: ${err instanceof Error ? err.message : err}`);
  if (left || !completed) return await delivery.settle(!left).catch(fail);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const unknown = new Promise<void>((resolve) => (timer = setTimeout(resolve, WRITE_BOUND_MS)));
  await Promise.race([completed, unknown]).then(
    () => delivery.settle(true),
    () => delivery.settle(false),
  ).catch(fail).finally(() => clearTimeout(timer));
}

/**
 * Settles a non-streamed answer's delivery as part of its request (the access line then says
 * whether it was delivered), without holding the answer back.
 */
export function settleAfterAnswer(
  delivery: Delivery,
  request: Request,
  completed: Promise<void> | undefined,
  log: { warn(line: string): void },
): void {
  trackWork(settleDelivery(delivery, { left: request.signal.aborted, completed, log }));
}

/**
 * How long an answer ready now holds its end so that a client gone shows itself (see
 * `openai/held_answer.ts`); 0 for one that needs no holding.
 */
export function holdFor(request: Request, completed: Promise<void> | undefined): number {
  const started = currentRequest()?.started;
  const elapsed = started === undefined ? 0 : performance.now() - started;
  return holdMs(request, completed !== undefined, elapsed);
}

/**
 * The JSON answer of a delivery, settled once it is known to have reached its client: by the
 * request's signal, or, where Deno cannot tell (see `openai/held_answer.ts`), by holding its last
 * byte. Headers a value of which cannot be set are left out rather than failing the answer.
 */
export function deliverJson(
  delivery: Delivery,
  body: unknown,
  headers: Record<string, string>,
  { request, completed, log }: {
    request: Request;
    completed: Promise<void> | undefined;
    log: { warn(line: string): void; error(line: string, err?: unknown): void };
  },
): Response {
  const hold = holdFor(request, completed);
  if (hold > 0 && !request.signal.aborted) {
    const held = heldJson(body, { headers: safeHeaders(headers, log) }, hold);
    trackWork(
      held.delivered.then((ok) => delivery.settle(ok)).catch((err) =>
        log.warn(`cannot record the delivery: ${err instanceof Error ? err.message : err}`)
      ),
    );
    return held.response;
  }
  settleAfterAnswer(delivery, request, completed, log);
  return Response.json(body, { headers: safeHeaders(headers, log) });
}

/** The headers a `Headers` object takes; any other is logged and left out. */
function safeHeaders(
  headers: Record<string, string>,
  log: { error(line: string, err?: unknown): void },
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    try {
      new Headers({ [name]: value });
      out[name] = value;
    } catch (err) {
      log.error(`cannot set header ${name}; answering without it:`, err);
    }
  }
  return out;
}
