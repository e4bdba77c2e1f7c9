// Users: searched on the server (GET …/users?q=&pool=&addon=&team=), never loaded all at once.
// Typing searches after a pause; "Show more users" follows the cursor; each refresh reloads what is shown.
import { $, badge, fmtInt, h } from "./dom.js";
import { api } from "./api.js";
import { deniedText, isDenied, markDenied } from "./access.js";
import { state } from "./state.js";

const PAGE = 50;
/** The server answers at most this many per request. */
const MAX_PAGE = 1000;
const DEBOUNCE_MS = 250;
/** A team name as the API accepts it (src/domain/teams.ts): anything else is not sent. */
const TEAM = /^[A-Za-z0-9_.-]{1,64}$/;

/** The list on screen: for which filters, the users loaded so far, the cursor of the rest. */
const list = { filters: null, items: [], next: null, generation: 0, loading: false };
let typingTimer = null;

function currentFilters() {
  return { q: $("user-search").value.trim(), pool: $("user-pool").value, addon: $("user-addon").value, team: $("user-team").value.trim() };
}

const sameFilters = (a, b) => a && b && a.q === b.q && a.pool === b.pool && a.addon === b.addon && a.team === b.team;
const filtered = (f) => Boolean(f.q || f.pool || f.addon || f.team);

/** What is wrong with the team typed, or null. */
const teamProblem = (f) => (f.team && !TEAM.test(f.team) ? "A team name is 1 to 64 letters, digits, “_”, “.” or “-”." : null);

function path(f, limit, cursor) {
  const params = new URLSearchParams();
  if (f.q) params.set("q", f.q);
  if (f.pool) params.set("pool", f.pool);
  if (f.addon) params.set("addon", f.addon);
  if (f.team) params.set("team", f.team);
  params.set("limit", String(limit));
  if (cursor) params.set("cursor", cursor);
  return `/users?${params}`;
}

/**
 * Loads users: a new search for the filters in the form (the first page), `more` (the next page,
 * appended), or a refresh of the list on screen (as many as are shown, at most MAX_PAGE). An
 * answer that arrives after a newer search started is dropped. Throws what the API throws.
 */
async function load(mode) {
  // A refresh reloads the search on screen, not what is being typed (that search comes after the pause).
  let f = mode === "refresh" && list.filters ? list.filters : currentFilters();
  if (teamProblem(f)) f = { ...f, team: "" }; // a first refresh before any valid search: never send a malformed team
  if (mode !== "search" && !sameFilters(f, list.filters)) mode = "search";
  if (mode === "search") {
    list.generation++;
    list.filters = f;
  }
  const generation = list.generation;
  const limit = mode === "more" ? PAGE : mode === "refresh" ? Math.min(MAX_PAGE, Math.max(PAGE, Math.ceil(list.items.length / PAGE) * PAGE)) : PAGE;
  list.loading = true;
  $("users-table").setAttribute("aria-busy", "true");
  try {
    const reply = await api(path(f, limit, mode === "more" ? list.next : null));
    if (generation !== list.generation) return false; // a newer search owns the list
    list.items = mode === "more" ? [...list.items, ...reply.items] : reply.items;
    list.next = reply.next_cursor;
    return true;
  } finally {
    if (generation === list.generation) {
      list.loading = false;
      $("users-table").removeAttribute("aria-busy");
    }
  }
}

/** For the refresh cycle: reloads the list as shown (drawn by renderUsers with the other sections). */
export function refreshUsers() {
  return load("refresh");
}

/** A search or "more" started by the admin: drawn as soon as it answers; a failure is said in the section. */
async function searchNow(mode) {
  $("users-error").textContent = "";
  const problem = teamProblem(currentFilters());
  $("user-team").setAttribute("aria-invalid", String(Boolean(problem)));
  if (problem) {
    // Not sent: the list stays that of the last valid search.
    $("users-error").textContent = `${problem} The list below is for the last valid search.`;
    return;
  }
  if (mode === "search") $("users-count").textContent = "Searching…";
  try {
    if (await load(mode)) renderUsers();
  } catch (err) {
    if (!markDenied("users", err)) $("users-error").textContent = `The users could not be loaded: ${err.message}. Change the search or use Refresh now to try again.`;
    renderUsers();
  }
}

