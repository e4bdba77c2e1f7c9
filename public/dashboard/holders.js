// Over-limit intervals of the chart's range, and who counted in one (docs/licensing.md#who-counted):
// choosing an interval lists the seat holds that overlapped its billable part, from
// GET …/overages/{interval_id}/holders, with a CSV download of the whole list.
import { $, badge, fmtDuration, fmtInt, fmtTime, h, table } from "./dom.js";
import { api } from "./api.js";
import { deniedNote, isDenied } from "./access.js";
import { state } from "./state.js";
import { csvButton } from "./exports.js";

/** Holders shown at once; the CSV has them all. */
const HOLDERS_PAGE = 100;
/** The interval whose holders are open, kept across refreshes. */
let chosen = null;

export function renderIntervalList() {
  const box = $("intervals");
  if (!box) return;
  if (isDenied("pools")) {
    box.replaceChildren(deniedNote("pools", "the over-limit intervals"));
    return;
  }
  const items = state.overages;
  if (!items.length) {
    box.replaceChildren(h("p", { class: "muted", text: "No over-limit interval in the chart's range." }));
    return;
  }
  const rows = items.map((i) => {
    const open = i.ended_at === null;
    const button = h("button", { type: "button", "data-holders-for": i.id, "aria-expanded": String(chosen === i.id), text: "Who counted" });
    button.addEventListener("click", () => showHolders(i));
    return h(
      "tr",
      { "data-interval": i.id },
      h("th", { scope: "row", text: i.pool }),
      h("td", { text: fmtTime(i.started_at) }),
      h("td", { text: open ? "open" : fmtDuration((Date.parse(i.ended_at) - Date.parse(i.started_at)) / 1000) }),
      h("td", { class: "num", text: `${fmtInt(i.peak_active)} (+${fmtInt(i.peak_overage)})` }),
      h("td", {}, i.billable ? badge("over", `BILLABLE ${fmtInt(i.billable_overage_seats)}`) : badge("ok", "within grace")),
      h("td", {}, button),
    );
  });
  const panel = h("div", { id: "holders-panel", "aria-live": "polite" });
  box.replaceChildren(table("Over-limit intervals in the chart's range, newest first", ["Pool", "Started", "Lasted", "Peak active (overage)", "Billable", "Holders"], rows, { testid: "intervals-table" }), panel);
  const current = items.find((i) => i.id === chosen);
  if (current) void showHolders(current);
}

async function showHolders(interval) {
  chosen = interval.id;
  for (const b of document.querySelectorAll("[data-holders-for]")) b.setAttribute("aria-expanded", String(b.dataset.holdersFor === chosen));
  const panel = $("holders-panel");
  if (!panel) return;
  const heading = h("h3", { text: `Who counted in ${interval.pool} from ${fmtTime(interval.started_at)}` });
  panel.replaceChildren(heading, h("p", { class: "muted", text: "Loading…" }));
  let reply;
  try {
    reply = await api(`/overages/${encodeURIComponent(interval.id)}/holders?limit=${HOLDERS_PAGE}`);
  } catch (err) {
    panel.replaceChildren(heading, h("p", { class: "error", text: `The holders could not be loaded: ${err.message}` }));
    return;
  }
  if (chosen !== interval.id) return; // another interval was chosen meanwhile
  const csv = csvButton("All holders", `/overages/${encodeURIComponent(interval.id)}/holders?format=csv`, `holders-${interval.id}.csv`, "holders");
  if (!reply.items.length) {
    panel.replaceChildren(heading, h("p", { class: "muted", "data-testid": "holders-none", text: "Nobody: this interval never became billable (every place left within its grace)." }));
    return;
  }
  const rows = reply.items.map((x) =>
    h(
      "tr",
      { "data-holder": x.user_id },
      h("th", { scope: "row", text: x.user_id }),
      h("td", { text: fmtTime(x.held_from) }),
      h("td", { text: x.held_to === null ? "still holding" : fmtTime(x.held_to) }),
      h("td", { class: "num", text: fmtDuration(x.billable_seconds) }),
      h("td", { text: x.at_peak ? "yes, at the peak" : "no" }),
    ),
  );
  panel.replaceChildren(
    heading,
    h(
      "p",
      {},
      `Everyone who held a seat while places were billable (${fmtInt(reply.interval.billable_overage_seats)} billable at the peak). Times are the seat's own, not cut to the interval.`,
      reply.next_cursor ? ` The first ${HOLDERS_PAGE} are shown; the CSV has them all.` : "",
    ),
    table("Holders of the interval's billable part", ["User", "Held from", "Held until", "Billable time", "At the billable peak"], rows, { testid: "holders-table" }),
    csv,
  );
}

/** Sign-out: nothing of the last account stays on the page. */
export function clearIntervalList() {
  chosen = null;
  $("intervals")?.replaceChildren();
}
