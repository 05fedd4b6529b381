/**
 * Translation of SiliconFlow failures into OpenAI-shaped gateway errors: a fitting status, a
 * message that says what happened, and never a key. Pure functions, unit-tested with plain values.
 *
 * Status meanings follow SiliconFlow's error-code FAQ (see `siliconflow-api.md` §5).
 *
 * @module
 */
import type { AuthMode } from "../config/config.ts";
import {
  AuthenticationError,
  type GatewayError,
  InvalidRequestError,
  NotFoundError,
  PayloadTooLargeError,
  PermissionError,
  RateLimitError,
  UpstreamError,
} from "../errors.ts";
import { redactClipped } from "../observability/redaction.ts";
import type { SiliconFlowError } from "./siliconflow.ts";

export interface TranslateOptions {
  authMode: AuthMode;
  /**
   * Every key that might appear in an upstream message, each replaced by `sk-***` in any form
   * `redaction.ts` finds (any case, percent-encoded, base64).
   */
  secrets: readonly string[];
  /** How the messages name the upstream: SiliconFlow, or a provider of `PROVIDERS_JSON`. */
  who?: string;
  /** Where the owner sets the upstream's keys, for the message about rejected keys. */
  keysVar?: string;
  /**
   * Where a transport failure's own words go (Deno's "error sending request for url (…)", with the
   * upstream's address): the operator's log. Clients are told only what it means for them.
   */
  log?: (line: string) => void;
}

/** Default wait for a 429 without `retry-after`: SiliconFlow's image limits are per minute (IPM). */
const DEFAULT_RETRY_AFTER_SECONDS = 20;

/** How much of an upstream message a client is shown: enough for any real one, not a whole page. */
export const MAX_DETAIL_CHARS = 300;

/** Whether SiliconFlow may have produced (and billed) images although we report a failure. */
export function mayHaveCharged(err: SiliconFlowError): boolean {
  // A connection that broke after the request went out: SiliconFlow may be making the image.
  const lostConnection = err.status === 0 && !err.connectFailed;
  return err.timedOut || lostConnection || err.status === 504 || err.status === 200;
}

/** Maps a {@link SiliconFlowError} to the error the client receives. */
export function translateUpstreamError(
  err: SiliconFlowError,
  { authMode, secrets, who = "SiliconFlow", keysVar = "SILICONFLOW_API_KEYS", log }:
    TranslateOptions,
): GatewayError {
  if (err.transport !== undefined && log) {
    log(`${who} call failed: ${err.detail}: ${redactClipped(err.transport, secrets, 1000)}`);
  }
  // Redacted before it is cut: a key that began before the cut would otherwise show its start.
  const detail = redactClipped(err.detail, secrets, MAX_DETAIL_CHARS);
  const sfCode = err.code === undefined ? "" : ` (code ${err.code})`;
  const said = `${who} said: ${detail}${sfCode}`;
  // A retry after a possibly billed failure costs the user another image: tell SDKs not to.
  const noRetry = mayHaveCharged(err) ? { "x-should-retry": "false" } : undefined;
  const code = err.code === undefined ? undefined : `siliconflow_${err.code}`;

  // SiliconFlow reports an empty balance as 30001 with a 403 on images and a 402 elsewhere.
  if (err.code === 30001) {
    return new PermissionError(402, `The ${who} account's balance is insufficient. ${said}`, {
      code: "insufficient_quota",
    });
  }
  switch (err.status) {
    case 0:
      return err.timedOut
        ? new UpstreamError(504, `${who} did not answer in time: ${detail}`, {
          code: "upstream_timeout",
          headers: noRetry,
        })
        : err.connectFailed
        ? new UpstreamError(502, `Could not reach ${who}; try again shortly`, {
          code: "upstream_unreachable",
        })
        : new UpstreamError(502, `The connection to ${who} broke off before it answered`, {
          code: "upstream_connection_lost",
          headers: noRetry,
        });
    case 200:
      return new UpstreamError(502, `${who} answered with an unusable reply: ${detail}`, {
        code: "upstream_bad_response",
        headers: noRetry,
      });
    case 400:
    case 422:
      if (err.code === 20012) {
        return new NotFoundError(`The model does not exist on ${who}. ${said}`, {
          param: "model",
          code: "model_not_found",
        });
      }
      return new InvalidRequestError(`${who} rejected the request. ${said}`, {
        code: code ?? "upstream_invalid_request",
      });
    case 401:
      return authMode === "pass-through"
        ? new AuthenticationError(
          `${who} rejected your API key: ${detail}. In pass-through mode your bearer token ` +
            `is used as your ${who} key`,
        )
        : new UpstreamError(
          502,
          `${who} rejected the gateway's API keys: ${detail}. The gateway owner must fix ` +
            keysVar,
          { code: "upstream_auth_failed" },
        );
    case 402:
      return new PermissionError(
        402,
        `The ${who} account's balance is insufficient. ${said}`,
        {
          code: "insufficient_quota",
        },
      );
    case 403:
      return new PermissionError(
        403,
        `${who} refused the request: the account's balance is insufficient, or the model ` +
          `requires real-name verification or is not available to it. ${said}`,
        { code: code ?? "upstream_forbidden" },
      );
    case 404:
      return new UpstreamError(
        502,
        `${who} answered 404 for its image endpoint; check SILICONFLOW_BASE_URL. ${said}`,
        { code: "upstream_not_found" },
      );
    case 413:
      return new PayloadTooLargeError(`${who} found the request too large. ${said}`);
    case 429:
      return new RateLimitError(
        `${who}'s rate limit was reached. ${said}`,
        err.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS,
      );
    case 451:
      return new InvalidRequestError(`${who} refused the prompt or image. ${said}`, {
        code: "content_policy_violation",
      });
    case 503:
      return new UpstreamError(503, `${who} is overloaded; try again later. ${said}`, {
        code: code ?? "upstream_overloaded",
        headers: { "retry-after": "5" },
      });
    case 504:
      return new UpstreamError(504, `${who} timed out. ${said}`, {
        code: code ?? "upstream_timeout",
        headers: noRetry,
      });
    default:
      return new UpstreamError(502, `${who} failed with HTTP ${err.status}. ${said}`, {
        code: code ?? "upstream_error",
      });
  }
}
