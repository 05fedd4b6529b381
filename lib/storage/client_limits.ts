/**
 * Limits for the gateway's own clients, counted in KV so they hold across instances that share a
 * store: `CLIENT_MAX_CONCURRENT` generations in flight per client, and `CLIENT_IMAGES_PER_MINUTE`
 * images. A client is a hash of its bearer token (a gateway key, or its own SiliconFlow key in
 * pass-through mode), never the token. 0 turns a limit off, and both are off by default: relays
 * such as new-api and one-api send all their users' traffic with one key.
 *
 * ```
 * ["client_slot", client, i]                 -> { until }  one generation in flight (a lease)
 * ["client_images", client, minute, ticket]  -> images     one request's images in that minute
 * ```
 *
 * Both are exact under a burst from one client, across instances:
 *
 * - **Slots.** A request lists the client's slots `0 … max-1` and takes a random free one (absent,
 *   or a lease that ran out) with a versionstamp check, so no slot is ever held twice. Random, not
 *   the lowest: a burst racing for the lowest free slot loses all but one commit per round. A lost
 *   commit (or SQLite's "database is locked", when two processes share a file) is tried again
 *   after a jittered back-off, within `ADMIT_BUDGET_MS`; only a list without a free slot earns the
 *   limit's own 429. A lease lasts a minute and is renewed while its generation runs, so a dead
 *   instance's slot frees within a minute; KV may keep expired keys a while, so `until` is checked.
 * - **Images.** A hot counter would lose commits the same way. Instead a request writes a ticket
 *   under a fresh key (no check, nothing to lose), lists the minute's tickets and orders them by
 *   versionstamp, which is commit order; reads are strongly consistent, so every ticket committed
 *   before mine is in that list. Walking that order, a ticket is admitted when the images admitted
 *   before it plus its own stay within the limit. That depends only on the tickets before it, so
 *   every instance reaches the same decision for every ticket and the admitted total never passes
 *   the limit. A refused ticket changes no one's walk, so it is deleted at once and the list stays
 *   near one ticket per admitted request. Before writing, the same walk over the current list turns
 *   away a request that cannot fit (any later ticket comes after all of these), which bounds the
 *   work of a flood. A ticket whose owner could not decide (a list over its cap, a failed read)
 *   is left in place, as deleting it could change the walks that saw it.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { InvalidRequestError, RateLimitError } from "../errors.ts";
import { backOff, commitOrLose, whileBusy } from "./kv_busy.ts";

export interface LimitSettings {
  maxConcurrent: number;
  imagesPerMinute: number;
  /** How long a slot's lease lasts unless renewed; a dead instance's slot is free after it. */
  leaseMs: number;
  /** How often a running generation renews its lease; 0 never (tests of dead instances). */
  renewEveryMs?: number;
}

/** A minute's lease, renewed every 20 s while its generation runs. */
export const LEASE_MS = 60_000;
export const RENEW_EVERY_MS = 20_000;

/** Held while a generation runs; `release()` may be called more than once. */
export interface Admission {
  release(): Promise<void>;
}

/** How long one admission may keep retrying lost commits before a plain "try again" 429. */
const ADMIT_BUDGET_MS = 3_000;
/** Tickets of requests still deciding, beyond the admitted ones, before a flood is turned away. */
const UNDECIDED_TICKETS = 1_000;
/**
 * Deno KV's largest list batch; each batch is one consistent read. Past it, the check before
 * writing may see two moments at once, which can only refuse; the walk after writing stays exact.
 */
const LIST_BATCH = 500;

type Lease = { until: number };
type Ticket = Deno.KvEntry<number>;

const NO_LIMIT: Admission = { release: () => Promise.resolve() };

/** The client a bearer token stands for: its SHA-256, so no token is ever stored. */
export function clientId(token: string): string {
  return createHash("sha256").update(token).digest("hex").slice(0, 32);
}

export class ClientLimits {
  readonly #kv: Deno.Kv;
  readonly #settings: LimitSettings;
  readonly #now: () => number;

  constructor(kv: Deno.Kv, settings: LimitSettings, now: () => number = Date.now) {
    this.#kv = kv;
    this.#settings = settings;
    this.#now = now;
  }

  /**
   * Admits a request for `images` images, or throws a 429 saying when to come back (a 400 for
   * more images than a minute allows). The images are counted at once; the slot is held until
   * `release()`. With both limits off it touches no KV.
   */
  async admit(client: string, images: number): Promise<Admission> {
    const limit = this.#settings.imagesPerMinute;
    if (limit > 0 && images > limit) {
      throw new InvalidRequestError(
        `The request asks for ${images} images and this gateway allows ${limit} a minute ` +
          "(CLIENT_IMAGES_PER_MINUTE): ask for fewer",
        { param: "n", code: "too_many_images" },
      );
    }
    // The slot first: a request refused for concurrency must not use up the minute's images.
    const admission = await this.#takeSlot(client);
    try {
      await this.#countImages(client, images);
    } catch (err) {
      await admission.release();
      throw err;
    }
    return admission;
  }

  async #countImages(client: string, images: number): Promise<void> {
    const limit = this.#settings.imagesPerMinute;
    if (limit === 0 || images <= 0) return;
    const now = this.#now();
    const minute = Math.floor(now / 60_000);
    const prefix = ["client_images", client, minute];
    const overLimit = (used: number) =>
      new RateLimitError(
        `This client asked for ${used} images this minute and this gateway allows ` +
          `${limit} (CLIENT_IMAGES_PER_MINUTE); ${images} more would pass it`,
        Math.max(1, Math.ceil(((minute + 1) * 60_000 - now) / 1000)),
        { code: "client_rate_limit_exceeded" },
      );
    const seen = await this.#tickets(prefix);
    if (!seen) throw tooManyAtOnce("client_rate_limit_exceeded");
    const used = admittedBefore(seen, limit);
    if (used + images > limit) throw overLimit(used);

