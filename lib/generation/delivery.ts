/**
 * A paid image reaches its owner, and is paid for once. Every generation runs through a
 * {@link DeliverySession}:
 * - **A client that leaves** before an upstream call is sent cancels it (`send_gate.ts`); once a
 *   call is sent it is billed: the work goes on and its answer is kept for the client.
 * - **The retry gets the undelivered result** (`redelivery.ts`): the client's next request with
 *   the same endpoint and parameters (`request_identity.ts`) within `REDELIVER_WINDOW_SECONDS`
 *   takes the kept answer with no upstream call, or waits for the abandoned job still running. A
 *   delivered answer is never handed out again; requests whose clients all stay are independent
 *   (the AI SDK sends a large `n` as parallel identical requests, each wanting its own images).
 * - **`Idempotency-Key`** (`idempotency.ts`): one answer per client and key for 24 h.
 * The per-client limits are taken only for work that calls upstream, and held until it ends.
 *
 * @module
 */
import { ClientClosedError, shuttingDown } from "../errors.ts";
import { noteRequest } from "../observability/request_context.ts";
import type { GatewayServices } from "../services.ts";
import type { AnswerRecord } from "../storage/answer_records.ts";
import type { Admission } from "../storage/client_limits.ts";
import { KeyedAnswers, type OwnedKey } from "../storage/keyed_answers.ts";
import { claimKey, settleFailedKey } from "./idempotency.ts";
import { JOB_LEASE_MS, JobLease } from "./job_lease.ts";
import type { LocalJob } from "./local_jobs.ts";
import { waitAtMost } from "./local_jobs.ts";
import { Redelivery } from "./redelivery.ts";
import { sha256 } from "./request_identity.ts";
import { SendGate } from "./send_gate.ts";

export { SendGate } from "./send_gate.ts";
import { REPLAYED_HEADER } from "./idempotency.ts";
export { REPLAYED_HEADER };

/** Response header of a kept answer redelivered. */
export const REDELIVERED_HEADER = "x-redelivered";

/** The headers that say an answer was given again: redelivered, or replayed for its key. */
export function deliveryHeaders(delivery: Pick<Delivery, "source">): Record<string, string> {
  if (delivery.source === "redelivered") return { [REDELIVERED_HEADER]: "true" };
  if (delivery.source === "replayed") return { [REPLAYED_HEADER]: "true" };
  return {};
}

/** How often a request waiting for another's job looks at KV. */
const POLL_MS = 200;

/** What identifies a request for redelivery and idempotency. */
export interface DeliveryTicket {
  /** Who asks: a hash of the bearer token. */
  client: string;
  /** The endpoint and parameters, hashed (`fingerprint()`). */
  fingerprint: string;
  /** `Idempotency-Key` as sent (`idempotencyKeyOf()`). */
  idempotencyKey?: string;
  /** Images asked for, for the per-client limits. */
  images: number;
}

/** What a generation produced: its record, and the bytes the answer kept, in the same order. */
export interface Produced {
  record: AnswerRecord;
  bytes?: (Uint8Array | undefined)[];
}

export interface Delivery extends Produced {
  source: "produced" | "redelivered" | "replayed";
  /**
   * Says whether the answer reached its client; one that did not is kept for redelivery. Must be
   * called once for every delivery (`delivered.ts`).
   */
  settle(delivered: boolean): Promise<void>;
}

type State =
  | { kind: "produce"; admission: Admission; owned?: OwnedKey }
  | { kind: "replay"; record: AnswerRecord; source: "redelivered" | "replayed" }
  | { kind: "wait-key"; keyHash: string }
  | { kind: "wait-job"; local?: LocalJob };

/**
 * One request's way to its answer. {@link open} decides, before any stream starts (so that a
 * refusal is a plain HTTP error): replay a kept answer, wait for another request's job, or
 * produce (the per-client limits admitted). {@link run} then does it, and must be called.
 */
export class DeliverySession {
  readonly #services: GatewayServices;
  readonly #ticket: DeliveryTicket;
  readonly #redelivery: Redelivery;
  readonly #keyed: KeyedAnswers;
  #state: State = { kind: "wait-job" };

  private constructor(services: GatewayServices, ticket: DeliveryTicket) {
    this.#services = services;
    this.#ticket = ticket;
    this.#redelivery = new Redelivery(services, ticket.client, ticket.fingerprint);
    this.#keyed = new KeyedAnswers(services.kv);
  }

  static async open(services: GatewayServices, ticket: DeliveryTicket): Promise<DeliverySession> {
    const session = new DeliverySession(services, ticket);
    session.#state = await session.#decide();
    return session;
  }

