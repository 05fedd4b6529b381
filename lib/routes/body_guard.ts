/**
 * The middleware that owns every request body's life, mounted right after the request observer:
 * it puts the body under the gateway's byte budget (given back when the request is over), and
 * before the answer leaves it frees the connection of any body left unread — by a route that
 * answered early, by auth refusing a POST, by a body cut at its cap or its deadline — so that no
 * client can hold a socket by sending half a body (see `openai/request_body.ts`).
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { ByteBudget } from "../byte_budget.ts";
import { governBody, settleBody } from "../openai/request_body.ts";

export function bodyGuard(budget: ByteBudget): MiddlewareHandler {
  return async function guardBody(c, next) {
    governBody(c.req.raw, budget);
    await next();
    // Before the answer is returned: afterwards Deno no longer lets the body be touched.
    settleBody(c.req.raw);
  };
}
