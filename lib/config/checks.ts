/**
 * The checks of `loadConfig()` that look at several variables at once: client keys that are short
 * or shared with SiliconFlow, providers that clash or would be an open relay, a KV file on Deno
 * Deploy, an incomplete object store. Each returns problems that name variables, providers and
 * positions, never a key.
 *
 * @module
 */
import type { ProviderConfig } from "./env_values.ts";

/** Client keys are at least this long: short ones can be guessed at the gateway's request rate. */
export const MIN_CLIENT_KEY_CHARS = 16;

/**
 * A client key that is also a SiliconFlow key would let a client use the pool's key elsewhere and
 * blur which side a leak came from; a short client key can be guessed. Keys are named by their
 * position in the list, never shown.
 */
export function clientKeyProblems(gatewayKeys: string[], upstreamKeys: string[]): string[] {
  const problems: string[] = [];
  gatewayKeys.forEach((key, i) => {
    if (upstreamKeys.includes(key)) {
      problems.push(
        `GATEWAY_API_KEYS key #${i + 1} is also one of SILICONFLOW_API_KEYS: give clients their ` +
          "own secrets, never a SiliconFlow key",
      );
    }
    if (key.length < MIN_CLIENT_KEY_CHARS) {
      problems.push(
        `GATEWAY_API_KEYS key #${i + 1} has ${key.length} characters; client keys need at least ` +
          `${MIN_CLIENT_KEY_CHARS} (a random secret, e.g. from \`openssl rand -hex 24\`)`,
      );
    }
  });
  return problems;
}

/**
 * Declared providers pay with their own keys, so only pool mode may use them (else anyone could);
 * each model has one provider; names are unique and `siliconflow` is the default's. Problems name
 * providers and models, never keys.
 */
export function providerProblems(
  providers: readonly ProviderConfig[],
  gatewayKeys: string[],
  upstreamKeys: string[],
): string[] {
  if (providers.length === 0) return [];
  const problems: string[] = [];
  if (gatewayKeys.length === 0) {
    problems.push(
      "PROVIDERS_JSON needs pool mode: set GATEWAY_API_KEYS (and SILICONFLOW_API_KEYS), or every " +
        "caller could spend the providers' keys",
    );
  }
  const names = new Set<string>(["siliconflow"]);
  const owner = new Map<string, string>();
  for (const p of providers) {
    if (names.has(p.name)) {
      problems.push(
        `PROVIDERS_JSON names the provider "${p.name}" twice ("siliconflow" is the default's name)`,
      );
    }
    names.add(p.name);
    for (const model of p.models) {
      const earlier = owner.get(model.toLowerCase());
      if (earlier) {
        problems.push(
          `PROVIDERS_JSON declares the model "${model}" for both "${earlier}" and "${p.name}"; ` +
            "each model has one provider",
        );
      }
      owner.set(model.toLowerCase(), p.name);
    }
    if (p.keys.some((k) => gatewayKeys.includes(k))) {
      problems.push(`PROVIDERS_JSON provider "${p.name}" has a key that is also a client key`);
    }
    if (p.keys.some((k) => upstreamKeys.includes(k)) && p.kind === "openai") {
      problems.push(`PROVIDERS_JSON provider "${p.name}" has a SiliconFlow key`);
    }
  }
  return problems;
}

/** Deploy's disk is not kept: a KV file there would lose every image at the next start. */
export function deployProblems(
  env: Record<string, string | undefined>,
  onDeploy: boolean,
): string[] {
  const path = env.KV_PATH?.trim();
  if (!onDeploy || !path || path === ":memory:" || /^https?:\/\//i.test(path)) return [];
  return [
    `KV_PATH is the file "${path}", but Deno Deploy does not keep its disk: unset KV_PATH to ` +
    "use the database assigned to the app (or give a KV Connect URL)",
  ];
}

/** `IMAGE_STORE=s3` needs its endpoint, bucket and both keys; the keys are never shown. */
export function s3Problems(env: Record<string, string | undefined>): string[] {
  if (env.IMAGE_STORE?.trim() !== "s3") return [];
  const required = ["S3_ENDPOINT", "S3_BUCKET", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"];
  const problems = required.filter((name) => !env[name]?.trim())
    .map((name) => `${name} must be set when IMAGE_STORE is "s3"`);
  const endpoint = env.S3_ENDPOINT?.trim() ?? "";
  if (URL.canParse(endpoint) && (new URL(endpoint).username || new URL(endpoint).password)) {
    // The endpoint is printed at start: credentials belong in the two key variables.
    problems.push(
      "S3_ENDPOINT must not contain credentials; set S3_ACCESS_KEY_ID and " +
        "S3_SECRET_ACCESS_KEY instead",
    );
  }
  return problems;
}
