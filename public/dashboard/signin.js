// Sign-in and the session: the form (account id + API key, checked against GET /v1/accounts/{id}),
// showing the dashboard, and signing out (the key leaves the tab, every figure is dropped).
import { $ } from "./dom.js";
import { ApiProblem, api, clearCredentials, credentials, saveCredentials, whoami } from "./api.js";
import { clearAccess, markDenied } from "./access.js";
import { resetState, state } from "./state.js";
import { clearUsage } from "./usage.js";
import { clearTeamUsage } from "./team-usage.js";
import { clearCharts } from "./charts.js";
import { clearUsers } from "./users.js";
import { clearIntervalList } from "./holders.js";
import { clearAdvice } from "./advice.js";
import { clearExports } from "./exports.js";
import { startRefreshing, stopRefreshing, whenKeyRejected } from "./refresh.js";

function signInMessage(err, account) {
  if (err instanceof ApiProblem) {
    if (err.status === 401)
      return `Sign-in failed: the API key was not accepted (${err.message}). Paste the whole key, starting with sk_, and check that it has not been revoked.`;
    if (err.status === 404) return `Sign-in failed: there is no account “${account}” for this key. Check the account id: a key works only for its own account.`;
    if (err.status === 403) return "Sign-in failed: this credential may not read the account. Use an account API key (sk_…), not an agent token.";
    if (err.status === 400) return `Sign-in failed: ${err.message}`;
    return `Sign-in failed: the service answered ${err.status} (${err.message}). Try again in a moment.`;
  }
  return "Sign-in failed: the service could not be reached. Check your connection and try again.";
}


async function onSignIn(event) {
  event.preventDefault();
  const account = $("account-id").value.trim();
  const key = $("api-key").value.trim();
  const error = $("signin-error");
  error.textContent = "";
  if (!account || !key) {
    error.textContent = !account ? "Enter the account id." : "Paste the API key.";
    (!account ? $("account-id") : $("api-key")).focus();
    return;
  }
  const submit = $("signin-submit");
  submit.disabled = true;
  submit.textContent = "Signing in…";
  try {
    const candidate = { account, key };
    // Who the key is: its account and scopes (a key of another account is told apart here).
    const who = await whoami(candidate);
    if (who.kind === "agent") throw new ApiProblem(403, null, "/v1/whoami");
    if (who.kind === "api_key" && who.account_id !== account) throw new ApiProblem(404, null, "/v1/whoami");
    // The operator's token names no account: reading it shows whether it exists.
    const acct = await api("", candidate).catch((err) => {
      if (markDenied("account", err)) return null; // a key without read access to the settings
      throw err;
    });
    saveCredentials(who.kind === "api_key" ? { ...candidate, scopes: who.scopes ?? ["admin"] } : candidate);
    $("api-key").value = "";
    state.account = acct;
    showDashboard();
  } catch (err) {
    error.textContent = signInMessage(err, account);
    $("api-key").focus();
  } finally {
    submit.disabled = false;
    submit.textContent = "Sign in";
  }
}

function signOut(message) {
  clearCredentials();
  stopRefreshing();
  clearCharts();
  clearUsage();
  clearTeamUsage();
  $("chart-team").value = "";
  $("chart-team-error").textContent = "";
  clearUsers();
  clearIntervalList();
  clearAdvice();
  clearExports();
  clearAccess();
  resetState();
  $("pool-teams").replaceChildren();
  $("dashboard").hidden = true;
  $("session").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = message ?? "";
  $("account-id").focus();
}

function showDashboard() {
  $("signin").hidden = true;
  $("dashboard").hidden = false;
  $("session").hidden = false;
  $("session-account").textContent = credentials().account;
  $("refresh-error").textContent = "";
  $("refresh-status").textContent = "Loading…";
  startRefreshing().then(() => {
    // To the figures after signing in, unless the admin has already moved on (never steal focus).
    const a = document.activeElement;
    if (credentials() && (!a || a === document.body || $("signin").contains(a))) $("pools-heading").focus();
  });
}

export function initSignIn() {
  $("signin-form").addEventListener("submit", onSignIn);
  $("sign-out").addEventListener("click", () => signOut("Signed out. The key was removed from this tab."));
  whenKeyRejected(signOut);
  $("pools-heading").setAttribute("tabindex", "-1");
  if (credentials()) showDashboard();
  else $("account-id").focus();
}
