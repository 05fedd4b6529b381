/**
 * sf-image-gateway's entry. The sweeper's cron is registered first: Deno Deploy finds crons by
 * running this module's top level at deploy time, so nothing may await or exit before it. Then:
 * the optional `.env`, config, KV, the storage checks, the app, and `Deno.serve`.
 *
 * @module
 */
import { createGateway } from "./lib/app.ts";
import { ConfigError, loadConfig } from "./lib/config/config.ts";
import {
  checkObjectStore,
  loadDotEnv,
  probeKv,
  serve,
  StartupError,
  startupLine,
  stopOnSignals,
  sweepOnce,
} from "./lib/startup.ts";
import { openKv } from "./lib/storage/open_kv.ts";

const sweep = Promise.withResolvers<() => Promise<void>>();
// Removes expired images and what crashed writes left; runs on one instance at a time.
Deno.cron("sweep stored images", "17 * * * *", async () => await (await sweep.promise)());

try {
  await loadDotEnv();
  const config = loadConfig(Deno.env.toObject());
  const kv = await openKv(config.kvPath).catch((err) => {
    throw new StartupError(
      `Cannot open Deno KV at ${config.kvPath ?? "the default location"}: ${err}`,
    );
  });
  const { app, services } = createGateway({ config, kv });
  await checkObjectStore(services);
  const probe = await probeKv(kv);
  sweep.resolve(() => sweepOnce(services));
  const server = serve(app.fetch, config, ({ hostname, port }) => {
    services.log.info(`Listening on http://${hostname}:${port}/`);
    services.log.info(startupLine(config, probe));
  }, services.log);
  stopOnSignals(server, services, config.shutdownGraceMs);
} catch (err) {
  if (!(err instanceof StartupError || err instanceof ConfigError)) throw err;
  console.error(err.message);
  Deno.exit(1);
}
