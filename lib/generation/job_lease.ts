/**
 * The lease a running job holds on its KV record (a redelivery marker, an idempotency key): written
 * now and renewed every third of its length, one write after another, so that stopping it and
 * awaiting {@link JobLease.stop} guarantees no renewal lands after the record's next state.
 *
 * @module
 */

/** How long a running job's lease lasts; a job whose instance died stops being waited for then. */
export const JOB_LEASE_MS = 60_000;

export class JobLease {
  readonly #write: (until: number) => Promise<unknown>;
  readonly #onError: (err: unknown) => void;
  #timer: ReturnType<typeof setInterval> | undefined;
  #chain: Promise<void> = Promise.resolve();
  #stopped = false;

  /** @param write writes the record as running until the given time */
  constructor(write: (until: number) => Promise<unknown>, onError: (err: unknown) => void) {
    this.#write = write;
    this.#onError = onError;
  }

  /**
   * Renews the lease until stopped, writing it now too unless it was just written (a claim);
   * settles once the first write has.
   */
  start({ now = true }: { now?: boolean } = {}): Promise<void> {
    this.#timer = setInterval(() => this.#renew(), JOB_LEASE_MS / 3);
    return now ? this.#renew() : Promise.resolve();
  }

  /** Stops renewing; settles once no renewal is in flight. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#chain;
  }

  #renew(): Promise<void> {
    this.#chain = this.#chain.then(async () => {
      if (this.#stopped) return;
      await this.#write(Date.now() + JOB_LEASE_MS).catch(this.#onError);
    });
    return this.#chain;
  }
}
