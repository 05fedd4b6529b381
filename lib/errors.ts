/**
 * The gateway's error family and the one function that turns any thrown value into an
 * OpenAI-shaped response: `{"error":{"message","type","param","code"}}`.
 *
 * Code throws these; only {@link errorResponse} (used by `app.onError`) writes error bodies.
 *
 * @module
 */
import { consoleLogger, type Logger } from "./observability/log.ts";

/** Options shared by every {@link GatewayError}. */
export interface GatewayErrorOptions {
  /** The request field at fault, reported as `param`. */
  param?: string | null;
  /** A machine-readable code, reported as `code`. */
  code?: string | null;
  /** Extra response headers, such as `retry-after`. */
  headers?: Record<string, string>;
  cause?: unknown;
}

/** Base of every error the gateway answers with on purpose. */
export class GatewayError extends Error {
  readonly status: number;
  readonly type: string;
  readonly param: string | null;
  readonly code: string | null;
  readonly headers: Record<string, string>;

  constructor(status: number, type: string, message: string, options: GatewayErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = this.constructor.name;
    this.status = status;
    this.type = type;
    this.param = options.param ?? null;
    this.code = options.code ?? null;
    this.headers = options.headers ?? {};
  }
}

/** 400: the caller sent something we cannot use. */
export class InvalidRequestError extends GatewayError {
  constructor(message: string, options: GatewayErrorOptions = {}) {
    super(400, "invalid_request_error", message, options);
  }
}

/** 401: no or wrong client key. OpenAI reports these as `invalid_request_error`/`invalid_api_key`. */
export class AuthenticationError extends GatewayError {
  constructor(message: string, options: GatewayErrorOptions = {}) {
    super(401, "invalid_request_error", message, {
      code: "invalid_api_key",
      ...options,
      headers: { "www-authenticate": 'Bearer realm="sf-image-gateway"', ...options.headers },
    });
  }
}

/** 402/403: the upstream account cannot pay for or may not use this. */
export class PermissionError extends GatewayError {
  constructor(status: 402 | 403, message: string, options: GatewayErrorOptions = {}) {
    super(status, status === 402 ? "insufficient_quota" : "permission_error", message, options);
  }
}

/** 404: unknown route, model or image. */
export class NotFoundError extends GatewayError {
  constructor(message: string, options: GatewayErrorOptions = {}) {
    super(404, "invalid_request_error", message, { code: "not_found", ...options });
  }
}

/** 405: a known route asked with a method it does not take; `Allow` lists the ones it does. */
export class MethodNotAllowedError extends GatewayError {
  constructor(message: string, allow: readonly string[], options: GatewayErrorOptions = {}) {
    super(405, "invalid_request_error", message, {
      code: "method_not_allowed",
      ...options,
      headers: { allow: allow.join(", "), ...options.headers },
    });
  }
}

/** 409: the request conflicts with an earlier one (an `Idempotency-Key` used with other parameters). */
export class ConflictError extends GatewayError {
  constructor(message: string, options: GatewayErrorOptions = {}) {
    super(409, "invalid_request_error", message, { code: "conflict", ...options });
  }
}

/** 408: the request body did not arrive in time (`REQUEST_BODY_TIMEOUT_SECONDS`). */
export class RequestTimeoutError extends GatewayError {
  constructor(message: string, options: GatewayErrorOptions = {}) {
    super(408, "invalid_request_error", message, { code: "request_timeout", ...options });
  }
}

/**
 * 499, nginx's "client closed request": the client went away while sending its request. Nobody
 * reads the answer; the status is for the log line, which is all such a request leaves.
 */
export class ClientClosedError extends GatewayError {
  constructor(message: string, options: GatewayErrorOptions = {}) {
    super(499, "invalid_request_error", message, { code: "client_closed_request", ...options });
  }
}

/** 413: a body or file over its limit. */
export class PayloadTooLargeError extends GatewayError {
  constructor(message: string, options: GatewayErrorOptions = {}) {
    super(413, "invalid_request_error", message, { code: "payload_too_large", ...options });
  }
}

/**
 * 422: an image the gateway will not convert: not a type it decodes, or larger than
 * `VARIANT_MAX_MEGAPIXELS` by what its header declares (refused before any decoding).
 */
export class UnprocessableImageError extends GatewayError {
  constructor(message: string, options: GatewayErrorOptions = {}) {
    super(422, "invalid_request_error", message, { code: "unprocessable_image", ...options });
  }
}

/**
 * 503: the gateway itself is at capacity (its `REQUEST_BYTES_BUDGET`); nothing was done or billed,
 * so a retry after `retryAfterSeconds` is safe.
 */
export class ServerBusyError extends GatewayError {
  constructor(message: string, retryAfterSeconds: number, options: GatewayErrorOptions = {}) {
    super(503, "server_error", message, {
      code: "server_busy",
      ...options,
      headers: { "retry-after": String(retryAfterSeconds), ...options.headers },
    });
  }
}

/** 429: SiliconFlow's rate limit; `retryAfterSeconds` becomes `retry-after` and `retry-after-ms`. */
export class RateLimitError extends GatewayError {
  constructor(message: string, retryAfterSeconds: number, options: GatewayErrorOptions = {}) {
    super(429, "rate_limit_error", message, {
      code: "rate_limit_exceeded",
      ...options,
      headers: {
        "retry-after": String(retryAfterSeconds),
        "retry-after-ms": String(retryAfterSeconds * 1000),
        ...options.headers,
      },
    });
  }
}

/** 502/503/504: SiliconFlow failed, was unreachable, or answered something unusable. */
export class UpstreamError extends GatewayError {
  constructor(status: 502 | 503 | 504, message: string, options: GatewayErrorOptions = {}) {
    super(status, "upstream_error", message, options);
  }
}

/** The error a stream still open when the gateway's shutdown grace ends is closed with. */
export function shuttingDown(): UpstreamError {
  return new UpstreamError(
    503,
    "The gateway is shutting down and the image was not ready in time; try again in a moment",
    // The image may be made (and billed) all the same: a retry would pay again.
    { code: "gateway_shutting_down", headers: { "retry-after": "5", "x-should-retry": "false" } },
  );
}

/** The `{message, type, param, code}` a client is told about anything thrown; unknown errors are logged. */
export function errorFields(err: unknown, log: Logger = consoleLogger) {
  if (err instanceof GatewayError) {
    return { message: err.message, type: err.type, param: err.param, code: err.code };
  }
  log.error("unhandled error:", err);
  return {
    message: "Internal server error",
    type: "server_error",
    param: null,
    code: "internal_error",
  };
}

/**
 * Turns anything thrown into a response. Unknown errors are logged with their stack and become a
 * plain 500 without internals, as the handbook demands.
 */
export function errorResponse(err: unknown, log: Logger = consoleLogger): Response {
  const known = err instanceof GatewayError;
  // An unknown failure may come after SiliconFlow produced (and billed) an image; an SDK retry
  // would pay again, so ask it not to.
  return Response.json({ error: errorFields(err, log) }, {
    status: known ? err.status : 500,
    headers: known ? err.headers : { "x-should-retry": "false" },
  });
}
