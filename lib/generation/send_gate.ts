/**
 * The moment an upstream call goes out. Before it, a client that left cancels the call (nothing
 * is billed); after it, the call is billed, so its work must finish and its images reach the
 * client, now or on its retry (`delivery.ts`).
 *
 * @module
 */
import { ClientClosedError, UpstreamError } from "../errors.ts";

/** Guards the upstream calls of one request. */
export class SendGate {
  readonly departed: AbortSignal;
  readonly #shutdown: AbortSignal | undefined;
  #sent = false;
  #sentAt: number | undefined;
  #onLeft: (() => void) | undefined;

  /** @param shutdown aborts when the gateway's shutdown grace is over: no call goes out then */
  constructor(departed: AbortSignal, shutdown?: AbortSignal) {
    this.departed = departed;
    this.#shutdown = shutdown;
    departed.addEventListener("abort", () => this.#sent && this.#onLeft?.(), { once: true });
  }

  get sent(): boolean {
    return this.#sent;
  }

  /** `performance.now()` when the first call went out; `undefined` while none has. */
  get sentAt(): number | undefined {
    return this.#sentAt;
  }

  /**
   * @throws {ClientClosedError} when the client has left: the call is not made
   * @throws {UpstreamError} 503 once the shutdown grace is over (nothing billed: retry elsewhere)
   */
  beforeSend(): void {
    if (this.departed.aborted) {
      throw new ClientClosedError("The client left before its upstream call was sent");
    }
    if (this.#shutdown?.aborted) {
      throw new UpstreamError(503, "The gateway is shutting down; try again in a moment", {
        code: "gateway_shutting_down",
        headers: { "retry-after": "5" },
      });
    }
    this.#sentAt ??= performance.now();
    this.#sent = true;
  }

  /** Runs `fn` once if the client leaves after a call was sent. */
  whenLeftAfterSend(fn: () => void): void {
    this.#onLeft = fn;
    if (this.#sent && this.departed.aborted) fn();
  }
}

/** A gate for work that no client can leave (tests, the load script's own calls). */
export const OPEN_GATE: SendGate = new SendGate(new AbortController().signal);