  async #decide(): Promise<State> {
    const { client, fingerprint, idempotencyKey } = this.#ticket;
    if (idempotencyKey !== undefined) {
      const keyHash = sha256(idempotencyKey);
      const claim = await claimKey(this.#keyed, client, keyHash, fingerprint, JOB_LEASE_MS);
      if (claim.kind === "replay") return { ...claim, source: "replayed" };
      if (claim.kind === "wait") return { kind: "wait-key", keyHash };
      const owned = { client, keyHash, token: claim.token };
      try {
        return { kind: "produce", admission: await this.#admit(), owned };
      } catch (err) {
        await this.#keyed.release(owned);
        throw err;
      }
    }
    if (this.#redelivery.enabled) {
      const found = await this.#redelivery.take();
      if (found === "running") return { kind: "wait-job" };
      if (found) return { kind: "replay", record: found, source: "redelivered" };
      const local = await this.#redelivery.abandonedHere();
      if (local) return { kind: "wait-job", local };
    }
    return { kind: "produce", admission: await this.#admit() };
  }

  /**
   * The headers saying the answer will be given again, when that is known at once (a stream's
   * headers go out before its answer is ready).
   */
  get knownHeaders(): Record<string, string> {
    const state = this.#state;
    return state.kind === "replay" ? deliveryHeaders({ source: state.source }) : {};
  }

  #admit(): Promise<Admission> {
    return this.#services.limits.admit(this.#ticket.client, this.#ticket.images);
  }

  /**
   * Gets the answer: a kept one, another request's once it is ready, or a new one from `produce`
   * (which must call `gate.beforeSend()` right before each upstream call).
   */
  async run(
    produce: (gate: SendGate) => Promise<Produced>,
    departed: AbortSignal,
  ): Promise<Delivery> {
    const shutdown = this.#services.shutdown.signal;
    const waitUntil = async (look: () => Promise<State | undefined>) => {
      for (;;) {
        // Checked first: a client gone must not take (and so hide) an answer from its retry.
        if (departed.aborted) {
          throw new ClientClosedError("The client left while its answer was being made");
        }
        if (shutdown.aborted) throw shuttingDown();
        const next = await look();
        if (next) return next;
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    };
    if (this.#state.kind === "wait-key") {
      // Done, failed or (its lease over) ours to make: whatever the key's owner left.
      this.#state = await waitUntil(async () => {
        const state = await this.#decide();
        return state.kind === "wait-key" ? undefined : state;
      });
    } else if (this.#state.kind === "wait-job") {
      // A job of this instance seen abandoned: its answer is kept when it ends.
      const local = this.#state.local;
      // The wait ends early when this client leaves or the gateway shuts down (checked below).
      if (local) {
        await waitAtMost(
          local.over,
          this.#services.config.upstreamTimeoutMs,
          AbortSignal.any([departed, shutdown]),
        );
      }
      this.#state = await waitUntil(async () => {
        const found = await this.#redelivery.take();
        if (found === "running") return undefined;
        if (found) return { kind: "replay", record: found, source: "redelivered" };
        // The job ended without an answer to hand over: make a new one.
        return { kind: "produce", admission: await this.#admit() };
      });
    }
    const state = this.#state;
    if (state.kind === "replay") return this.#replay(state, departed);
    if (state.kind !== "produce") throw new Error(`unexpected delivery state ${state.kind}`);
    return await this.#produce(state, produce, departed);
  }

  #replay(state: State & { kind: "replay" }, departed: AbortSignal): Delivery {
    noteRequest({ delivery: state.source });
    // Until settled, a retry of this request finds the answer here, as it would a running job.
    const listedAt = performance.now();
    const unlist = state.source === "redelivered"
      ? this.#redelivery.list({ outSince: () => listedAt, departed })
      : () => {};
    return {
      record: state.record,
      source: state.source,
      settle: async (delivered) => {
        try {
          // Redelivered and not delivered again: kept again for the next try.
          if (!delivered) await this.#undelivered(crypto.randomUUID(), state.record);
        } finally {
          unlist();
        }
      },
    };
  }

  async #produce(
    state: State & { kind: "produce" },
    produce: (gate: SendGate) => Promise<Produced>,
    departed: AbortSignal,
  ): Promise<Delivery> {
    const gate = new SendGate(departed, this.#services.shutdown.signal);
    const job = crypto.randomUUID();
    const { owned } = state;
    const logKv = (err: unknown) => this.#logKv(err);
    // Until settled, a client that leaves after a call went out makes identical requests wait.
    let settled = false;
    let marker: JobLease | undefined;
    const key = owned && new JobLease((until) => this.#keyed.renew(owned, until), logKv);
    await key?.start({ now: false });
    const end = owned ? () => {} : this.#redelivery.list({ outSince: () => gate.sentAt, departed });
    if (!owned && this.#redelivery.enabled) {
      gate.whenLeftAfterSend(() => {
        if (settled) return;
        marker = new JobLease((until) => this.#redelivery.running(job, until), logKv);
        void marker.start();
      });
    }
    let produced: Produced;
    try {
      produced = await produce(gate);
    } catch (err) {
      settled = true;
      await Promise.all([key?.stop(), marker?.stop()]);
      if (owned) {
        const how = { sent: gate.sent, shuttingDown: this.#services.shutdown.signal.aborted };
        await settleFailedKey(this.#keyed, owned, err, how).catch(logKv);
      } else if (marker) await this.#redelivery.drop(job).catch(logKv);
      end();
      throw err;
    } finally {
      await state.admission.release();
    }
    if (owned) {
      await key!.stop();
      const kept = await this.#keyed.finish(owned, { state: "done", record: produced.record })
        .catch(logKv);
      if (kept === false) this.#services.log.warn("idempotency key taken over; answer not kept");
    }
    return {
      ...produced,
      source: "produced",
      settle: async (delivered) => {
        if (settled) return;
        settled = true;
        try {
          await marker?.stop();
          // The kept answer takes the running marker's place (the same key).
          if (!delivered) await this.#undelivered(job, produced.record);
          else if (marker) await this.#redelivery.drop(job).catch(logKv);
        } finally {
          end();
        }
      },
    };
  }

  /** Notes an answer that did not reach its client and keeps it for the retry (without a key). */
  async #undelivered(job: string, record: AnswerRecord): Promise<void> {
    noteRequest({ delivery: "undelivered" });
    if (this.#ticket.idempotencyKey !== undefined || !this.#redelivery.enabled) return;
    await this.#redelivery.keep(job, record).catch((err) => this.#logKv(err));
  }

  #logKv(err: unknown): void {
    this.#services.log.warn(
      `delivery record not written: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}
