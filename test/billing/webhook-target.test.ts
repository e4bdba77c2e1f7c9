import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import type { Env } from "../../src/env";
import { auditOf, call, expectProblem, newAccount, setClock, MIN, type Fixture, api, replyOf } from "../helpers";
import { cyclesOf, harness, iso, runQueue, storedEvents, type Harness } from "./support";

/**
 * No SSRF through webhooks, over HTTP and in the consumer: every internal target issue 10 lists is
 * refused by PUT …/webhook and changes nothing; the loopback exception exists only while
 * WEBHOOK_ALLOW_LOOPBACK is "true"; a URL stored under an older rule is never fetched.
 */

const SECRET = "0123456789abcdef";
const GOOD = "https://hooks.acme.example/seat";

/** The deployed rule: the same Worker with WEBHOOK_ALLOW_LOOPBACK unset. */
const deployedEnv = (): Env => ({ ...(env as unknown as Env), WEBHOOK_ALLOW_LOOPBACK: undefined });

async function putAsDeployed(f: Fixture, url: string) {
  const res = await worker.fetch(
    new Request(`http://seatkeeper.test/v1/accounts/${f.accountId}/webhook`, {
      method: "PUT",
      headers: { authorization: `Bearer ${f.key}`, "content-type": "application/json" },
      body: JSON.stringify({ url, secret: SECRET }),
    }),
    deployedEnv(),
    createExecutionContext(),
  );
  return { status: res.status, body: (await res.json()) as any, headers: res.headers };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("PUT …/webhook refuses internal targets", () => {
  const ISSUE_URLS = [
    "https://127.0.0.1",
    "https://169.254.169.254",
    "https://10.0.0.1",
    "https://192.168.1.1",
    "https://100.64.0.1",
    "https://[fd00:ec2::254]",
    "https://0.0.0.0",
    "https://2130706433",
    "https://0177.0.0.1",
    "https://[::ffff:169.254.169.254]",
    "https://localhost",
    "https://metadata.google.internal",
    "https://user:pass@host.example.com",
    "https://printer.local/hook",
    "https://nas.home.arpa/hook",
    "https://app.localhost/hook",
    "https://[::127.0.0.1]/hook",
  ];

  it("400 invalid_request naming `url`, and nothing changes: the webhook and the audit log stay as they were", async () => {
    const f = await newAccount();
    expect((await replyOf(api(f.key).accounts[":account_id"].webhook.$put({ param: { account_id: f.accountId }, json: { url: GOOD, secret: SECRET } }))).status).toBe(200);
    const auditBefore = await auditOf(f);
    for (const url of ISSUE_URLS) {
      for (const res of [await replyOf(api(f.key).accounts[":account_id"].webhook.$put({ param: { account_id: f.accountId }, json: { url, secret: SECRET } })), await putAsDeployed(f, url)]) {
        expectProblem(res, 400, "invalid_request");
        expect(res.body.errors, url).toEqual([{ path: "url", message: expect.any(String) }]);
        // The refused URL's password is not echoed back.
        expect(JSON.stringify(res.body)).not.toContain("pass@");
      }
    }
    expect((await call("GET", `/v1/accounts/${f.accountId}`, f.key)).body.webhook_url).toBe(GOOD);
    expect(await auditOf(f)).toEqual(auditBefore);
  });

  it("stores the normalized URL", async () => {
    const f = await newAccount();
    const res = await replyOf(api(f.key).accounts[":account_id"].webhook.$put({ param: { account_id: f.accountId }, json: { url: "https://HOOKS.Acme.Example:443/seat", secret: SECRET } }));
    expect(res.status).toBe(200);
    expect(res.body.url).toBe(GOOD);
    expect((await call("GET", `/v1/accounts/${f.accountId}`, f.key)).body.webhook_url).toBe(GOOD);
  });

  it("plain http to loopback only while WEBHOOK_ALLOW_LOOPBACK is true (the tests set it; a deployment does not)", async () => {
    const f = await newAccount();
    for (const url of ["http://localhost:8788/hook", "http://127.0.0.1:9000/", "http://[::1]:3000/x"]) {
      expect((await replyOf(api(f.key).accounts[":account_id"].webhook.$put({ param: { account_id: f.accountId }, json: { url, secret: SECRET } }))).status, url).toBe(200);
      const deployed = await putAsDeployed(f, url);
      expect(deployed.status, url).toBe(400);
      expect(deployed.body.errors[0].path).toBe("url");
    }
    expect((await putAsDeployed(f, GOOD)).status).toBe(200);
  });
});

describe("delivery checks the stored URL again before each attempt", () => {
  /** An account whose webhook row was written under an older, looser rule (straight to D1). */
  async function storedUnderOldRule(h: Harness, url: string) {
    const f = await newAccount();
    expect((await replyOf(api(f.key).accounts[":account_id"].webhook.$put({ param: { account_id: f.accountId }, json: { url: GOOD, secret: SECRET } }))).status).toBe(200);
    await env.DB.prepare("UPDATE accounts SET webhook_url = ? WHERE id = ?").bind(url, f.accountId).run();
    const [c0] = await cyclesOf(f, 1);
    await setClock(f, c0.end + 60 * MIN);
    await runQueue(h, "seatkeeper-billing", [{ account_id: f.accountId, cycle_start: iso(c0.start), cycle_end: iso(c0.end) }]);
    const message = h.events.sent.find((m) => m.account_id === f.accountId)!;
    return { f, message };
  }

  it.each(["https://169.254.169.254/latest/meta-data/", "https://10.0.0.1/hook", "https://user:pw@hooks.acme.example/", "https://metadata.google.internal/"])(
    "never fetches %s",
    async (url) => {
      const h = harness();
      const { f, message } = await storedUnderOldRule(h, url);
      const fetched = vi.spyOn(globalThis, "fetch").mockResolvedValue(new Response("ok"));
      const result = await runQueue(h, "seatkeeper-events", [message]);
      expect(result.acked).toHaveLength(1); // settled: no retry chain against a refused target
      expect(fetched).not.toHaveBeenCalled();
      const row = (await storedEvents(f)).find((e) => e.id === message.event_id);
      expect(row).toMatchObject({ delivered_at: null, attempts: 0, last_error: "url_refused", no_endpoint_at: expect.any(String) });
    },
  );

  it("a loopback URL stored while the setting was on is not fetched once it is off", async () => {
    const h = harness();
    const { f, message } = await storedUnderOldRule(h, "http://127.0.0.1:9999/hook");
    const fetched = vi.spyOn(globalThis, "fetch").mockResolvedValue(new Response("ok"));
    await runQueue({ ...h, env: { ...h.env, WEBHOOK_ALLOW_LOOPBACK: undefined } }, "seatkeeper-events", [message]);
    expect(fetched).not.toHaveBeenCalled();
    expect((await storedEvents(f)).find((e) => e.id === message.event_id)).toMatchObject({ delivered_at: null, last_error: "url_refused" });
  });
});
