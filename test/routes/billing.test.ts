import { describe, expect, it } from "vitest";
import { cyclesOf, forAccount, harness, iso, runQueue, runScheduled } from "../billing/support";
import { agentToken, agentTokens, auditOf, call, OPERATOR, checkout, expectProblem, licensedUsers, MIN, newAccount, putPool, release, setClock, type Fixture, api, replyOf } from "../helpers";

/** Billing and webhook routes (docs/api.md#events-and-webhooks). */

const HOUR = 60 * MIN;
const acct = (f: Fixture, rest = "") => `/v1/accounts/${f.accountId}${rest}`;
const withoutTimes = ({ generated_at, final, ...rest }: any) => rest;

describe("GET …/billing/preview", () => {
  it("shows the current cycle so far, and equals the final summary once the cycle ends", async () => {
    const f = await newAccount({ grace_seconds: 600, lease_ttl_seconds: 3600 });
    await putPool(f, "premium-concurrent", 2);
    const tokens = await agentTokens(f, await licensedUsers(f, "premium-concurrent", 3));
    const [c0, c1] = await cyclesOf(f, 2);

    await setClock(f, c0.end - 3 * HOUR);
    for (const token of tokens) expect((await checkout(token)).status).toBe(200);
    // While the over-run is open, the preview counts it up to now, not to the cycle's end.
    await setClock(f, c0.end - 150 * MIN);
    const running = await call("GET", acct(f, "/billing/preview"), f.key);
    expect(running.status).toBe(200);
    expect(running.body).toMatchObject({ account_id: f.accountId, cycle_start: iso(c0.start), cycle_end: iso(c0.end), final: false });
    expect(running.body.generated_at).toBe(iso(c0.end - 150 * MIN));
    expect(running.body.pools[0]).toMatchObject({ pool: "premium-concurrent", peak_active: 3, overage_seat_seconds: 1800, billable_seat_seconds: 1200 });

    await setClock(f, c0.end - 135 * MIN);
    for (const token of tokens) expect((await release(token)).status).toBe(204);
    await setClock(f, c0.end - 1);
    const preview = await call("GET", acct(f, "/billing/preview"), f.key);
    expect(preview.body.final).toBe(false);
    expect(preview.body.pools[0]).toMatchObject({ overage_seat_seconds: 2700, billable_overage_seats: 1, billable_seat_seconds: 2100, intervals: 1 });

    const h = harness();
    await setClock(f, c0.end + HOUR);
    await runScheduled(h, c0.end + 7 * MIN);
    await runQueue(h, "seatkeeper-billing", forAccount(h.billing.sent, f));
    const summaries = await call("GET", acct(f, "/billing/summaries"), f.key);
    expect(summaries.body.items).toHaveLength(1);
    expect(summaries.body.items[0].final).toBe(true);
    expect(withoutTimes(summaries.body.items[0])).toEqual(withoutTimes(preview.body));

    // The preview has moved on to the next cycle, which starts where the summary ended.
    const next = await call("GET", acct(f, "/billing/preview"), f.key);
    expect(next.body).toMatchObject({ cycle_start: iso(c1.start), cycle_end: iso(c1.end), final: false });
    expect(next.body.pools[0]).toMatchObject({ peak_active: 0, overage_seat_seconds: 0 });
  });
});

describe("GET …/billing/summaries", () => {
  it("lists finalized summaries newest first, paginated", async () => {
    const f = await newAccount();
    const cycles = await cyclesOf(f, 3);
    const h = harness();
    await setClock(f, cycles[2].end + HOUR);
    await runScheduled(h, cycles[2].end + 7 * MIN);
    await runQueue(h, "seatkeeper-billing", forAccount(h.billing.sent, f));

    const page1 = await call("GET", acct(f, "/billing/summaries?limit=2"), f.key);
    expect(page1.status).toBe(200);
    expect(page1.body.items.map((s: any) => s.cycle_start)).toEqual([iso(cycles[2].start), iso(cycles[1].start)]);
    expect(page1.body.next_cursor).toEqual(expect.any(String));
    const page2 = await call("GET", acct(f, `/billing/summaries?limit=2&cursor=${page1.body.next_cursor}`), f.key);
    expect(page2.body.items.map((s: any) => s.cycle_start)).toEqual([iso(cycles[0].start)]);
    expect(page2.body.next_cursor).toBeNull();
    for (const s of [...page1.body.items, ...page2.body.items]) {
      expect(Object.keys(s).sort()).toEqual(["account_id", "addons", "amounts", "cycle_end", "cycle_start", "final", "generated_at", "pools", "unlicensed_denials", "unlicensed_users_denied"]);
    }
  });

  it("is empty for a new account, and refuses a bad cursor", async () => {
    const f = await newAccount();
    expect((await call("GET", acct(f, "/billing/summaries"), f.key)).body).toEqual({ items: [], next_cursor: null });
    expectProblem(await call("GET", acct(f, "/billing/summaries?cursor=%%%"), f.key), 400, "invalid_request");
  });
});