    const deadline = performance.now() + ADMIT_BUDGET_MS;
    const key = [...prefix, crypto.randomUUID()];
    // Kept until two minutes after its minute, so that no instance whose clock lags a little
    // walks the minute without it.
    const expireIn = (minute + 3) * 60_000 - now;
    const mine = await whileBusy(() => this.#kv.set(key, images, { expireIn }), deadline);
    const tickets = await this.#tickets(prefix);
    if (!tickets) throw tooManyAtOnce("client_rate_limit_exceeded");
    const before = admittedBefore(tickets, limit, mine.versionstamp);
    if (before + images <= limit) return;
    await whileBusy(() => this.#kv.delete(key), deadline).catch(() => {});
    throw overLimit(before);
  }

  /** The minute's tickets, or `undefined` when there are more than any burst should leave. */
  async #tickets(prefix: Deno.KvKey): Promise<Ticket[] | undefined> {
    const cap = this.#settings.imagesPerMinute + UNDECIDED_TICKETS;
    const entries = await Array.fromAsync(
      this.#kv.list<number>({ prefix }, { limit: cap + 1, batchSize: LIST_BATCH }),
    );
    return entries.length > cap ? undefined : entries;
  }

  async #takeSlot(client: string): Promise<Admission> {
    const max = this.#settings.maxConcurrent;
    if (max === 0) return NO_LIMIT;
    const deadline = performance.now() + ADMIT_BUDGET_MS;
    for (let attempt = 0;; attempt++) {
      const now = this.#now();
      const taken = new Map<number, Deno.KvEntry<Lease>>();
      // Only slots below the setting are read, so the list is bounded by it.
      const slots = this.#kv.list<Lease>({
        start: ["client_slot", client, 0],
        end: ["client_slot", client, max],
      }, { batchSize: LIST_BATCH });
      for await (const entry of slots) taken.set(entry.key[2] as number, entry);
      const free: number[] = [];
      for (let n = 0; n < max; n++) {
        const lease = taken.get(n)?.value;
        if (!lease || !(lease.until > now)) free.push(n);
      }
      if (free.length === 0) {
        const soonest = Math.min(...[...taken.values()].map((e) => e.value.until));
        throw new RateLimitError(
          `This client has ${max} generations in flight, as many as this gateway allows ` +
            "(CLIENT_MAX_CONCURRENT); wait for one to finish",
          Math.min(60, Math.max(1, Math.ceil((soonest - now) / 1000))),
          { code: "client_concurrency_limit_exceeded" },
        );
      }
      const slot = free[Math.floor(Math.random() * free.length)];
      const key = ["client_slot", client, slot];
      const held = taken.get(slot) ?? { key, versionstamp: null };
      const done = await commitOrLose(
        this.#kv.atomic().check(held).set(key, this.#lease(), { expireIn: this.#settings.leaseMs }),
      );
      if (done) return this.#hold(key, done.versionstamp);
      if (performance.now() >= deadline) throw tooManyAtOnce("client_concurrency_limit_exceeded");
      await backOff(attempt);
    }
  }

  #lease(): Lease {
    return { until: this.#now() + this.#settings.leaseMs };
  }

  /** The admission for a slot just taken: renewed while held, deleted on release. */
  #hold(key: Deno.KvKey, taken: string): Admission {
    let versionstamp = taken;
    let released = false;
    // Renewals run one after another, and release waits for the last: a renewal landing after
    // the delete's check was built would make the delete miss and keep the slot a whole lease.
    let renewing = Promise.resolve();
    // Only our own lease is renewed or deleted: one that ran out may be another request's now.
    const renew = async () => {
      const renewed = await commitOrLose(
        this.#kv.atomic().check({ key, versionstamp })
          .set(key, this.#lease(), { expireIn: this.#settings.leaseMs }),
      ).catch(() => null);
      if (renewed) versionstamp = renewed.versionstamp;
    };
    const every = this.#settings.renewEveryMs ?? RENEW_EVERY_MS;
    const timer = every > 0 ? setInterval(() => renewing = renewing.then(renew), every) : undefined;
    return {
      release: async () => {
        if (released) return;
        released = true;
        clearInterval(timer);
        await renewing;
        const deadline = performance.now() + ADMIT_BUDGET_MS;
        await whileBusy(
          () => this.#kv.atomic().check({ key, versionstamp }).delete(key).commit(),
          deadline,
        ).catch(() => {}); // the lease runs out on its own
      },
    };
  }
}

/**
 * The images admitted among `tickets` (those committed before `versionstamp`, or all of them),
 * walking them in commit order: a ticket is admitted when it still fits under `limit`.
 */
function admittedBefore(tickets: Ticket[], limit: number, versionstamp?: string): number {
  // Versionstamps are fixed-width hex, so comparing the strings compares commit order.
  const earlier = versionstamp === undefined
    ? tickets
    : tickets.filter((t) => t.versionstamp < versionstamp);
  earlier.sort((a, b) => a.versionstamp < b.versionstamp ? -1 : 1);
  let admitted = 0;
  for (const { value } of earlier) {
    const images = typeof value === "number" && value > 0 ? value : 0;
    if (admitted + images <= limit) admitted += images;
  }
  return admitted;
}

/** The answer when the budget for lost commits ran out, or a flood left too many tickets. */
function tooManyAtOnce(code: string): RateLimitError {
  return new RateLimitError("Too many requests at once from this client; try again", 1, { code });
}
