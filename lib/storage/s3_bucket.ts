/**
 * A bucket of an S3-compatible object store, reached through requests signed with `aws4fetch`
 * (SigV4) and sent with the injected `fetch`, each under a deadline; and the check at start that
 * the bucket exists and takes writes.
 *
 * @module
 */
import { AwsClient } from "aws4fetch";
import type { S3Config } from "../config/config.ts";
import { newImageId } from "./image_meta.ts";

/** An S3 request that failed; the message names the operation and status, never a key. */
export class S3Error extends Error {
  readonly status: number;
  constructor(message: string, status: number, options?: ErrorOptions) {
    super(message, options);
    this.name = "S3Error";
    this.status = status;
  }
}

/** A bucket reached through signed requests; `fetch` is injected like every outgoing call's. */
export class S3Bucket {
  readonly config: S3Config;
  readonly #client: AwsClient;
  readonly #fetch: typeof fetch;

  constructor(config: S3Config, fetch: typeof globalThis.fetch = globalThis.fetch) {
    this.config = config;
    this.#fetch = fetch;
    // Retries are ours to decide: aws4fetch's own would replay PUTs for 10 rounds on a 5xx.
    this.#client = new AwsClient({
      accessKeyId: config.accessKeyId,
      secretAccessKey: config.secretAccessKey,
      region: config.region,
      service: "s3",
      retries: 0,
    });
  }

  /** `https://endpoint/bucket/key` (path style) or `https://bucket.endpoint/key`. */
  url(key = ""): string {
    const path = key.split("/").map(encodeURIComponent).join("/");
    const { endpoint, bucket, pathStyle } = this.config;
    if (pathStyle) return `${endpoint}/${bucket}/${path}`;
    const base = new URL(endpoint);
    return `${base.protocol}//${bucket}.${base.host}${base.pathname.replace(/\/$/, "")}/${path}`;
  }

  /**
   * Signs and sends one request. It must answer within `S3_TIMEOUT_SECONDS` (its headers, for a
   * GET whose body is then streamed; all of it otherwise); network failures and time-outs become
   * {@link S3Error} with status 0.
   */
  async request(
    what: string,
    url: string,
    init: RequestInit = {},
    { untilHeaders = false } = {},
  ): Promise<Response> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.config.timeoutMs);
    try {
      const res = await this.#fetch(
        await this.#client.sign(url, { ...init, signal: abort.signal }),
      );
      if (!untilHeaders) {
        // The body is read under the same deadline: buffer it now (S3's answers are small).
        const body = await res.arrayBuffer();
        return new Response(res.status === 204 || res.status === 304 ? null : body, {
          status: res.status,
          headers: res.headers,
        });
      }
      return res;
    } catch (err) {
      const why = abort.signal.aborted
        ? `no answer within ${this.config.timeoutMs / 1000} s (S3_TIMEOUT_SECONDS)`
        : message(err);
      throw new S3Error(`${what}: cannot reach ${this.config.endpoint}: ${why}`, 0, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  objectKey(id: string): string {
    return `${this.config.prefix}${id}`;
  }

  async put(id: string, bytes: Uint8Array<ArrayBuffer>, type: string): Promise<void> {
    const res = await this.request("S3 upload", this.url(this.objectKey(id)), {
      method: "PUT",
      body: bytes,
      headers: { "content-type": type },
    });
    await expectOk(res, `S3 upload of image ${id}`);
  }

  async delete(id: string): Promise<void> {
    const res = await this.request("S3 deletion", this.url(this.objectKey(id)), {
      method: "DELETE",
    });
    // Deleting what is not there is done: S3 answers 204, some stores 404.
    if (res.status === 404) await res.body?.cancel();
    else await expectOk(res, `S3 deletion of image ${id}`);
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Checks a response; an error names the operation and S3's error code, e.g. `NoSuchBucket`. */
export async function expectOk(res: Response, what: string): Promise<void> {
  if (res.ok) {
    await res.body?.cancel();
    return;
  }
  const body = await res.text().catch(() => "");
  const code = /<Code>([^<]{1,100})<\/Code>/.exec(body)?.[1];
  throw new S3Error(`${what} failed: HTTP ${res.status}${code ? ` ${code}` : ""}`, res.status);
}

/**
 * Checks at start that the bucket exists and the keys may write to it: a HEAD of the bucket, then
 * a small probe object written and deleted. Throws an {@link S3Error} saying what to fix.
 */
export async function checkBucket(bucket: S3Bucket): Promise<void> {
  const { bucket: name, endpoint } = bucket.config;
  const head = await bucket.request("S3 check", bucket.url());
  await head.body?.cancel();
  if (head.status === 404) {
    throw new S3Error(`S3 bucket "${name}" does not exist at ${endpoint} (S3_BUCKET)`, 404);
  }
  if (head.status === 401 || head.status === 403) {
    throw new S3Error(
      `S3 at ${endpoint} refused the credentials for bucket "${name}" (HTTP ${head.status}); ` +
        "check S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY and S3_REGION",
      head.status,
    );
  }
  if (!head.ok) {
    throw new S3Error(
      `S3 check of bucket "${name}" at ${endpoint} failed: HTTP ${head.status}`,
      head.status,
    );
  }
  const probe = `.sf-image-gateway-probe-${newImageId()}`;
  await bucket.put(probe, new Uint8Array([0]), "application/octet-stream");
  await bucket.delete(probe);
}
