/**
 * A real S3 API server on loopback for the object-store tests: `s3rver` from npm, run in this
 * process on port 0 with a fresh folder and one bucket, closed with `await using`. It accepts the
 * access key `S3RVER` only (others get 403 InvalidAccessKeyId); it does not check signatures.
 *
 * @module
 */
import S3rver from "s3rver";

export const S3_ACCESS_KEY = "S3RVER";
export const S3_SECRET = "S3RVER";
export const S3_BUCKET = "images";

export interface S3Server extends AsyncDisposable {
  endpoint: string;
  /** The gateway settings for this server (`IMAGE_STORE=s3` and the `S3_*` variables). */
  env: Record<string, string>;
  /** Where s3rver keeps the objects, for inspection. */
  directory: string;
}

export async function startS3(): Promise<S3Server> {
  const directory = await Deno.makeTempDir({ prefix: "sf-image-gateway-s3-" });
  const server = new S3rver({
    port: 0,
    address: "127.0.0.1",
    silent: true,
    directory,
    configureBuckets: [{ name: S3_BUCKET }],
  });
  const { port } = await server.run() as { port: number };
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    directory,
    env: {
      IMAGE_STORE: "s3",
      S3_ENDPOINT: endpoint,
      S3_BUCKET,
      S3_REGION: "us-east-1",
      S3_ACCESS_KEY_ID: S3_ACCESS_KEY,
      S3_SECRET_ACCESS_KEY: S3_SECRET,
      S3_PREFIX: "img/",
    },
    async [Symbol.asyncDispose]() {
      await server.close();
      await Deno.remove(directory, { recursive: true });
    },
  };
}
