/**
 * Which hosts image downloads may reach: public addresses, the upstreams' own origins, and the
 * hosts the operator allows (`DOWNLOAD_ALLOW_HOSTS`, for a private object store). An upstream that
 * links or redirects to the gateway's own network (loopback, a private range, link-local such as
 * a cloud's metadata address at 169.254.169.254) would otherwise have that content fetched,
 * stored and published at a public link.
 *
 * Literal addresses are classified as they are; host names by every address DNS gives them (A and
 * AAAA), each of which must be public. The ranges are `ipaddr.js`'s: only `unicast` is public,
 * IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry, and forms that can wrap a
 * private address (6to4, Teredo, NAT64) are refused.
 *
 * @module
 */
import ipaddr from "ipaddr.js";

/** Resolves a host name to its addresses. */
export type Resolver = (host: string, signal: AbortSignal) => Promise<string[]>;

export interface AddressGuardOptions {
  /** URLs whose origins are reachable whatever their address: the upstreams' base URLs. */
  origins: readonly string[];
  /** `host` or `host:port` entries reachable whatever their address (`DOWNLOAD_ALLOW_HOSTS`). */
  hosts?: readonly string[];
  /** Host names to addresses; `Deno.resolveDns` (A and AAAA) by default. */
  resolve?: Resolver;
}

/** How long a host name's addresses are trusted: downloads of one batch share one lookup. */
const VERDICT_TTL_MS = 60_000;
/** Host names whose verdict is kept; image links come from a handful of hosts. */
const MAX_VERDICTS = 256;

/** The range of an IP address as `ipaddr.js` names it (`unicast` is the public one). */
export function addressRange(address: string): string {
  try {
    let ip = ipaddr.parse(address);
    if (ip instanceof ipaddr.IPv6 && ip.isIPv4MappedAddress()) ip = ip.toIPv4Address();
    // IPv4-compatible addresses (`::a.b.c.d`, deprecated) carry an IPv4 address in ::/96, which
    // ipaddr.js calls unicast; some stacks still route them to that address.
    const range = ip.range();
    const compatible = ip instanceof ipaddr.IPv6 && ip.parts.slice(0, 6).every((p) => p === 0);
    return range === "unicast" && compatible ? "ipv4Compatible" : range;
  } catch {
    return "invalid";
  }
}

/** Every A and AAAA address of `host`; a name without either is an empty list. */
export const resolveDns: Resolver = async (host, signal) => {
  const lookups = await Promise.allSettled([
    Deno.resolveDns(host, "A", { signal }),
    Deno.resolveDns(host, "AAAA", { signal }),
  ]);
  return lookups.flatMap((lookup) => {
    if (lookup.status === "fulfilled") return lookup.value;
    // "No such name" or "no such record" is an answer; a failed lookup is not.
    if (lookup.reason instanceof Deno.errors.NotFound) return [];
    throw lookup.reason;
  });
};

/** Decides, before each request of a download, whether its host may be reached. */
export class AddressGuard {
  readonly #origins: ReadonlySet<string>;
  readonly #hosts: ReadonlySet<string>;
  readonly #resolve: Resolver;
  readonly #verdicts = new Map<string, { refusal: string | undefined; until: number }>();

  constructor({ origins, hosts = [], resolve = resolveDns }: AddressGuardOptions) {
    this.#origins = new Set(origins.filter((o) => URL.canParse(o)).map((o) => new URL(o).origin));
    this.#hosts = new Set(hosts.map((h) => h.toLowerCase()));
    this.#resolve = resolve;
  }

  /**
   * Why `url` may not be fetched, naming its host (never its path or query), or `undefined` when
   * it may.
   *
   * @throws when the host name cannot be looked up (DNS failed, or `signal` ended the wait)
   */
  async refusal(url: URL, signal: AbortSignal): Promise<string | undefined> {
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      return `${url.protocol} is not http(s)`;
    }
    if (this.#allowed(url)) return undefined;
    const host = url.hostname;
    if (host.startsWith("[")) return judge(host, [host.slice(1, -1)]);
    if (ipaddr.IPv4.isValidFourPartDecimal(host)) return judge(host, [host]);
    const known = this.#verdicts.get(host);
    if (known && known.until > Date.now()) return known.refusal;
    const refusal = judge(host, await this.#resolve(host, signal), true);
    this.#verdicts.delete(host);
    this.#verdicts.set(host, { refusal, until: Date.now() + VERDICT_TTL_MS });
    if (this.#verdicts.size > MAX_VERDICTS) {
      this.#verdicts.delete(this.#verdicts.keys().next().value!);
    }
    return refusal;
  }

  #allowed(url: URL): boolean {
    if (this.#origins.has(url.origin)) return true;
    const port = url.port || (url.protocol === "https:" ? "443" : "80");
    return this.#hosts.has(url.hostname) || this.#hosts.has(`${url.hostname}:${port}`);
  }
}

/** The refusal for `host` when any of its addresses is not public. */
function judge(host: string, addresses: string[], named = false): string | undefined {
  const hint = "; a private image host must be listed in DOWNLOAD_ALLOW_HOSTS";
  if (addresses.length === 0) return `${host} has no address`;
  for (const address of addresses) {
    const range = addressRange(address);
    if (range === "unicast") continue;
    return named
      ? `${host} resolves to ${address}, a ${range} address, not a public one${hint}`
      : `${host} is a ${range} address, not a public one${hint}`;
  }
  return undefined;
}
