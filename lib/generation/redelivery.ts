/**
 * Redelivery: the answers of one client's jobs whose client left, by request fingerprint. In KV
 * (`storage/answer_records.ts`), so that a retry reaching another instance finds them, and in this
 * instance's list of running jobs (`local_jobs.ts`), so that a retry arriving before the first
 * try's leaving was noticed still finds it.
 *
 * @module
 */
import type { GatewayServices } from "../services.ts";
import { type AnswerRecord, UndeliveredAnswers } from "../storage/answer_records.ts";
import { type LocalJob, localJobsOf } from "./local_jobs.ts";

export class Redelivery {
  readonly #services: GatewayServices;
  readonly #client: string;
  readonly #fingerprint: string;
  readonly #kept: UndeliveredAnswers;

  constructor(services: GatewayServices, client: string, fingerprint: string) {
    this.#services = services;
    this.#client = client;
    this.#fingerprint = fingerprint;
    this.#kept = new UndeliveredAnswers(services.kv, services.config.redeliverWindowMs);
  }

  /** `REDELIVER_WINDOW_SECONDS` is not 0. */
  get enabled(): boolean {
    return this.#services.config.redeliverWindowMs > 0;
  }

  /** A kept answer from KV, taken for this request alone; `"running"`; or none. */
  async take(): Promise<AnswerRecord | "running" | undefined> {
    const entries = await this.#kept.list(this.#client, this.#fingerprint);
    for (const entry of entries) {
      const record = await this.#kept.claim(entry);
      if (record) return record;
    }
    const now = Date.now();
    return entries.some((e) => e.value.state === "running" && e.value.until > now)
      ? "running"
      : undefined;
  }

  /**
   * An identical job of this instance whose call is out and whose client left, given a moment
   * to be seen leaving (see `local_jobs.ts`); none when its client stays.
   */
  abandonedHere(): Promise<LocalJob | undefined> {
    return localJobsOf(this.#services).abandoned(this.#localKey);
  }

  /** Lists a job of this instance until the returned function is called. */
  list(job: Omit<LocalJob, "over">): () => void {
    const over = Promise.withResolvers<void>();
    const unlist = localJobsOf(this.#services).add(this.#localKey, { ...job, over: over.promise });
    return () => {
      unlist();
      over.resolve();
    };
  }

  /** Marks a job whose client left after its call was sent, until `until` (renew before). */
  running(job: string, until: number): Promise<void> {
    return this.#kept.running(this.#client, this.#fingerprint, job, until);
  }

  /** Keeps an answer its client did not get, for the next identical request. */
  async keep(job: string, record: AnswerRecord): Promise<void> {
    await this.#kept.ready(this.#client, this.#fingerprint, job, record);
  }

  drop(job: string): Promise<void> {
    return this.#kept.drop(this.#client, this.#fingerprint, job);
  }

  get #localKey(): string {
    return `${this.#client}:${this.#fingerprint}`;
  }
}
