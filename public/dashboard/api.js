// The admin API as the dashboard reads it: the credentials of this tab (sessionStorage only),
// one fetch with a timeout, problem+json errors as ApiProblem, the service's clock.

const STORAGE_KEY = "seatkeeper.dashboard.credentials";
/** A request the service has not answered by then is abandoned, so one hung call cannot stall every later refresh. */
const REQUEST_TIMEOUT_MS = 12_000;

export class ApiProblem extends Error {
  constructor(status, body, path) {
    super(body?.detail || body?.title || `HTTP ${status}`);
    this.status = status;
    this.code = body?.code ?? null;
    this.body = body;
    this.path = path;
  }
}

export class ApiTimeout extends Error {
  constructor(path) {
    super(`no answer within ${REQUEST_TIMEOUT_MS / 1000} s`);
    this.path = path;
  }
}

function loadCredentials() {
  try {
    const raw = sessionStorage.getItem(STORAGE_KEY);
    const c = raw ? JSON.parse(raw) : null;
    return c && typeof c.account === "string" && typeof c.key === "string" && (c.scopes === undefined || Array.isArray(c.scopes)) ? c : null;
  } catch {
    return null;
  }
}

let creds = loadCredentials();

/** The signed-in { account, key, scopes? }, or null. */
export const credentials = () => creds;

export function saveCredentials(c) {
  creds = c;
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(c));
}

export function clearCredentials() {
  sessionStorage.removeItem(STORAGE_KEY);
  creds = null;
}

/** Server time minus browser time, from the Date header, so countdowns use the service's clock. */
let clockSkewMs = 0;
export const serverNow = () => Date.now() + clockSkewMs;

/** GET /v1/accounts/{account}{path}: the parsed body, or throws ApiProblem / ApiTimeout / TypeError. */
export function api(path, credentials = creds) {
  return get(`/v1/accounts/${encodeURIComponent(credentials.account)}${path}`, path, credentials);
}

/** GET /v1/whoami: the credential's kind, account and (for an API key) scopes. */
export function whoami(credentials = creds) {
  return get("/v1/whoami", "/v1/whoami", credentials);
}

async function get(url, path, credentials) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), REQUEST_TIMEOUT_MS);
  let res;
  let body = null;
  try {
    res = await fetch(url, {
      headers: { authorization: `Bearer ${credentials.key}`, accept: "application/json" },
      cache: "no-store",
      credentials: "omit",
      referrerPolicy: "no-referrer",
      signal: abort.signal,
    });
    try {
      body = await res.json();
    } catch {
      if (abort.signal.aborted) throw new ApiTimeout(path);
      body = null;
    }
  } catch (err) {
    if (abort.signal.aborted) throw new ApiTimeout(path);
    throw err;
  } finally {
    clearTimeout(timer);
  }
  const date = Date.parse(res.headers.get("date") ?? "");
  if (Number.isFinite(date)) {
    const skew = date - Date.now();
    // The header has 1 s resolution: only correct clocks that are visibly off.
    clockSkewMs = Math.abs(skew) > 2000 ? skew : 0;
  }
  if (!res.ok) throw new ApiProblem(res.status, body, path);
  return body;
}

/** Every page of a paginated list, up to maxPages of `limit` items. */
export async function listAll(path, limit = 1000, maxPages = 20) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < maxPages; page++) {
    const sep = path.includes("?") ? "&" : "?";
    const reply = await api(`${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    items.push(...reply.items);
    cursor = reply.next_cursor;
    if (!cursor) return { items, complete: true };
  }
  return { items, complete: false };
}
