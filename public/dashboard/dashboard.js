// Seatkeeper admin dashboard: plain ES modules, no build step, one per section (api, sign-in,
// pools, intervals, usage and charts, billing, compliance, users, and the refresh cycle that
// draws them). uPlot is served next to it (/dashboard/vendor/uPlot.iife.min.js, a copy of
// node_modules/uplot/dist). It reads only the admin API (docs/api.md) with the account API key
// the admin pastes, kept in sessionStorage.
import { observeChartResize } from "./charts.js";
import { initRefresh } from "./refresh.js";
import { initSignIn } from "./signin.js";
import { initUsers } from "./users.js";

// uPlot is a deferred classic script and this a module: both run after parsing, in order.
initRefresh();
initUsers();
observeChartResize();
initSignIn();
