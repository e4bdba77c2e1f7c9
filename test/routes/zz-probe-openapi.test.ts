import { it } from "vitest";
import { app } from "../../src/app";
import { call } from "../helpers";
it("probe", async () => {
  console.log(JSON.stringify(app.routes.map((r) => [r.method, r.path])));
  const doc = await call("GET", "/openapi.json");
  console.log(doc.status, JSON.stringify(Object.fromEntries(Object.entries(doc.body.paths).map(([k, v]) => [k, Object.keys(v as object)]))));
  const d = await call("GET", "/docs");
  console.log(d.status, d.headers.get("content-type"), String(d.body).slice(0, 300));
  const n = await call("POST", "/healthz");
  console.log(n.status, n.headers.get("content-type"), JSON.stringify(n.body));
});
