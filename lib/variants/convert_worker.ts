/**
 * The Web Worker `worker_pool.ts` starts for one conversion: it runs it (`convert_job.ts`) with the
 * codecs earlier workers compiled, and answers with the output's buffer transferred, not copied,
 * and the codecs it has compiled, for the next worker.
 *
 * @module
 */
import { runJob, type WorkerReply, type WorkerRequest } from "./convert_job.ts";

// `self` is the worker's global scope; typed here as the little of it this module uses.
const scope = self as unknown as {
  onmessage: ((event: MessageEvent<WorkerRequest>) => void) | null;
  postMessage(message: WorkerReply, transfer?: Transferable[]): void;
};

scope.onmessage = async ({ data }) => {
  const reply = await runJob(data);
  scope.postMessage(reply, reply.ok ? [reply.bytes] : []);
};
