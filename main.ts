/**
 * sf-image-gateway's entry: read config, open KV, schedule the image sweeper, serve.
 *
 * @module
 */
import { createGateway } from "./lib/app.ts";
import { ConfigError, describeAuthMode, loadConfig } from "./lib/config.ts";
import { sweepImages } from "./lib/storage/sweeper.ts";
import { openKv } from "./lib/storage/open_kv.ts";

let config;
try {
  config = loadConfig(Deno.env.toObject());
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(err.message);
  Deno.exit(1);
}

let kv;
try {
  kv = await openKv(config.kvPath);
} catch (err) {
  console.error(`Cannot open Deno KV at ${config.kvPath ?? "the default location"}: ${err}`);
  Deno.exit(1);
}
const { app } = createGateway({ config, kv });
console.log(describeAuthMode(config));

// Removes expired images and chunks orphaned by a crash mid-write; Deno Deploy runs crons too.
Deno.cron("sweep stored images", "17 * * * *", async () => {
  const { expired, orphans } = await sweepImages(kv);
  if (expired || orphans) console.log(`sweep: ${expired} expired, ${orphans} orphaned removed`);
});

Deno.serve({ port: config.port }, app.fetch);
