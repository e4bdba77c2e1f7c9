import { describe, expect, it } from "vitest";
import { ApiError, ERROR_CODES, fail, fromHttpException, problemBody, statusOf, unwrap } from "../../src/errors";
import { call, expectProblem, fetchWorker, newAccount, OPERATOR, replyOf } from "../helpers";

/** docs/api.md "Errors": the status of an error follows from its code, in one table. */
describe("the error table", () => {
  it("gives every code one 4xx or 5xx status and a title", () => {
    for (const code of ERROR_CODES) {
      const status = statusOf(code);
      expect(status, code).toBeGreaterThanOrEqual(400);
      expect(status, code).toBeLessThan(600);
      const body = problemBody(new ApiError(code, "x"));
      expect(body.title.length, code).toBeGreaterThan(0);
      expect(body.status, code).toBe(status);
    }
  });

  it("maps the contract's codes to their statuses", () => {
    expect(
      Object.fromEntries(
        (["invalid_request", "unauthorized", "forbidden", "not_found", "already_exists", "named_pool_full", "no_license", "session_not_found", "payload_too_large", "unsupported_media_type", "idempotency_key_reused", "rate_limited", "internal", "not_configured"] as const).map((c) => [c, statusOf(c)]),
      ),
    ).toEqual({
      invalid_request: 400,
      unauthorized: 401,
      forbidden: 403,
      not_found: 404,
      already_exists: 409,
      named_pool_full: 409,
      no_license: 403,
      session_not_found: 404,
      payload_too_large: 413,
      unsupported_media_type: 415,
      idempotency_key_reused: 422,
      rate_limited: 429,
      internal: 500,
      not_configured: 503,
    });
  });

  it("takes the status from the code unless the call site overrides it, and keeps the override across RPC", () => {
    expect(new ApiError("named_pool_full", "full").status).toBe(409);
    const overridden = new ApiError("no_license", "no license for the add-on", { user_id: "u" }, 409);
    expect(overridden.status).toBe(409);
    const again = (() => {
      try {
        unwrap(JSON.parse(JSON.stringify(fail(overridden))));
      } catch (err) {
        return err as ApiError;
      }
    })();
    expect(again).toBeInstanceOf(ApiError);
    expect([again!.status, again!.code, again!.detail, again!.extra]).toEqual([409, "no_license", "no license for the add-on", { user_id: "u" }]);
  });

  it("turns the framework's refusals into the API's codes", () => {
    expect(fromHttpException({ status: 415, message: "Unsupported Media Type" }).code).toBe("unsupported_media_type");
    expect(fromHttpException({ status: 413, message: "too big" }).code).toBe("payload_too_large");
    const malformed = fromHttpException({ status: 400, message: "Malformed JSON in request body" });
    expect([malformed.status, malformed.code, malformed.extra]).toEqual([400, "invalid_request", { errors: [{ path: "(body)", message: "Malformed JSON in request body" }] }]);
  });
});

describe("errors over HTTP", () => {
  it("a JSON body sent as text/plain is 415 unsupported_media_type", async () => {
    const f = await newAccount();
    const res = await replyOf(
      fetchWorker(`http://seatkeeper.test/v1/accounts/${f.accountId}/pools/elite-named`, {
        method: "PUT",
        headers: { authorization: `Bearer ${f.key}`, "content-type": "text/plain" },
        body: '{"quantity": 1}',
      }),
    );
    expectProblem(res, 415, "unsupported_media_type");
    expect((await call("GET", `/v1/accounts/${f.accountId}/pools`, f.key)).body.items).toEqual([]);
  });

  it("an unknown route is 404 not_found as problem+json", async () => {
    expectProblem(await call("GET", "/v1/nothing-here", OPERATOR), 404, "not_found");
  });
});
