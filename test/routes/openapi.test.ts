import { describe, expect, it } from "vitest";
import { app } from "../../src/app";
import { call, newAccount, OPERATOR } from "../helpers";

/** The service's own surface: /healthz, /openapi.json (complete), /docs, unknown routes. */

/** Every route issue 2 delivers, as the README's Endpoints table lists it (path and method). */
const EXPECTED: Record<string, string[]> = {
  "/healthz": ["get"],
  "/v1/accounts": ["post"],
  "/v1/accounts/{account_id}": ["get", "patch"],
  "/v1/accounts/{account_id}/api-keys": ["post"],
  "/v1/accounts/{account_id}/api-keys/{key_id}": ["delete"],
  "/v1/accounts/{account_id}/pools": ["get"],
  "/v1/accounts/{account_id}/pools/{pool_id}": ["put"],
  "/v1/accounts/{account_id}/pools/{pool_id}/seats": ["get"],
  "/v1/accounts/{account_id}/pools/{pool_id}/seats/{user_id}": ["delete"],
  "/v1/accounts/{account_id}/pools/{pool_id}/usage": ["get"],
  "/v1/accounts/{account_id}/users": ["get"],
  "/v1/accounts/{account_id}/users/{user_id}": ["put", "get", "delete"],
  "/v1/accounts/{account_id}/users/{user_id}/license": ["put", "delete"],
  "/v1/accounts/{account_id}/users/{user_id}/agent-token": ["post"],
  "/v1/accounts/{account_id}/licenses:batch": ["post"],
  "/v1/accounts/{account_id}/audit": ["get"],
  "/v1/accounts/{account_id}/overages": ["get"],
  "/v1/seats/checkout": ["post"],
  "/v1/seats/heartbeat": ["post"],
  "/v1/seats/release": ["post"],
  "/v1/me": ["get"],
};

/** Hono's `/:param` to OpenAPI's `/{param}` (the `:` of `licenses:batch` is not a parameter). */
const toOpenApi = (path: string) => path.replace(/\/:([A-Za-z_][A-Za-z0-9_]*)/g, "/{$1}");

