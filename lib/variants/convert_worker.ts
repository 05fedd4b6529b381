/**
 * The Web Worker `worker_pool.ts` starts: it takes one conversion at a time, runs it
 * (`convert.ts`) and answers with the output's buffer transferred, not copied. A refusal is
 * answered with its status, code and message, since an error's class does not cross
 * `postMessage`.
 *
 * @module
 */
import { GatewayError } from "../errors.ts";
import { type ConversionJob, convert } from "./convert.ts";

/** A job as the pool sends it. */
export interface WorkerRequest {
  id: number;
  input: ArrayBuffer;
  job: ConversionJob;
}

/** The worker's answer to one {@link WorkerRequest}. */
export type WorkerReply =
  | { id: number; ok: true; bytes: ArrayBuffer; width: number; height: number }
  | {
    id: number;
    ok: false;
    status: number;
    code: string | null;
    param: string | null;
    message: string;
  };

// `self` is the worker's global scope; typed here as the little of it this module uses.
const scope = self as unknown as {
  onmessage: ((event: MessageEvent<WorkerRequest>) => void) | null;
  postMessage(message: WorkerReply, transfer?: Transferable[]): void;
};

scope.onmessage = async ({ data: { id, input, job } }) => {
  try {
    const out = await convert(input, job);
    scope.postMessage({ id, ok: true, ...out }, [out.bytes]);
  } catch (err) {
    const known = err instanceof GatewayError;
    scope.postMessage({
      id,
      ok: false,
      status: known ? err.status : 500,
      code: known ? err.code : "conversion_failed",
      param: known ? err.param : null,
      // A codec's own message (e.g. "Encoding error.") says nothing useful to a client.
      message: known ? err.message : `the image could not be converted: ${String(err)}`,
    });
  }
};
