import { describe, expect, it } from "vitest";
import { agentToken, call, licensedUsers, newAccount, putPool, api, replyOf } from "../helpers";

describe("a newcomer's walk-through", () => {
  it("creates an account, key, pool, user, assigns, checks out", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 2);
    const [u] = await licensedUsers(f, "premium-concurrent", 1);
    const token = await agentToken(f, u);
    const co = await replyOf(api(token).seats.checkout.$post({ json: { session_id: "s1" } }));
    expect(co.status).toBe(200);
    expect(co.body).toMatchObject({ user_id: u, pool: "premium-concurrent", active: 1, limit: 2, over_limit: false });
    const pools = await call("GET", `/v1/accounts/${f.accountId}/pools`, f.key);
    expect(pools.body.items[0]).toMatchObject({ id: "premium-concurrent", members: 1, active: 1 });
  });
});
