/**
 * A stand-in for a conversion Web Worker that runs its job on the pool's own thread, for where
 * `new Worker` fails: Web Workers are unverified on Deno Deploy. Correct, only slower, and while a
 * conversion runs it holds the event loop, so the pool runs one at a time in this mode. The job's
 * module (and its codecs' WebAssembly) is imported only when the first such job runs.
 *
 * @module
 */
import type { WorkerReply, WorkerRequest } from "./convert_job.ts";

/** The part of `Worker` the pool uses. */
export interface WorkerLike {
  onmessage: ((event: MessageEvent<WorkerReply>) => void) | null;
  onerror: ((event: ErrorEvent) => void) | null;
  onmessageerror: ((event: MessageEvent) => void) | null;
  postMessage(message: WorkerRequest, transfer: Transferable[]): void;
  terminate(): void;
}

/** Runs each posted job here and answers through `onmessage`, unless terminated meanwhile. */
export class InlineWorker implements WorkerLike {
  onmessage: ((event: MessageEvent<WorkerReply>) => void) | null = null;
  onerror: ((event: ErrorEvent) => void) | null = null;
  onmessageerror: ((event: MessageEvent) => void) | null = null;
  #terminated = false;

  postMessage(message: WorkerRequest): void {
    import("./convert_job.ts")
      .then(({ runJob }) => runJob(message))
      .then((reply) => {
        if (!this.#terminated) this.onmessage?.(new MessageEvent("message", { data: reply }));
      }, (err) => {
        if (!this.#terminated) this.onerror?.(new ErrorEvent("error", { message: String(err) }));
      });
  }

  /** A running conversion cannot be interrupted here; its answer is dropped. */
  terminate(): void {
    this.#terminated = true;
  }
}
