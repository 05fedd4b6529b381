/**
 * `Idempotency-Key`, as Stripe defines it: the first request with a key owns it; later and
 * concurrent ones with the same parameters get its answer (waiting while it runs), and the key
 * with other parameters is a conflict. An answer that failed is kept only if it may have been
 * billed; otherwise the key is freed for another try.
 *
 * @module
 */
import { ConflictError, GatewayError } from "../errors.ts";
import { type AnswerRecord, errorFromRecord, recordError } from "../storage/answer_records.ts";
import type { KeyedAnswers, OwnedKey } from "../storage/keyed_answers.ts";

/** Response header of an answer repeated for its idempotency key. */
export const REPLAYED_HEADER = "idempotent-replayed";

/** What a request with a key does: repeat the key's answer, wait for its owner, or own it. */
export type KeyDecision =
  | { kind: "replay"; record: AnswerRecord }
  | { kind: "wait" }
  | { kind: "owner"; token: string };

/**
 * Claims `keyHash` for a request with `fingerprint`.
 *
 * @throws {ConflictError} for the key used with other parameters
 * @throws {GatewayError} the key's kept error answer, repeated
 */
export async function claimKey(
  keyed: KeyedAnswers,
  client: string,
  keyHash: string,
  fingerprint: string,
  leaseMs: number,
): Promise<KeyDecision> {
  const claim = await keyed.claim(client, keyHash, fingerprint, Date.now() + leaseMs);
  switch (claim.kind) {
    case "conflict":
      throw new ConflictError(
        "This Idempotency-Key was used with other parameters; use a new key for a new request",
        { param: "Idempotency-Key", code: "idempotency_key_reused" },
      );
    case "failed":
      throw errorFromRecord(claim.error, { [REPLAYED_HEADER]: "true" });
    case "done":
      return { kind: "replay", record: claim.record };
    case "running":
      return { kind: "wait" };
    case "owner":
      return { kind: "owner", token: claim.token };
  }
}

/**
 * After the owner's failure: an error that may have been billed (a call was sent, and the error
 * says not to retry, or is unknown) is kept and repeated; any other frees the key. So does the end
 * of the shutdown grace: that failure is the gateway's, and a retry should be served.
 */
export async function settleFailedKey(
  keyed: KeyedAnswers,
  owned: OwnedKey,
  err: unknown,
  { sent, shuttingDown }: { sent: boolean; shuttingDown: boolean },
): Promise<void> {
  const billed = sent && !shuttingDown &&
    (!(err instanceof GatewayError) || err.headers["x-should-retry"] === "false");
  if (!billed) await keyed.release(owned);
  else await keyed.finish(owned, { state: "failed", error: recordError(err) });
}
