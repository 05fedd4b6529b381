/**
 * Limits for the gateway's own clients, counted in KV so they hold across instances that share a
 * store: `CLIENT_MAX_CONCURRENT` generations in flight per client, and `CLIENT_IMAGES_PER_MINUTE`
 * images. A client is a hash of its bearer token (a gateway key, or its own SiliconFlow key in
 * pass-through mode), never the token. 0 turns a limit off.
 *
 * ```
 * ["client_slot", client, i]        -> { until }   one generation in flight (a lease)
 * ["client_images", client, minute] -> count       images asked for in that minute
 * ```
 *
 * A slot is a lease of a minute, renewed while its generation runs, so an instance that dies
 * mid-generation frees it within a minute; KV may keep expired keys a while, so `until` is
 * checked on read.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { InvalidRequestError, RateLimitError } from "../errors.ts";

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

/** Optimistic commits that lost to another instance are tried again this many times. */
const COMMIT_TRIES = 8;

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
   * `release()`.
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
    if (limit === 0) return;
    for (let i = 0; i < COMMIT_TRIES; i++) {
      const now = this.#now();
      const minute = Math.floor(now / 60_000);
      const key = ["client_images", client, minute];
      const entry = await this.#kv.get<number>(key);
      const used = entry.value ?? 0;
      if (used + images > limit) {
        const wait = Math.max(1, Math.ceil(((minute + 1) * 60_000 - now) / 1000));
        throw new RateLimitError(
          `This client asked for ${used} images this minute and this gateway allows ` +
            `${limit} (CLIENT_IMAGES_PER_MINUTE); ${images} more would pass it`,
          wait,
          { code: "client_rate_limit_exceeded" },
        );
      }
      const done = await this.#kv.atomic().check(entry)
        .set(key, used + images, { expireIn: 120_000 }).commit();
      if (done.ok) return;
    }
    throw new RateLimitError("Too many requests at once from this client; try again", 1, {
      code: "client_rate_limit_exceeded",
    });
  }

  async #takeSlot(client: string): Promise<Admission> {
    const max = this.#settings.maxConcurrent;
    if (max === 0) return { release: () => Promise.resolve() };
    for (let i = 0; i < COMMIT_TRIES; i++) {
      const now = this.#now();
      const taken = new Map<number, Deno.KvEntry<{ until: number }>>();
      for await (
        const entry of this.#kv.list<{ until: number }>({ prefix: ["client_slot", client] })
      ) {
        taken.set(entry.key[2] as number, entry);
      }
      const free = Array.from({ length: max }, (_, n) => n).find((n) => {
        const entry = taken.get(n);
        return !entry || entry.value.until <= now;
      });
      if (free === undefined) {
        const soonest = Math.min(...[...taken.values()].map((e) => e.value.until));
        throw new RateLimitError(
          `This client has ${max} generations in flight, as many as this gateway allows ` +
            "(CLIENT_MAX_CONCURRENT); wait for one to finish",
          Math.min(60, Math.max(1, Math.ceil((soonest - now) / 1000))),
          { code: "client_concurrency_limit_exceeded" },
        );
      }
      const key = ["client_slot", client, free];
      const held = taken.get(free) ?? { key, versionstamp: null };
      const lease = { until: now + this.#settings.leaseMs };
      const done = await this.#kv.atomic().check(held)
        .set(key, lease, { expireIn: this.#settings.leaseMs }).commit();
      if (!done.ok) continue;
      let released = false;
      let versionstamp = done.versionstamp;
      const every = this.#settings.renewEveryMs ?? RENEW_EVERY_MS;
      // Renewed while the work runs, so the lease can be short and a dead instance's slot frees
      // soon; only our own lease is renewed or deleted (one that ran out may be another's).
      const renewal = every > 0
        ? setInterval(async () => {
          const renewed = await this.#kv.atomic().check({ key, versionstamp })
            .set(key, { until: this.#now() + this.#settings.leaseMs }, {
              expireIn: this.#settings.leaseMs,
            }).commit().catch(() => undefined);
          if (renewed?.ok) versionstamp = renewed.versionstamp;
        }, every)
        : undefined;
      return {
        release: async () => {
          if (released) return;
          released = true;
          clearInterval(renewal);
          await this.#kv.atomic().check({ key, versionstamp }).delete(key).commit()
            .catch(() => {});
        },
      };
    }
    throw new RateLimitError("Too many requests at once from this client; try again", 1, {
      code: "client_concurrency_limit_exceeded",
    });
  }
}
