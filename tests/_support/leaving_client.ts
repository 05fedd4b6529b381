/**
 * A client over a real socket that leaves: it sends a request and goes away once the fake
 * SiliconFlow has received the upstream call (a stream's headers come at once: it leaves while
 * the stream waits). For the tests of delivery: a paid image reaches the client's retry.
 *
 * @module
 */
import type { FakeSiliconFlow } from "./fake_siliconflow.ts";
import { GATEWAY_KEY, type ListeningGateway } from "./gateway.ts";
import { sleep, until } from "./timing.ts";

/** `POST`s JSON to a listening gateway with the gateway key. */
export function post(
  server: ListeningGateway,
  path: string,
  body: unknown,
  init: { signal?: AbortSignal; headers?: Record<string, string> } = {},
): Promise<Response> {
  return fetch(`${server.origin}${path}`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${GATEWAY_KEY}`,
      "content-type": "application/json",
      ...init.headers,
    },
    body: JSON.stringify(body),
    signal: init.signal,
  });
}

/** Sends a request and leaves once `fake` has received its upstream call. */
export async function leaveAfterSend(
  fake: FakeSiliconFlow,
  server: ListeningGateway,
  path: string,
  body: unknown,
  headers?: Record<string, string>,
): Promise<void> {
  const before = fake.generationCalls.length;
  const abort = new AbortController();
  const pending = post(server, path, body, { signal: abort.signal, headers }).then(
    async (res) => {
      await sleep(50);
      abort.abort();
      await res.body?.cancel().catch(() => {});
    },
    () => {},
  );
  await until(() => fake.generationCalls.length > before, "the upstream call");
  abort.abort();
  await pending;
}
