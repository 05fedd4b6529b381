/**
 * One conversion job as a worker runs it: the request the pool posts, the reply it gets back, and
 * {@link runJob}, which `convert_worker.ts` runs in a Web Worker and `inline_worker.ts` on the
 * pool's own thread where Web Workers cannot start. A refusal is answered with its status, code
 * and message, since an error's class does not cross `postMessage`.
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

/** The answer to one {@link WorkerRequest}, with the codecs compiled so far for the next worker. */
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

/** Runs one job with the codecs it was given; never throws. */
export async function runJob({ id, input, job, modules }: WorkerRequest): Promise<WorkerReply> {
  adoptCompiled(modules);
  const before = compiledCodecs().compilations;
  // The codecs known now, and how many this job compiled (on the pool's own thread the count
  // runs on across jobs).
  const compiled = () => {
    const now = compiledCodecs();
    return { modules: now.modules, compilations: now.compilations - before };
  };
  try {
    const out = await convert(input, job);
    return { id, ...compiled(), ok: true, ...out };
  } catch (err) {
    const known = err instanceof GatewayError;
    return {
      id,
      ...compiled(),
      ok: false,
      status: known ? err.status : 500,
      code: known ? err.code : "conversion_failed",
      param: known ? err.param : null,
      // A codec's own message (e.g. "Encoding error.") says nothing useful to a client.
      message: known ? err.message : `the image could not be converted: ${String(err)}`,
    };
  }
}
