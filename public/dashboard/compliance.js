// Compliance: the add-on shortfall, over-assigned named pools, open overages, recommendations.
import { $, badge, fmtInt, h, table } from "./dom.js";
import { deniedNote, isDenied } from "./access.js";

export function renderCompliance(result) {
  const box = $("compliance");
  if (isDenied("compliance")) {
    box.replaceChildren(deniedNote("compliance", "the compliance report"));
    return;
  }
  if (!result.ok) {
    box.replaceChildren(h("p", { class: "error", text: `The compliance report could not be loaded: ${result.error.message}` }));
    return;
  }
  const c = result.value;
  const shortfalls = (c.addon_shortfall ?? []).filter((s) => s.shortfall > 0);
  const parts = [];
  const clean = !shortfalls.length && !(c.named_pools_over_assigned ?? []).length && !(c.open_overages ?? []).length;
  parts.push(h("p", {}, clean ? badge("ok", "✓ Compliant") : badge("warn", "⚠ ACTION NEEDED"), clean ? " Nothing to fix." : " See below."));
  if ((c.addon_shortfall ?? []).length) {
    parts.push(
      h("h3", { text: "Add-on coverage" }),
      table(
        "Add-on shortfall",
        ["Add-on", "Needed", "Covered", "Shortfall", "Status"],
        c.addon_shortfall.map((s) =>
          h(
            "tr",
            { "data-shortfall": s.product },
            h("th", { scope: "row", text: s.product }),
            h("td", { class: "num", text: fmtInt(s.needed) }),
            h("td", { class: "num", text: fmtInt(s.covered) }),
            h("td", { class: "num", "data-field": "shortfall", text: fmtInt(s.shortfall) }),
            h("td", {}, s.shortfall > 0 ? badge("over", `SHORT BY ${fmtInt(s.shortfall)}`) : badge("ok", "✓ Covered")),
          ),
        ),
        { testid: "shortfall-table" },
      ),
    );
  }
  if ((c.named_pools_over_assigned ?? []).length) {
    parts.push(
      h("h3", { text: "Named pools over-assigned" }),
      h("ul", {}, c.named_pools_over_assigned.map((n) => h("li", { text: `${n.pool}: ${fmtInt(n.assigned)} assigned on ${fmtInt(n.quantity)} licenses` }))),
    );
  }
  parts.push(
    h("h3", { text: "Open overages" }),
    h("p", { text: (c.open_overages ?? []).length ? `${c.open_overages.length} open over-limit interval${c.open_overages.length === 1 ? "" : "s"}: ${c.open_overages.map((o) => `${o.pool} (+${o.peak_overage}${o.billable ? ", BILLABLE" : ", within grace"})`).join("; ")}.` : "None." }),
    h("h3", { text: "Recommendations" }),
    (c.recommendations ?? []).length
      ? h("ul", { class: "recommendations", "data-testid": "recommendations" }, c.recommendations.map((r) => h("li", { text: r })))
      : h("p", { class: "muted", text: "No recommendations." }),
  );
  box.replaceChildren(...parts);
}
