// CSV downloads (docs/api.md#csv-exports): each list the API exports, fetched with the signed-in
// key (never put in a URL) and handed to the browser as a file. The service streams the CSV; the
// page holds it only as the Blob it saves.
import { $, h } from "./dom.js";
import { credentials, serverNow } from "./api.js";
import { isDenied } from "./access.js";
import { RANGES } from "./usage.js";
import { state } from "./state.js";

/** GET the path (under the account) as CSV and save it as `filename`. */
export async function downloadCsv(path, filename) {
  const c = credentials();
  if (!c) return;
  const res = await fetch(`/v1/accounts/${encodeURIComponent(c.account)}${path}`, {
    headers: { authorization: `Bearer ${c.key}`, accept: "text/csv" },
    cache: "no-store",
    credentials: "omit",
    referrerPolicy: "no-referrer",
  });
  if (!res.ok) {
    let detail = `HTTP ${res.status}`;
    try {
      detail = (await res.json()).detail ?? detail;
    } catch {
      // not problem+json
    }
    throw new Error(detail);
  }
  const url = URL.createObjectURL(await res.blob());
  const a = h("a", { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A labelled button that downloads `path` as CSV; failures are said beside it. */
export function csvButton(label, path, filename, testid) {
  const status = h("span", { class: "muted csv-status", role: "status" });
  const button = h("button", { type: "button", class: "csv-button", "data-csv": testid ?? filename, text: `⬇ ${label} (CSV)` });
  button.addEventListener("click", async () => {
    button.disabled = true;
    status.textContent = "Downloading…";
    try {
      await downloadCsv(typeof path === "function" ? path() : path, filename);
      status.textContent = `Saved ${filename}.`;
    } catch (err) {
      status.textContent = `The download failed: ${err.message}`;
    } finally {
      button.disabled = false;
    }
  });
  return h("span", { class: "csv-download" }, button, " ", status);
}

/** The window of the chart range, for the exports that take one. */
function rangeQuery(range) {
  const from = new Date(serverNow() - RANGES[range].ms).toISOString();
  return `from=${encodeURIComponent(from)}&to=${encodeURIComponent(new Date(serverNow()).toISOString())}`;
}

/** The Exports card: one button per list (the chart's range for usage, overages and denials; `team`: the charted team's usage too). */
export function renderExports(range, team = "") {
  const box = $("exports");
  if (!box) return;
  const account = credentials()?.account ?? "account";
  const label = RANGES[range].label;
  const items = [];
  for (const p of state.pools.filter((p) => p.model === "concurrent")) {
    const step = RANGES[range].step;
    items.push(csvButton(`Usage of ${p.id}, ${label}`, () => `/pools/${p.id}/usage?${rangeQuery(range)}&step_seconds=${step}&format=csv`, `usage-${p.id}.csv`, `usage-${p.id}`));
    if (team) items.push(csvButton(`Usage of team ${team} in ${p.id}, ${label}`, () => `/pools/${p.id}/usage?team=${encodeURIComponent(team)}&${rangeQuery(range)}&step_seconds=${step}&format=csv`, `usage-${p.id}-${team}.csv`, `usage-${p.id}-team`));
    items.push(csvButton(`Chargeback by team of ${p.id}, ${label}`, () => `/pools/${p.id}/chargeback?${rangeQuery(range)}&format=csv`, `chargeback-${p.id}.csv`, `chargeback-${p.id}`));
  }
  if (!isDenied("pools")) items.push(csvButton(`Over-limit intervals, ${label}`, () => `/overages?${rangeQuery(range)}&format=csv`, `overages-${account}.csv`, "overages"));
  if (!isDenied("pools")) items.push(csvButton(`Denials, ${label}`, () => `/denials?${rangeQuery(range)}&format=csv`, `denials-${account}.csv`, "denials"));
  if (!isDenied("billing")) items.push(csvButton("Billing summaries", "/billing/summaries?format=csv", `summaries-${account}.csv`, "summaries"));
  if (!isDenied("users")) items.push(csvButton("Users", "/users?format=csv", `users-${account}.csv`, "users"));
  if (!isDenied("account")) items.push(csvButton("Audit log", "/audit?format=csv", `audit-${account}.csv`, "audit"));
  box.replaceChildren(h("ul", { class: "exports" }, items.map((i) => h("li", {}, i))));
}

/** Sign-out: nothing of the last account stays on the page. */
export function clearExports() {
  $("exports")?.replaceChildren();
}
