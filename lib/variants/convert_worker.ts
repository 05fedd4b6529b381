/**
 * The Web Worker `worker_pool.ts` starts for one conversion: it runs it (`convert.ts`) with the
 * codecs earlier workers compiled, and answers with the output's buffer transferred, not copied,
 * and the codecs it has compiled, for the next worker. A refusal is
 * answered with its status, code and message, since an error's class does not cross
 * `postMessage`.
 *
 * @module
 */
import { GatewayError } from "../errors.ts";
import { adoptCompiled, type CompiledCodecs, compiledCodecs } from "./codecs.ts";
import { type ConversionJob, convert } from "./convert.ts";

/** A job as the pool sends it. */
export interface WorkerRequest {
  id: number;
  input: ArrayBuffer;
  job: ConversionJob;
  /** The codecs earlier workers compiled. */
  modules: CompiledCodecs;
}

/** The worker's answer to one {@link WorkerRequest}. */
export type WorkerReply =
  & { id: number; modules: CompiledCodecs; compilations: number }
  & (
    | { ok: true; bytes: ArrayBuffer; width: number; height: number }
    | {
      ok: false;
      status: number;
      code: string | null;
      param: string | null;
      message: string;
    }
  );

// `self` is the worker's global scope; typed here as the little of it this module uses.
const scope = self as unknown as {
  onmessage: ((event: MessageEvent<WorkerRequest>) => void) | null;
  postMessage(message: WorkerReply, transfer?: Transferable[]): void;
};

scope.onmessage = async ({ data: { id, input, job, modules } }) => {
  adoptCompiled(modules);
  try {
    const out = await convert(input, job);
    scope.postMessage({ id, ...compiledCodecs(), ok: true, ...out }, [out.bytes]);
  } catch (err) {
    const known = err instanceof GatewayError;
    scope.postMessage({
      id,
      ...compiledCodecs(),
      ok: false,
      status: known ? err.status : 500,
      code: known ? err.code : "conversion_failed",
      param: known ? err.param : null,
      // A codec's own message (e.g. "Encoding error.") says nothing useful to a client.
      message: known ? err.message : `the image could not be converted: ${String(err)}`,
    });
  }
};
