/**
 * The generations this instance is running, by client and fingerprint. A retry travels on a new
 * connection and can reach the gateway a few milliseconds before the gateway has noticed that the
 * first try's client left; a request that finds an identical job whose upstream call is out
 * therefore gives that job a moment to be seen abandoned, and then takes its answer instead of
 * paying again. Requests whose identical jobs keep their clients stay independent.
 *
 * @module
 */
/**
 * One job: since when its upstream call is out (or it hands over a kept answer), its client's
 * leaving, and a promise settled once its answer is kept (for the client's retry) or lost.
 */
export interface LocalJob {
  /** `performance.now()` when its first call went out; `undefined` while none has. */
  outSince: () => number | undefined;
  departed: AbortSignal;
  over: Promise<void>;
}

/**
 * How long a request waits for an identical job's client to be seen leaving: far more than the
 * milliseconds Deno takes to notice a closed connection, little beside a generation's seconds.
 */
export const NOTICE_GRACE_MS = 150;

/**
 * A job whose call went out less than this before is not waited for: identical requests sent at
 * once (the AI SDK splits a large `n` into parallel calls) arrive together, while a retry comes
 * after its first try's client gave up, a round trip and more later.
 */
export const RETRY_AFTER_AT_LEAST_MS = 50;

export class LocalJobs {
  readonly #jobs = new Map<string, Set<LocalJob>>();

  /** Registers a job; the returned function removes it. */
  add(key: string, job: LocalJob): () => void {
    const jobs = this.#jobs.get(key) ?? new Set();
    jobs.add(job);
    this.#jobs.set(key, jobs);
    return () => {
      jobs.delete(job);
      if (jobs.size === 0 && this.#jobs.get(key) === jobs) this.#jobs.delete(key);
    };
  }

  /**
   * An identical job whose call is out and whose client has left, waiting up to `graceMs` for
   * one to be seen leaving; `undefined` when none is (the request is independent).
   */
  async abandoned(key: string, graceMs = NOTICE_GRACE_MS): Promise<LocalJob | undefined> {
    const now = performance.now();
    const sent = [...(this.#jobs.get(key) ?? [])].filter((job) => {
      const since = job.outSince();
      return since !== undefined && now - since >= RETRY_AFTER_AT_LEAST_MS;
    });
    if (sent.length === 0) return undefined;
    const left = () => sent.find((job) => job.departed.aborted);
    if (left()) return left();
    const any = AbortSignal.any(sent.map((job) => job.departed));
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        any.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, graceMs);
      any.addEventListener("abort", done, { once: true });
    });
    return left();
  }
}

/** Each gateway's own running jobs (tests build many gateways in one process), by its services. */
const registries = new WeakMap<object, LocalJobs>();

export function localJobsOf(owner: object): LocalJobs {
  let jobs = registries.get(owner);
  if (!jobs) registries.set(owner, jobs = new LocalJobs());
  return jobs;
}

/** Waits for `promise`, or `ms` at most, or until `signal` aborts. */
export async function waitAtMost(
  promise: Promise<void>,
  ms: number,
  signal?: AbortSignal,
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stop: (() => void) | undefined;
  const bound = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    stop = () => resolve();
    signal?.addEventListener("abort", stop, { once: true });
  });
  await Promise.race([promise, bound]);
  clearTimeout(timer);
  if (stop) signal?.removeEventListener("abort", stop);
}