function renderPoolOptions() {
  const select = $("user-pool");
  const chosen = select.value;
  const ids = state.pools.map((p) => p.id);
  if (chosen && !ids.includes(chosen)) ids.push(chosen); // keep a chosen pool that went away
  const have = [...select.options].slice(1).map((o) => o.value);
  if (have.join() === ids.join()) return;
  select.replaceChildren(h("option", { value: "", text: "Any pool" }), ...ids.map((id) => h("option", { value: id, text: id })));
  select.value = chosen;
}

/** Teams seen on users' rows since sign-in: a filtered list does not take the others' names away. */
const seenTeams = new Set();

/** Suggestions for the team fields: the teams with caps in any pool and those seen on users. */
function renderTeamOptions() {
  for (const u of list.items) if (u.team) seenTeams.add(u.team);
  const names = new Set(seenTeams);
  for (const teams of state.teams.values()) for (const t of teams) names.add(t.team);
  const sorted = [...names].sort();
  const box = $("team-options");
  if ([...box.options].map((o) => o.value).join("\n") === sorted.join("\n")) return;
  box.replaceChildren(...sorted.map((t) => h("option", { value: t })));
}

export function renderUsers() {
  const denied = isDenied("users");
  for (const part of [$("user-filters"), $("users-table").closest(".table-wrap")]) part.hidden = denied;
  if (denied) {
    $("users-count").textContent = deniedText("users", "the users");
    $("users-more").hidden = true;
    return;
  }
  renderPoolOptions();
  renderTeamOptions();
  const f = list.filters ?? currentFilters();
  const searching = filtered(f);
  $("users-table").tBodies[0].replaceChildren(
    ...(list.items.length
      ? list.items.map((u) =>
          h(
            "tr",
            { "data-user": u.id },
            h("th", { scope: "row", text: u.id }),
            h("td", { text: u.display_name ?? "—" }),
            h("td", { text: u.email ?? "—" }),
            h("td", { "data-field": "team", text: u.team ?? "—" }),
            h("td", {}, u.pool ? u.pool : badge("info", "No license")),
            h("td", { text: (u.addons ?? []).length ? u.addons.join(", ") : "—" }),
          ),
        )
      : [h("tr", {}, h("td", { colspan: "6", text: searching ? "No user matches the search." : "No users yet." }))]),
  );
  const n = fmtInt(list.items.length);
  const noun = list.items.length === 1 ? "user" : "users";
  $("users-count").textContent = list.next
    ? `Showing the first ${n} ${noun}${searching ? " that match" : ""}; more below.`
    : searching
      ? `${n} ${noun} match${list.items.length === 1 ? "es" : ""}.`
      : `${n} ${noun}.`;
  const more = $("users-more");
  more.hidden = !list.next;
  more.disabled = list.loading;
}

/** Forgets the list (sign-out). */
export function clearUsers() {
  clearTimeout(typingTimer);
  list.generation++;
  Object.assign(list, { filters: null, items: [], next: null, loading: false });
  $("user-filters").reset(); // the next admin starts with no search
  $("users-table").tBodies[0].replaceChildren();
  $("users-count").textContent = "";
  $("users-error").textContent = "";
  $("users-more").hidden = true;
  seenTeams.clear();
  $("team-options").replaceChildren();
  $("user-team").removeAttribute("aria-invalid");
}

export function initUsers() {
  for (const id of ["user-search", "user-team"]) {
    $(id).addEventListener("input", () => {
      clearTimeout(typingTimer);
      typingTimer = setTimeout(() => searchNow("search"), DEBOUNCE_MS);
    });
  }
  for (const id of ["user-pool", "user-addon"]) $(id).addEventListener("change", () => searchNow("search"));
  // Enter searches at once; the form never submits anywhere.
  $("user-filters").addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(typingTimer);
    searchNow("search");
  });
  $("users-more").addEventListener("click", async () => {
    const before = list.items.length;
    await searchNow("more");
    // Keyboard users land on the first new row rather than back at the top.
    const rows = $("users-table").tBodies[0].rows;
    if (rows.length > before) {
      rows[before].setAttribute("tabindex", "-1");
      rows[before].focus();
    }
  });
}
