/**
 * SCIM writes of one account take turns at its object (src/seats/turns.ts, decision 230): each
 * reads D1 and sends changes worked out from what it read, so two at once used to read the same
 * user and the second undid the first (a rename lost to a concurrent pool change, answered 200).
 */
import { describe, expect, it } from "vitest";
import { Turns } from "../../src/seats/turns";
import { EXT, PATCH_OP, expectScimError, licenseOf, provisioned, scim, scimUserBody } from "./support";

const user = scimUserBody;
const patch = (Operations: unknown[]) => ({ schemas: [PATCH_OP], Operations });

describe("concurrent SCIM writes of one account", () => {
  it("two PATCHes of different attributes of one user at once both land (10 rounds)", async () => {
    for (let round = 0; round < 10; round++) {
      const f = await provisioned({ "elite-named": 5, "premium-concurrent": 10 });
      const id = `race${round}@idp.local`;
      expect((await scim("POST", "/Users", f.scimKey, user(id, { [EXT]: { pool: "premium-concurrent" } }))).status).toBe(201);
      const path = `/Users/${encodeURIComponent(id)}`;
      const [a, b] = await Promise.all([
        scim("PATCH", path, f.scimKey, patch([{ op: "replace", path: "displayName", value: "Renamed" }])),
        scim("PATCH", path, f.scimKey, patch([{ op: "replace", path: `${EXT}:pool`, value: "elite-named" }])),
      ]);
      expect([a.status, b.status]).toEqual([200, 200]);
      const read = await scim("GET", path, f.scimKey);
      expect({ round, name: read.body.displayName, pool: read.body[EXT].pool, license: (await licenseOf(f, id))?.pool }).toEqual({ round, name: "Renamed", pool: "elite-named", license: "elite-named" });
    }
  });

  it("a refused write gives its turn back: the next one goes on at once", async () => {
    const f = await provisioned();
    expectScimError(await scim("PATCH", "/Users/nobody@idp.local", f.scimKey, patch([{ op: "replace", path: "displayName", value: "X" }])), 404);
    expect((await scim("POST", "/Users", f.scimKey, user("after@idp.local"))).status).toBe(201);
  });
});

describe("Turns", () => {
  it("one at a time, first come first served; a stale token gives nothing back", async () => {
    const turns = new Turns(60_000);
    const first = (await turns.pass())!;
    const order: string[] = [];
    const second = turns.pass().then((t) => (order.push("second"), t!));
    const third = turns.pass().then((t) => (order.push("third"), t!));
    await turns.pass("not-a-turn");
    await new Promise((r) => setTimeout(r, 10));
    expect(order).toEqual([]);
    expect(turns.queued).toBe(2);
    await turns.pass(first);
    const t2 = await second;
    expect(order).toEqual(["second"]);
    await turns.pass(first); // given back twice: the second time changes nothing
    await new Promise((r) => setTimeout(r, 10));
    expect(order).toEqual(["second"]);
    await turns.pass(t2);
    await turns.pass(await third);
    expect(order).toEqual(["second", "third"]);
    expect(turns.queued).toBe(0);
  });

  it("a turn not given back ends after the lease", async () => {
    const turns = new Turns(300);
    await turns.pass(); // its Worker died
    let granted = false;
    const next = turns.pass().then((t) => ((granted = true), t));
    await Promise.resolve();
    expect(granted).toBe(false);
    expect(turns.queued).toBe(1);
    expect(await next).toEqual(expect.any(String));
    expect(turns.queued).toBe(0);
  });
});
