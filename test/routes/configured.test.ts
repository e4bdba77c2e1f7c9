import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { mintAgentToken } from "../../src/auth/agent-tokens";
import { configProblems, MIN_SECRET_LENGTH } from "../../src/auth/configured";
import type { Env } from "../../src/env";
import worker from "../../src/index";
import { agentToken, expectProblem, licensedUsers, newAccount, OPERATOR, putPool, type Reply } from "../helpers";

/** README "Security": the service fails closed on missing or weak secrets. */

const GOOD = "k".repeat(MIN_SECRET_LENGTH);

async function callWith(vars: Partial<Env>, method: string, path: string, token?: string, body?: unknown): Promise<Reply> {
  const headers: Record<string, string> = body === undefined ? {} : { "content-type": "application/json" };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const res = await worker.fetch(
    new Request(`http://seatkeeper.test${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }),
    { ...(env as unknown as Env), ...vars },
    createExecutionContext(),
  );
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
}

describe("configProblems", () => {
  it("names what is missing or too short, never a value", () => {
    expect(configProblems({ OPERATOR_TOKEN: GOOD })).toEqual({ missing: [], too_short: [] });
    expect(configProblems({ OPERATOR_TOKEN: GOOD, AGENT_SIGNING_KEY: GOOD })).toEqual({ missing: [], too_short: [] });
    expect(configProblems({ OPERATOR_TOKEN: "" })).toEqual({ missing: ["OPERATOR_TOKEN"], too_short: [] });
    expect(configProblems({ OPERATOR_TOKEN: undefined as unknown as string })).toEqual({ missing: ["OPERATOR_TOKEN"], too_short: [] });
    expect(configProblems({ OPERATOR_TOKEN: GOOD.slice(1) })).toEqual({ missing: [], too_short: ["OPERATOR_TOKEN"] });
    expect(configProblems({ OPERATOR_TOKEN: "xyz", AGENT_SIGNING_KEY: "" })).toEqual({ missing: [], too_short: ["OPERATOR_TOKEN", "AGENT_SIGNING_KEY"] });
    expect(configProblems({ OPERATOR_TOKEN: GOOD, AGENT_SIGNING_KEY: "short" })).toEqual({ missing: [], too_short: ["AGENT_SIGNING_KEY"] });
  });
});

describe("fail closed", () => {
  it("the test deployment itself is configured: /healthz is 200", async () => {
    expect(OPERATOR.length).toBeGreaterThanOrEqual(MIN_SECRET_LENGTH);
    const res = await callWith({}, "GET", "/healthz");
    expect([res.status, res.body]).toEqual([200, { ok: true }]);
  });

  const broken: Array<[string, Partial<Env>, { missing: string[]; too_short: string[] }]> = [
    ["OPERATOR_TOKEN unset", { OPERATOR_TOKEN: undefined as unknown as string }, { missing: ["OPERATOR_TOKEN"], too_short: [] }],
    ["OPERATOR_TOKEN empty", { OPERATOR_TOKEN: "" }, { missing: ["OPERATOR_TOKEN"], too_short: [] }],
    ["OPERATOR_TOKEN of 3 characters", { OPERATOR_TOKEN: "xyz" }, { missing: [], too_short: ["OPERATOR_TOKEN"] }],
    ["OPERATOR_TOKEN of 31 characters", { OPERATOR_TOKEN: GOOD.slice(1) }, { missing: [], too_short: ["OPERATOR_TOKEN"] }],
    ["AGENT_SIGNING_KEY too short", { AGENT_SIGNING_KEY: "short-key" }, { missing: [], too_short: ["AGENT_SIGNING_KEY"] }],
  ];

  for (const [name, vars, expected] of broken) {
    it(`${name}: /healthz is 503 naming it, without any value`, async () => {
      const res = await callWith(vars, "GET", "/healthz");
      expectProblem(res, 503, "not_configured");
      expect({ missing: res.body.missing, too_short: res.body.too_short }).toEqual(expected);
      const text = JSON.stringify(res.body);
      for (const value of [vars.OPERATOR_TOKEN, vars.AGENT_SIGNING_KEY]) if (value) expect(text).not.toContain(value);
    });
  }

  it("every /v1 request is 503 not_configured and accepts no credential at all", async () => {
    const f = await newAccount();
    await putPool(f, "elite-concurrent", 5);
    const [user] = await licensedUsers(f, "elite-concurrent", 1);
    const realAgent = await agentToken(f, user);
    const now = Math.floor(Date.now() / 1000);
    // The attack of issue 10: a token signed with the key derived from an empty operator token.
    const forged = (await mintAgentToken({ OPERATOR_TOKEN: "" }, f.accountId, user, 0, now, 3600)).token;
    for (const [vars] of [[{ OPERATOR_TOKEN: "" }], [{ OPERATOR_TOKEN: "xyz" }], [{ AGENT_SIGNING_KEY: "short" }]] as const) {
      const configured = vars as Partial<Env>;
      for (const [method, path, token, body] of [
        ["POST", "/v1/seats/checkout", forged, { session_id: "d" }],
        ["POST", "/v1/seats/checkout", realAgent, { session_id: "d" }],
        ["GET", "/v1/me", realAgent],
        ["GET", `/v1/accounts/${f.accountId}`, f.key],
        ["POST", "/v1/accounts", configured.OPERATOR_TOKEN ?? OPERATOR, { name: "x" }],
        ["POST", "/v1/accounts", "", { name: "x" }],
        ["GET", `/v1/accounts/${f.accountId}/pools`, undefined],
      ] as const) {
        const res = await callWith(configured, method, path, token, body);
        expect({ vars, path, status: res.status, code: res.body?.code }).toEqual({ vars, path, status: 503, code: "not_configured" });
      }
    }
    // Nothing was checked out by any of it.
    const seats = await callWith({}, "GET", `/v1/accounts/${f.accountId}/pools/elite-concurrent/seats`, f.key);
    expect(seats.body.active).toBe(0);
  });
});
