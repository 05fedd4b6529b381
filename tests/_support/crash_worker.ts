/**
 * A conversion worker with two faults for the pool's tests: quality 13 throws (the worker fails
 * with an uncaught error) and quality 14 never answers (the job times out); any other job is the
 * real worker's.
 *
 * @module
 */
import "../../lib/variants/convert_worker.ts";
import type { WorkerRequest } from "../../lib/variants/convert_job.ts";

const scope = self as unknown as {
  onmessage: ((event: MessageEvent<WorkerRequest>) => void) | null;
};
const real = scope.onmessage!;

scope.onmessage = (event) => {
  if (event.data.job.quality === 13) throw new Error("the worker crashed on purpose");
  if (event.data.job.quality === 14) return;
  real(event);
};
