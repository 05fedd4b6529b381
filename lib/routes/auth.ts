/**
 * Client authentication for `/v1/*`, and the choice of which SiliconFlow key pays.
 *
 * - Pool mode: the client must present one of `GATEWAY_API_KEYS`; the gateway's own key pool pays.
 * - Pass-through mode: the client's bearer token is its own SiliconFlow key.
 *
 * Keys only ever travel in the `Authorization` header (never the query string, which ends up in
 * logs) and are compared in constant time.
 *
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import type { Config } from "../config/config.ts";
import { AuthenticationError } from "../errors.ts";
import { configuredSecrets } from "../observability/redaction.ts";
import { noteRequestSecrets } from "../observability/request_context.ts";
import type { KeyPool, KeyRunner } from "../upstream/key_pool.ts";
import { type RetryPolicy, withRetries } from "../upstream/retry.ts";
import { clientId } from "../storage/client_limits.ts";

export interface AuthVariables {
  /** Runs an upstream call with the key that pays for this request. */
  withKey: KeyRunner;
  /**
   * The secrets this request involves, for redaction of upstream messages and links: every
   * configured one, and in pass-through mode the client's own key.
   */
  secrets: readonly string[];
  /** Who is asking, for per-client limits: a hash of the bearer token. */
  client: string;
}

/** The bearer token of a request, or `undefined`. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^\s*Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return match?.[1];
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

/**
 * Whether `candidate` is one of `keys`, in time independent of where (or whether) it matches:
 * both sides are hashed to equal length first, and every key is compared.
 */
export function isAllowedKey(candidate: string, keys: readonly string[]): boolean {
  const wanted = digest(candidate);
  let found = false;
  for (const key of keys) found = timingSafeEqual(wanted, digest(key)) || found;
  return found;
}

/** Middleware that authenticates the client and sets `withKey` and `secrets`. */
export function clientAuth(
  config: Config,
  pool: KeyPool | undefined,
  retry: RetryPolicy,
): MiddlewareHandler<{ Variables: AuthVariables }> {
  const configured = Object.freeze(configuredSecrets(config));
  return async function authenticate(c, next) {
    const token = bearerToken(c.req.header("authorization"));
    if (config.authMode === "pool") {
      if (token === undefined) {
        throw new AuthenticationError(
          "Missing API key: send the gateway key as 'Authorization: Bearer <key>'",
        );
      }
      if (!isAllowedKey(token, config.gatewayKeys)) {
        throw new AuthenticationError("Incorrect API key provided for this gateway");
      }
      c.set("withKey", (model, call) => pool!.run(model, call));
      c.set("client", clientId(token));
      c.set("secrets", configured);
    } else {
      if (token === undefined) {
        throw new AuthenticationError(
          "Missing API key: this gateway runs in pass-through mode; send your SiliconFlow key as " +
            "'Authorization: Bearer <key>'",
        );
      }
      c.set("withKey", (_model, call) => withRetries(() => call(token), retry));
      c.set("client", clientId(token));
      c.set("secrets", [...configured, token]);
      // The request's log lines are redacted of its key too.
      noteRequestSecrets([token]);
    }
    await next();
  };
}
