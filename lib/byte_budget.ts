/**
 * A budget of bytes held at once, shared by everything one gateway instance runs: request bodies
 * reserve their bytes here before they are read (`REQUEST_BYTES_BUDGET`), so that many large
 * uploads at once are refused with a 503 instead of growing memory until the process dies.
 *
 * @module
 */

/** Bytes taken and given back; never more than `limit` are out at once. */
export class ByteBudget {
  #held = 0;

  /** @param limit the most bytes that may be held at once */
  constructor(readonly limit: number) {}

  /** Bytes held now. */
  get held(): number {
    return this.#held;
  }

  /** Takes `bytes` if they fit under the limit, and says whether it did; nothing is taken if not. */
  take(bytes: number): boolean {
    if (bytes < 0 || this.#held + bytes > this.limit) return false;
    this.#held += bytes;
    return true;
  }

  /** Gives back bytes taken before. */
  give(bytes: number): void {
    this.#held = Math.max(0, this.#held - bytes);
  }
}
