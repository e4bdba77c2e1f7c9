import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { hc } from "hono/client";
import { expect, it } from "vitest";
import type { AppType } from "../../src/app";
import worker from "../../src/index";
import { OPERATOR, uniqueId } from "../helpers";

it("AppType gives a typed hc client that reaches the API", async () => {
  const fetchWorker = (input: RequestInfo | URL, init?: RequestInit) => worker.fetch(new Request(input, init), env, createExecutionContext());
  const client = hc<AppType>("http://seatkeeper.test", { fetch: fetchWorker, headers: { authorization: `Bearer ${OPERATOR}` } });
  const id = uniqueId("hc");
  const created = await client.v1.accounts.$post({ json: { id, name: "Typed client" } });
  expect(created.status).toBe(201);
  const account = await client.v1.accounts[":account_id"].$get({ param: { account_id: id } });
  if (account.status !== 200) throw new Error(`unexpected ${account.status}`);
  const body = await account.json();
  // `body.grace_seconds` is typed as number: a typo here would not compile.
  expect(body.grace_seconds).toBe(1800);
});
