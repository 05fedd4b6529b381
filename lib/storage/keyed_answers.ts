/**
 * The KV side of `Idempotency-Key`: one answer per client and key, for 24 h.
 *
 * ```
 * ["idempotency", client, keyHash] -> KeyedAnswer   running (owned, leased), then done or failed
 * ```
 *
 * The first request owns the key under a token; only that owner renews its lease, and only it
 * writes the key's answer or frees the key, so an owner that was taken over (its lease ran out
 * while its instance stalled) can never overwrite its successor's state.
 *
 * @module
 */
import { type AnswerRecord, boundedRecord, type RecordedError } from "./answer_records.ts";
import { backOff, commitOrLose } from "./kv_busy.ts";

/** How long a claim or an owner's write keeps trying against other writers. */
const WRITE_BUDGET_MS = 3000;

export type KeyedAnswer =
  | { fingerprint: string; state: "running"; until: number; owner: string }
  | { fingerprint: string; state: "done"; record: AnswerRecord }
  | { fingerprint: string; state: "failed"; error: RecordedError };

/** What claiming an idempotency key found. */
export type KeyClaim =
  | { kind: "owner"; token: string }
  | { kind: "running"; until: number }
  | { kind: "done"; record: AnswerRecord }
  | { kind: "failed"; error: RecordedError }
  | { kind: "conflict" };

/** How long an `Idempotency-Key` is remembered (Stripe's figure, which clients expect). */
export const IDEMPOTENCY_TTL_MS = 24 * 3600_000;

const keyedKey = (client: string, keyHash: string): Deno.KvKey => ["idempotency", client, keyHash];

/** One client's key, as its owner holds it. */
export interface OwnedKey {
  client: string;
  keyHash: string;
  token: string;
}

export class KeyedAnswers {
  readonly #kv: Deno.Kv;

  constructor(kv: Deno.Kv) {
    this.#kv = kv;
  }

  /**
   * Claims the key for a request with this fingerprint: the first request owns it (and must
   * finish or release it); later ones find its state. A running claim past its lease is taken
   * over (its instance died).
   */
  async claim(
    client: string,
    keyHash: string,
    fingerprint: string,
    until: number,
    now = Date.now(),
  ): Promise<KeyClaim> {
    const token = crypto.randomUUID();
    // Lost every race: someone else holds it now.
    const lost: KeyClaim = { kind: "running", until: now };
    return await this.#update<KeyClaim>(keyedKey(client, keyHash), lost, (found) => {
      if (found && found.fingerprint !== fingerprint) return { answer: { kind: "conflict" } };
      if (found?.state === "done") return { answer: { kind: "done", record: found.record } };
      if (found?.state === "failed") return { answer: { kind: "failed", error: found.error } };
      if (found?.state === "running" && found.until > now) {
        return { answer: { kind: "running", until: found.until } };
      }
      const value: KeyedAnswer = { fingerprint, state: "running", until, owner: token };
      return { write: value, answer: { kind: "owner", token } };
    });
  }

  /** Renews the owner's lease; `false` when the key is no longer its own. */
  async renew(owned: OwnedKey, until: number): Promise<boolean> {
    return await this.#asOwner(owned, (entry) => ({ ...entry, until }));
  }

  /** Keeps the key's answer: its record, or an error that may have been billed. */
  async finish(
    owned: OwnedKey,
    value: { state: "done"; record: AnswerRecord } | { state: "failed"; error: RecordedError },
  ): Promise<boolean> {
    const kept = value.state === "done"
      ? { state: value.state, record: boundedRecord(value.record) }
      : value;
    return await this.#asOwner(owned, (entry) => ({ fingerprint: entry.fingerprint, ...kept }));
  }

  /** Frees the key: nothing was sent upstream, so the same key may try again. */
  async release(owned: OwnedKey): Promise<boolean> {
    return await this.#asOwner(owned, () => null);
  }

  /** Writes `next(running)` (or deletes, for `null`) only while `owned` still owns the key. */
  #asOwner(
    { client, keyHash, token }: OwnedKey,
    next: (running: KeyedAnswer & { state: "running" }) => KeyedAnswer | null,
  ): Promise<boolean> {
    return this.#update(
      keyedKey(client, keyHash),
      false,
      (value) =>
        value?.state !== "running" || value.owner !== token
          ? { answer: false }
          : { write: next(value), answer: true },
    );
  }

  /**
   * Reads `key`, lets `decide` answer from its value or ask for a write (`null` deletes), and
   * commits that write only if the value is still the one read: again after a lost commit or a
   * busy file, until one lands or the budget is spent (then `outOfTime`).
   */
  async #update<T>(
    key: Deno.KvKey,
    outOfTime: T,
    decide: (value: KeyedAnswer | null) => { answer: T; write?: KeyedAnswer | null },
  ): Promise<T> {
    const deadline = performance.now() + WRITE_BUDGET_MS;
    for (let attempt = 0; performance.now() < deadline; attempt++) {
      if (attempt > 0) await backOff(attempt);
      const entry = await this.#kv.get<KeyedAnswer>(key);
      const { answer, write } = decide(entry.value);
      if (write === undefined) return answer;
      const op = this.#kv.atomic().check(entry);
      if (write === null) op.delete(key);
      else op.set(key, write, { expireIn: IDEMPOTENCY_TTL_MS });
      if (await commitOrLose(op)) return answer;
    }
    return outOfTime;
  }
}