describe("PUT and DELETE …/webhook", () => {
  it("sets the webhook, never echoes or audits the secret, and removes it", async () => {
    const f = await newAccount();
    const secret = "s3cret-s3cret-s3cret";
    const put = await replyOf(api(f.key).accounts[":account_id"].webhook.$put({ param: { account_id: f.accountId }, json: { url: "https://hooks.acme.example/seat", secret } }));
    expect(put.status).toBe(200);
    expect(put.body).toEqual({ url: "https://hooks.acme.example/seat", format: "seatkeeper", previous_secret_until: null });
    expect((await call("GET", acct(f), f.key)).body.webhook_url).toBe("https://hooks.acme.example/seat");
    const audit = await auditOf(f);
    expect(audit[0]).toMatchObject({ action: "webhook.put", target: f.accountId, detail: { url: "https://hooks.acme.example/seat" } });
    expect(JSON.stringify(audit)).not.toContain(secret);

    const del = await call("DELETE", acct(f, "/webhook"), f.key);
    expect(del.status).toBe(204);
    expect((await call("GET", acct(f), f.key)).body.webhook_url).toBeNull();
    expect((await auditOf(f))[0]).toMatchObject({ action: "webhook.delete" });
  });

  it("refuses a URL that is not https, except http on localhost", async () => {
    const f = await newAccount();
    const secret = "0123456789abcdef";
    for (const url of ["http://hooks.acme.example/seat", "ftp://hooks.acme.example/", "not a url", "http://10.0.0.1/hook", "javascript:alert(1)"]) {
      const res = await replyOf(api(f.key).accounts[":account_id"].webhook.$put({ param: { account_id: f.accountId }, json: { url, secret } }));
      expectProblem(res, 400, "invalid_request");
      expect(res.body.errors[0].path).toBe("url");
    }
    expect((await call("GET", acct(f), f.key)).body.webhook_url).toBeNull();
    for (const url of ["http://localhost:8788/hook", "http://127.0.0.1:9000/", "http://[::1]:3000/x", "https://hooks.acme.example:8443/a?b=c"]) {
      const res = await replyOf(api(f.key).accounts[":account_id"].webhook.$put({ param: { account_id: f.accountId }, json: { url, secret } }));
      expect(res.status, url).toBe(200);
    }
  });

  it("refuses a secret shorter than 16 or longer than 256 characters", async () => {
    const f = await newAccount();
    for (const secret of ["short", "x".repeat(257)]) {
      expectProblem(await replyOf(api(f.key).accounts[":account_id"].webhook.$put({ param: { account_id: f.accountId }, json: { url: "https://hooks.acme.example/", secret } })), 400, "invalid_request");
    }
    // No secret on purpose: through `call`, since the typed client requires one.
    expectProblem(await call("PUT", acct(f, "/webhook"), f.key, { url: "https://hooks.acme.example/" }), 400, "invalid_request");
  });
});

describe("who may call the billing routes", () => {
  const routes = (f: Fixture) =>
    [
      ["GET", acct(f, "/billing/preview")],
      ["GET", acct(f, "/billing/summaries")],
      ["PUT", acct(f, "/webhook"), { url: "https://hooks.acme.example/", secret: "0123456789abcdef" }],
      ["DELETE", acct(f, "/webhook")],
      ["GET", acct(f, "/webhook/deliveries")],
      ["POST", acct(f, "/webhook/deliveries/evt_x/redeliver")],
    ] as const;

  it("401 without a credential, 403 for an agent token, 404 for another account's key", async () => {
    const f = await newAccount();
    const other = await newAccount();
    await putPool(f, "essentials-named", 1);
    const [user] = await licensedUsers(f, "essentials-named", 1);
    const agent = await agentToken(f, user);
    for (const [method, path, body] of routes(f)) {
      // A table of routes: through `call`, since the typed client spells out one route per call.
      expectProblem(await call(method, path, null, body), 401, "unauthorized");
      expectProblem(await call(method, path, agent, body), 403, "forbidden");
      expectProblem(await call(method, path, other.key, body), 404, "not_found");
    }
    expect((await call("GET", acct(f), f.key)).body.webhook_url).toBeNull();
  });

  it("the operator may call them for any account; an unknown account is 404", async () => {
    const f = await newAccount();
    expect((await call("GET", acct(f, "/billing/preview"), OPERATOR)).status).toBe(200);
    expectProblem(await call("GET", "/v1/accounts/no-such-account/billing/preview", OPERATOR), 404, "not_found");
  });
});

describe("GET …/webhook/deliveries", () => {
  it("lists events with their delivery state, newest first, and 404s a redelivery of an unknown event", async () => {
    const f = await newAccount();
    const [c0] = await cyclesOf(f, 1);
    const h = harness();
    await setClock(f, c0.end + HOUR);
    await runQueue(h, "seatkeeper-billing", [{ account_id: f.accountId, cycle_start: iso(c0.start), cycle_end: iso(c0.end) }]);
    const res = await call("GET", acct(f, "/webhook/deliveries"), f.key);
    expect(res.status).toBe(200);
    expect(res.body.items).toEqual([
      { id: `evt_summary_${iso(c0.start)}`, type: "billing.summary", created_at: iso(c0.end + HOUR), status: "pending", attempts: 0, delivered_at: null, dead_at: null, last_error: null },
    ]);
    expect((await call("GET", acct(f, "/webhook/deliveries?status=delivered"), f.key)).body.items).toEqual([]);
    expectProblem(await call("POST", acct(f, "/webhook/deliveries/evt_nope/redeliver"), f.key), 404, "not_found");
    expectProblem(await call("GET", acct(f, "/webhook/deliveries?status=lost"), f.key), 400, "invalid_request");
  });
});

describe("OpenAPI", () => {
  it("describes the billing and webhook routes", async () => {
    const doc = await call("GET", "/openapi.json");
    for (const path of [
      "/v1/accounts/{account_id}/billing/preview",
      "/v1/accounts/{account_id}/billing/summaries",
      "/v1/accounts/{account_id}/webhook",
      "/v1/accounts/{account_id}/webhook/deliveries",
    ]) {
      expect(doc.body.paths[path], path).toBeDefined();
    }
    expect(Object.keys(doc.body.components.schemas)).toEqual(expect.arrayContaining(["BillingSummary", "PoolSummary", "AddonSummary", "WebhookDelivery"]));
  });
});
