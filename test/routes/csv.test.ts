import { describe, expect, it } from "vitest";
import { csvLine, csvResponse, paged } from "../../src/routes/csv";
import { cyclesOf, forAccount, harness, runQueue, runScheduled } from "../billing/support";
import { agentTokens, auditOf, call, checkout, expectProblem, fetchWorker, licensedUsers, MIN, newAccount, putPool, release, setClock, type Fixture, api, replyOf } from "../helpers";

/** CSV exports (docs/api.md#csv-exports). */

const acct = (f: Fixture, rest = "") => `/v1/accounts/${f.accountId}${rest}`;

/** A minimal RFC 4180 reader, to check what a spreadsheet would see. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") row.push(cell), (cell = "");
    else if (ch === "\r" && text[i + 1] === "\n") row.push(cell), rows.push(row), (row = []), (cell = ""), i++;
    else cell += ch;
  }
  if (cell !== "" || row.length) throw new Error(`unterminated last line: ${JSON.stringify(row)} ${cell}`);
  return rows;
}

async function getCsv(f: Fixture, path: string, headers: Record<string, string> = {}) {
  const res = await fetchWorker(`http://seatkeeper.test${acct(f, path)}`, { headers: { authorization: `Bearer ${f.key}`, ...headers } });
  return { status: res.status, type: res.headers.get("content-type"), disposition: res.headers.get("content-disposition"), rows: parseCsv(await res.text()) };
}

describe("csvLine", () => {
  it("quotes what needs quoting, doubles quotes, ends with CRLF, and defuses spreadsheet formulas in text", () => {
    expect(csvLine(["a", 1, null, true])).toBe("a,1,,true\r\n");
    expect(csvLine(['say "hi"', "x,y", "two\nlines"])).toBe('"say ""hi""","x,y","two\nlines"\r\n');
    expect(csvLine(["=HYPERLINK(1)", "+1", "-2", "@x", -5])).toBe("'=HYPERLINK(1),'+1,'-2,'@x,-5\r\n");
  });
});

describe("csvResponse", () => {
  it("streams the header and then page after page, pulling a page only when the reader asks", async () => {
    const asked: (number | null)[] = [];
    const pages = paged(async (after: number | null) => {
      asked.push(after);
      const start = after ?? 0;
      return { items: [start, start + 1], next: start + 2 < 6 ? start + 2 : null };
    });
    const res = csvResponse("n.csv", ["n"], pages, (n) => [n]);
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe("n\r\n");
    expect(asked).toEqual([]); // nothing fetched before the body is read
    let rest = "";
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += new TextDecoder().decode(r.value);
    expect(rest).toBe("0\r\n1\r\n2\r\n3\r\n4\r\n5\r\n");
    expect(asked).toEqual([null, 2, 4]);
  });
});

describe("CSV over HTTP", () => {
  it("users: the same rows as the JSON list, with filters, by format=csv or Accept: text/csv", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 5);
    await licensedUsers(f, "premium-concurrent", 3);
    expect((await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].$put({ param: { account_id: f.accountId, user_id: "odd" }, json: { display_name: '=Ada "the, first" Lovelace', email: "ada@example.com" } }))).status).toBe(200);

    const all = await getCsv(f, "/users?format=csv");
    expect(all.status).toBe(200);
    expect(all.type).toBe("text/csv; charset=utf-8");
    expect(all.disposition).toContain(`users-${f.accountId}.csv`);
    expect(all.rows[0]).toEqual(["id", "display_name", "email", "pool", "addons", "created_at", "team"]);
    expect(all.rows.slice(1).map((r) => r[0])).toEqual(["agent-0", "agent-1", "agent-2", "odd"]);
    expect(all.rows[4].slice(1, 4)).toEqual(['\'=Ada "the, first" Lovelace', "ada@example.com", ""]);

    const viaAccept = await getCsv(f, "/users?pool=premium-concurrent", { accept: "text/csv" });
    expect(viaAccept.rows.slice(1).map((r) => r[0])).toEqual(["agent-0", "agent-1", "agent-2"]);
    // A client that accepts JSON too gets JSON.
    const json = await fetchWorker(`http://seatkeeper.test${acct(f, "/users")}`, { headers: { authorization: `Bearer ${f.key}`, accept: "application/json, text/csv" } });
    expect(json.headers.get("content-type")).toMatch(/^application\/json/);

    expectProblem(await call("GET", acct(f, "/users?format=xlsx"), f.key), 400, "invalid_request");
    const other = await newAccount();
    expectProblem(await call("GET", acct(f, "/users?format=csv"), other.key), 404, "not_found");
  });

  it("audit, usage, overages and summaries export what their JSON lists say", async () => {
    const f = await newAccount({ grace_seconds: 600, lease_ttl_seconds: 3600 });
    await putPool(f, "premium-concurrent", 1);
    const tokens = await agentTokens(f, await licensedUsers(f, "premium-concurrent", 2));
    const [c0] = await cyclesOf(f, 1);
    await setClock(f, c0.end - 60 * MIN);
    for (const t of tokens) expect((await checkout(t)).status).toBe(200);
    await setClock(f, c0.end - 30 * MIN);
    for (const t of tokens) expect((await release(t)).status).toBe(204);

    const audit = await getCsv(f, "/audit?format=csv");
    const entries = await auditOf(f);
    expect(audit.rows[0]).toEqual(["id", "at", "actor", "action", "target", "detail"]);
    expect(audit.rows.slice(1).map((r) => [Number(r[0]), r[3], JSON.parse(r[5])])).toEqual(entries.map((e) => [e.id, e.action, e.detail]));

    const from = new Date(c0.end - 90 * MIN).toISOString();
    const to = new Date(c0.end - 20 * MIN).toISOString();
    const usage = await getCsv(f, `/pools/premium-concurrent/usage?from=${from}&to=${to}&step_seconds=600&format=csv`);
    const rows = (await call("GET", acct(f, `/pools/premium-concurrent/usage?from=${from}&to=${to}&step_seconds=600`), f.key)).body.items;
    expect(usage.rows).toEqual([["t", "max_active", "limit", "denied"], ...rows.map((b: any) => [b.t, String(b.max_active), String(b.limit), String(b.denied)])]);

    const overages = await getCsv(f, "/overages?format=csv");
    const listed = (await call("GET", acct(f, "/overages"), f.key)).body.items;
    expect(listed).toHaveLength(1);
    expect(overages.rows.length).toBe(2);
    const header = overages.rows[0];
    expect(Object.fromEntries(header.map((k, i) => [k, overages.rows[1][i]]))).toMatchObject({
      id: listed[0].id,
      pool: "premium-concurrent",
      peak_overage: "1",
      billable: "true",
      billable_overage_seats: "1",
      billable_seat_seconds: String(listed[0].billable_seat_seconds),
    });

    const h = harness();
    await setClock(f, c0.end + 60 * MIN);
    await runScheduled(h, c0.end + 7 * MIN);
    await runQueue(h, "seatkeeper-billing", forAccount(h.billing.sent, f));
    const summaries = await getCsv(f, "/billing/summaries", { accept: "text/csv" });
    const line = Object.fromEntries(summaries.rows[0].map((k, i) => [k, summaries.rows[1][i]]));
    expect(line).toMatchObject({ pool: "premium-concurrent", final: "true", peak_active: "2", billable_overage_seats: "1", currency: "" });
  });
});
