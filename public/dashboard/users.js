// Users with their license and add-ons, searchable by id, name, e-mail, pool or add-on.
import { $, badge, fmtInt, h } from "./dom.js";
import { state } from "./state.js";

const USERS_SHOWN = 200;

export function renderUsers() {
  const q = $("user-search").value.trim().toLowerCase();
  const terms = q.split(/\s+/).filter(Boolean);
  const matches = terms.length
    ? state.users.filter((u) => {
        const hay = [u.id, u.display_name, u.email, u.pool, ...(u.addons ?? [])].filter(Boolean).join(" ").toLowerCase();
        return terms.every((t) => hay.includes(t));
      })
    : state.users;
  const shown = matches.slice(0, USERS_SHOWN);
  $("users-table").tBodies[0].replaceChildren(
    ...(shown.length
      ? shown.map((u) =>
          h(
            "tr",
            { "data-user": u.id },
            h("th", { scope: "row", text: u.id }),
            h("td", { text: u.display_name ?? "—" }),
            h("td", { text: u.email ?? "—" }),
            h("td", {}, u.pool ? u.pool : badge("info", "No license")),
            h("td", { text: (u.addons ?? []).length ? u.addons.join(", ") : "—" }),
          ),
        )
      : [h("tr", {}, h("td", { colspan: "5", text: terms.length ? "No user matches the search." : "No users yet." }))]),
  );
  const total = state.users.length;
  $("users-count").textContent =
    (terms.length ? `${fmtInt(matches.length)} of ${fmtInt(total)} users match` : `${fmtInt(total)} users`) +
    (shown.length < matches.length ? `; showing the first ${fmtInt(shown.length)}, refine the search to see others.` : ".") +
    (state.usersComplete ? "" : " (Only the first 20,000 users are loaded.)");
}

let searchTimer = null;

export function initUsers() {
  $("user-search").addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(renderUsers, 120);
  });
}