describe("GET /openapi.json", () => {
  it("is served without credentials as an OpenAPI 3.1 document", async () => {
    const res = await call("GET", "/openapi.json");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(res.body.openapi).toMatch(/^3\.1/);
    expect(res.body.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
    expect(res.body.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
  });

  it("lists every route of issue 2 with its methods", async () => {
    const paths = (await call("GET", "/openapi.json")).body.paths as Record<string, Record<string, unknown>>;
    for (const [path, methods] of Object.entries(EXPECTED)) {
      expect(paths[path], `missing path ${path}`).toBeDefined();
      for (const m of methods) expect(paths[path][m], `missing ${m.toUpperCase()} ${path}`).toBeDefined();
    }
  });

  it("describes every route the app actually serves (nothing undocumented)", async () => {
    const paths = (await call("GET", "/openapi.json")).body.paths as Record<string, Record<string, unknown>>;
    const served = new Set(
      app.routes
        .filter((r) => r.method !== "ALL" && !["/openapi.json", "/docs"].includes(r.path))
        .map((r) => `${r.method.toLowerCase()} ${toOpenApi(r.path)}`),
    );
    expect(served.size).toBeGreaterThanOrEqual(Object.values(EXPECTED).flat().length);
    const missing = [...served].filter((route) => {
      const [method, path] = route.split(" ");
      return !paths[path]?.[method];
    });
    expect(missing).toEqual([]);
  });

  it("documents parameters, request bodies and error replies", async () => {
    const doc = (await call("GET", "/openapi.json")).body;
    const putPool = doc.paths["/v1/accounts/{account_id}/pools/{pool_id}"].put;
    expect(putPool.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`).sort()).toEqual(["header:Idempotency-Key", "path:account_id", "path:pool_id"]);
    expect(putPool.requestBody.content["application/json"].schema).toBeDefined();
    expect(Object.keys(putPool.responses)).toEqual(expect.arrayContaining(["200", "400", "401", "403", "404", "409"]));
    expect(putPool.responses["409"].content["application/problem+json"]).toBeDefined();
    const putLicense = doc.paths["/v1/accounts/{account_id}/users/{user_id}/license"].put;
    expect(Object.keys(putLicense.responses)).toEqual(expect.arrayContaining(["200", "400", "401", "404", "409"]));
    const listUsers = doc.paths["/v1/accounts/{account_id}/users"].get;
    expect(listUsers.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`)).toEqual(
      expect.arrayContaining(["query:limit", "query:cursor"]),
    );
    expect(doc.paths["/healthz"].get.security).toEqual([]);
  });
});

describe("GET /docs", () => {
  it("serves an HTML page pointing at the document, without credentials", async () => {
    const res = await call("GET", "/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(String(res.body)).toMatch(/<html/i);
    expect(String(res.body)).toContain("/openapi.json");
  });

  it("is under a Content-Security-Policy that allows only its own origin, and no inline script", async () => {
    const res = await call("GET", "/docs");
    const csp = res.headers.get("content-security-policy") ?? "";
    const directives = new Map(csp.split(";").map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name, values]));
    expect(directives.get("default-src")).toEqual(["'self'"]);
    expect(directives.get("script-src")).toEqual(["'self'"]);
    expect(directives.get("connect-src")).toEqual(["'self'"]);
    expect(directives.get("frame-ancestors")).toEqual(["'none'"]);
    // Nothing but 'self', 'none' and data: images: no host, no scheme, no unsafe-* anywhere.
    for (const [name, values] of directives) {
      for (const v of values) expect(["'self'", "'none'", ...(name === "img-src" ? ["data:"] : [])], `${name} ${v}`).toContain(v);
    }
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  });

  it("references only same-origin URLs: the vendored Swagger UI and its starter, no inline script", async () => {
    const html = String((await call("GET", "/docs")).body);
    const urls = [...html.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => m[1]);
    expect(urls.sort()).toEqual([
      "/docs/swagger-init.js",
      "/openapi.json",
      "/vendor/swagger-ui/favicon-32x32.png",
      "/vendor/swagger-ui/swagger-ui-bundle.js",
      "/vendor/swagger-ui/swagger-ui.css",
    ]);
    for (const url of urls) expect(new URL(url, "https://seatkeeper.test").origin, url).toBe("https://seatkeeper.test");
    expect(html).not.toMatch(/\/\/[a-z0-9.-]+\.[a-z]{2,}/i); // no host written anywhere in the page
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBe(2);
    for (const [, attrs, body] of scripts) {
      expect(attrs).toMatch(/\bsrc="\//);
      expect(body.trim()).toBe("");
    }
    expect(html).not.toMatch(/\son[a-z]+=/i); // no inline event handlers
  });
});

describe("GET /healthz", () => {
  it("needs no credentials, and ignores bad ones", async () => {
    expect((await call("GET", "/healthz")).body).toEqual({ ok: true });
    const withJunk = await call("GET", "/healthz", "garbage");
    expect(withJunk.status).toBe(200);
  });
});

describe("unknown routes", () => {
  it("are 404 not_found as problem+json", async () => {
    const f = await newAccount();
    for (const [method, path, token] of [
      ["GET", "/nope", null],
      ["GET", "/v2/accounts", null],
      ["GET", "/v1/nope", OPERATOR],
      ["GET", `/v1/accounts/${f.accountId}/nope`, f.key],
      ["POST", "/healthz", null],
      ["DELETE", `/v1/accounts/${f.accountId}/pools`, f.key],
    ] as const) {
      const res = await call(method, path, token);
      expect({ route: `${method} ${path}`, status: res.status, code: res.body?.code }).toEqual({
        route: `${method} ${path}`,
        status: 404,
        code: "not_found",
      });
      expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({ type: expect.any(String), title: expect.any(String), status: 404, detail: expect.any(String) });
    }
  });

  it("under /v1 still need a credential first (401 before 404)", async () => {
    const res = await call("GET", "/v1/nope");
    expect(res.status).toBe(401);
    expect(res.body.code).toBe("unauthorized");
  });
});
