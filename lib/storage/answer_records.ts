/**
 * What a paid generation produced, kept in KV so that it reaches its owner once: the results of
 * answers whose client left (handed to the next identical request of that client), and the
 * answers of requests sent with an `Idempotency-Key` (repeated for that key for 24 h).
 *
 * ```
 * ["undelivered", client, fingerprint, job] -> Undelivered   running, then ready; for the window
 * ["idempotency", client, keyHash]          -> KeyedAnswer   (`keyed_answers.ts`)
 * ```
 *
 * A running entry is a lease (`until`), renewed while its job runs, so a job whose instance died
 * stops being waited for within a lease. Records name images by id: the bytes stay in the image
 * store, and a record stays far under KV's 64 KiB per value (see {@link boundedRecord}).
 *
 * @module
 */
import { GatewayError } from "../errors.ts";
import { whileBusy } from "./kv_busy.ts";

/** How long a write keeps trying while another writer holds a KV file. */
const WRITE_BUDGET_MS = 3000;
const busyDeadline = () => performance.now() + WRITE_BUDGET_MS;

/** One image of a recorded answer: stored (`id`, `ext`), or only the upstream's link (`url`). */
export interface RecordedImage {
  id?: string;
  /** The extension of the link answered: the original's, or a variant's (`output_format`). */
  ext?: string;
  /** The `output_compression` of the variant answered, carried by its link as `?q=`. */
  q?: number;
  url?: string;
  seed?: number;
}

/** What a generation produced, enough to answer it again in any of the gateway's formats. */
export interface AnswerRecord {
  images: RecordedImage[];
  model: string;
  size?: string;
  revisedPrompt?: string;
  /** Longest inference time among the upstream calls, in seconds. */
  inference?: number;
  /** Upstream calls made, those that failed while others succeeded, the first one's message. */
  calls: number;
  failedCalls: number;
  failedMessage?: string;
}

/** An error answer kept for an idempotency key: it may have been billed, so it is repeated. */
export interface RecordedError {
  status: number;
  type: string;
  message: string;
  param: string | null;
  code: string | null;
  headers: Record<string, string>;
}

export type Undelivered =
  | { state: "running"; until: number }
  | { state: "ready"; record: AnswerRecord; keptUntil: number };

const undeliveredKey = (client: string, fingerprint: string, job: string): Deno.KvKey => [
  "undelivered",
  client,
  fingerprint,
  job,
];

/** Characters of upstream links a record keeps in all: with the rest, far under 64 KiB. */
const MAX_LINK_CHARS = 32_000;

/**
 * The record as KV keeps it: every image, text cut to sizes that keep the value far under KV's
 * 64 KiB, and absent fields absent. Past a total budget an unstored image keeps no upstream link
 * (a cut link would be dead anyway; the answer then says the image could not be linked).
 */
export function boundedRecord(record: AnswerRecord): AnswerRecord {
  const cut = (text: string, max: number) => [...text.slice(0, max * 2)].slice(0, max).join("");
  let budget = MAX_LINK_CHARS;
  const images = record.images.map((image) => {
    if (image.url === undefined) return image;
    budget -= image.url.length;
    if (budget >= 0) return image;
    const { url: _dropped, ...rest } = image;
    return rest;
  });
  const out: AnswerRecord = { ...record, images };
  if (record.revisedPrompt !== undefined) out.revisedPrompt = cut(record.revisedPrompt, 4000);
  if (record.failedMessage !== undefined) out.failedMessage = cut(record.failedMessage, 500);
  return out;
}

/** The KV side of redelivery: one client's unfinished or undelivered jobs, by fingerprint. */
export class UndeliveredAnswers {
  readonly #kv: Deno.Kv;
  readonly #windowMs: number;

  constructor(kv: Deno.Kv, windowMs: number) {
    this.#kv = kv;
    this.#windowMs = windowMs;
  }

  /**
   * Marks a job whose client left after its upstream call was sent, until `until` (renewed before
   * then); kept by KV at least that long, whatever the window.
   */
  async running(client: string, fingerprint: string, job: string, until: number): Promise<void> {
    const value: Undelivered = { state: "running", until };
    const expireIn = Math.max(this.#windowMs, until - Date.now());
    await whileBusy(
      () => this.#kv.set(undeliveredKey(client, fingerprint, job), value, { expireIn }),
      busyDeadline(),
    );
  }

  /** Keeps a finished job's answer for the next identical request of its client. */
  async ready(client: string, fingerprint: string, job: string, record: AnswerRecord) {
    const keptUntil = Date.now() + this.#windowMs;
    const value: Undelivered = { state: "ready", record: boundedRecord(record), keptUntil };
    const expireIn = this.#windowMs;
    await whileBusy(
      () => this.#kv.set(undeliveredKey(client, fingerprint, job), value, { expireIn }),
      busyDeadline(),
    );
  }

  /** Forgets a job (it was delivered after all, or produced nothing). */
  async drop(client: string, fingerprint: string, job: string): Promise<void> {
    await whileBusy(
      () => this.#kv.delete(undeliveredKey(client, fingerprint, job)),
      busyDeadline(),
    );
  }

  /** The client's jobs for this fingerprint, in the order they were written. */
  async list(client: string, fingerprint: string): Promise<Deno.KvEntry<Undelivered>[]> {
    const entries: Deno.KvEntry<Undelivered>[] = [];
    const iterator = this.#kv.list<Undelivered>({ prefix: ["undelivered", client, fingerprint] }, {
      limit: 64,
    });
    for await (const entry of iterator) entries.push(entry);
    return entries.sort((a, b) => (a.versionstamp < b.versionstamp ? -1 : 1));
  }

  /**
   * Takes a ready answer for this request alone: `undefined` when another request took it, or its
   * window is over (KV may return expired keys for a while).
   */
  async claim(
    entry: Deno.KvEntry<Undelivered>,
    now = Date.now(),
  ): Promise<AnswerRecord | undefined> {
    if (entry.value.state !== "ready" || entry.value.keptUntil <= now) return undefined;
    // A busy file is tried again; a lost commit means another request took it.
    const done = await whileBusy(async () => {
      const result = await this.#kv.atomic().check(entry).delete(entry.key).commit();
      return result.ok;
    }, busyDeadline());
    return done ? entry.value.record : undefined;
  }
}

/** An error as kept for an idempotency key; unknown errors as the plain 500 clients were told. */
export function recordError(err: unknown): RecordedError {
  if (err instanceof GatewayError) {
    const { status, type, message, param, code, headers } = err;
    return { status, type, message, param, code, headers };
  }
  return {
    status: 500,
    type: "server_error",
    message: "Internal server error",
    param: null,
    code: "internal_error",
    headers: { "x-should-retry": "false" },
  };
}

/** The kept error, to be thrown again, with `headers` added. */
export function errorFromRecord(error: RecordedError, headers: Record<string, string>) {
  return new GatewayError(error.status, error.type, error.message, {
    param: error.param,
    code: error.code,
    headers: { ...error.headers, ...headers },
  });
}
