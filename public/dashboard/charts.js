// Usage charts, one per concurrent pool (uPlot, a deferred classic script loaded before this
// module runs): max active and the limit as stepped lines, over-limit intervals hatched under
// them and their billable parts cross-hatched and labelled, and a text summary for each chart.
import { $, fmtHours, fmtInt, fmtTime, h } from "./dom.js";
import { serverNow } from "./api.js";
import { deniedNote, isDenied } from "./access.js";
import { graceSeconds, state } from "./state.js";
import { RANGES, usageCache } from "./usage.js";
import { describeOverlays, drawOverlays } from "./overlays.js";
import { teamSeries } from "./team-usage.js";

const TEAM_STROKE = "#1c6b38";

/** pool -> { plot, figure, summary } */
const charts = new Map();

function hatch(color, lineWidth, gap, cross) {
  const size = gap * 2;
  const c = document.createElement("canvas");
  c.width = size;
  c.height = size;
  const g = c.getContext("2d");
  g.strokeStyle = color;
  g.lineWidth = lineWidth;
  const line = (x0, y0, x1, y1) => {
    g.beginPath();
    g.moveTo(x0, y0);
    g.lineTo(x1, y1);
    g.stroke();
  };
  line(0, size, size, 0);
  line(-size / 2, size / 2, size / 2, -size / 2);
  line(size / 2, size * 1.5, size * 1.5, size / 2);
  if (cross) {
    line(0, 0, size, size);
    line(-size / 2, size / 2, size / 2, size * 1.5);
    line(size / 2, -size / 2, size * 1.5, size / 2);
  }
  return c;
}

let patterns = null;
function getPatterns(ctx) {
  if (!patterns) {
    patterns = {
      over: ctx.createPattern(hatch("rgba(224,120,20,0.55)", 1.5, 6, false), "repeat"),
      billable: ctx.createPattern(hatch("rgba(163,41,15,0.75)", 1.5, 4, true), "repeat"),
    };
  }
  return patterns;
}

/** Over-limit spans of a pool in the window, each with its billable part (from start + grace). */
function spansFor(poolId, fromMs, toMs) {
  const grace = graceSeconds() * 1000;
  const now = serverNow();
  return state.overages
    .filter((i) => i.pool === poolId)
    .map((i) => {
      const start = Date.parse(i.started_at);
      const end = i.ended_at ? Date.parse(i.ended_at) : now;
      const pastGrace = start + grace < end;
      const billable = i.billable || (i.ended_at === null && pastGrace);
      let billableFrom = null;
      if (billable && pastGrace) billableFrom = start + grace;
      else if (billable && i.billable_overage_seats > 0) {
        // Billed under an earlier (shorter) grace: the billable part is about the last
        // billable_seat_seconds / billable_overage_seats of the interval.
        billableFrom = Math.max(start, end - (i.billable_seat_seconds / i.billable_overage_seats) * 1000);
      }
      return { start, end, billableFrom, interval: i };
    })
    .filter((s) => s.end > fromMs && s.start < toMs);
}

/** layer "fill": the hatching, under the series; layer "labels": the BILLABLE markers, on top. */
function drawSpans(u, poolId, layer) {
  const chart = charts.get(poolId);
  if (!chart) return;
  const { ctx } = u;
  const { left, top, width, height } = u.bbox;
  const pats = getPatterns(ctx);
  const xMin = u.scales.x.min * 1000;
  const xMax = u.scales.x.max * 1000;
  ctx.save();
  ctx.beginPath();
  ctx.rect(left, top, width, height);
  ctx.clip();
  const px = (ms) => u.valToPos(ms / 1000, "x", true);
  const minW = 2 * devicePixelRatio;
  for (const s of spansFor(poolId, xMin, xMax)) {
    const x0 = px(s.start);
    const x1 = Math.max(px(s.end), x0 + minW);
    if (layer === "fill") {
      ctx.fillStyle = pats.over;
      ctx.fillRect(x0, top, x1 - x0, height);
      ctx.strokeStyle = "rgba(192,106,16,0.9)";
      ctx.lineWidth = devicePixelRatio;
      ctx.strokeRect(x0, top, x1 - x0, height);
    }
    if (s.billableFrom !== null) {
      const b0 = px(s.billableFrom);
      const b1 = Math.max(x1, b0 + minW);
      if (layer === "fill") {
        ctx.fillStyle = pats.billable;
        ctx.fillRect(b0, top, b1 - b0, height);
        continue;
      }
      // A text marker too, where it fits; a triangle otherwise.
      ctx.fillStyle = "#a3290f";
      const label = "BILLABLE";
      ctx.font = `bold ${11 * devicePixelRatio}px system-ui, sans-serif`;
      ctx.textAlign = "left"; // uPlot leaves its axis text settings on the context
      ctx.textBaseline = "alphabetic";
      const w = ctx.measureText(label).width;
      if (b1 - b0 > w + 6 * devicePixelRatio) {
        ctx.fillStyle = "rgba(255,255,255,0.9)";
        ctx.fillRect(b0 + 2 * devicePixelRatio, top + 2 * devicePixelRatio, w + 6 * devicePixelRatio, 15 * devicePixelRatio);
        ctx.fillStyle = "#a3290f";
        ctx.fillText(label, b0 + 5 * devicePixelRatio, top + 13 * devicePixelRatio);
      } else {
        const mid = (b0 + b1) / 2;
        const t = 7 * devicePixelRatio;
        ctx.beginPath();
        ctx.moveTo(mid - t, top);
        ctx.lineTo(mid + t, top);
        ctx.lineTo(mid, top + t * 1.4);
        ctx.closePath();
        ctx.fill();
      }
    }
  }
  ctx.restore();
}

function chartSize(el) {
  return { width: Math.max(320, Math.floor(el.clientWidth || 800)), height: 260 };
}

/** `team`: the team whose usage is drawn on each chart too ("" for none). */
export function renderCharts(range, team = "") {
  const box = $("charts");
  // A key that may not read the pools has no chart to choose a range or a team for.
  for (const control of [document.querySelector("fieldset.range"), $("chart-key"), document.querySelector(".field.chart-team")]) control.hidden = isDenied("pools");
  $("chart-key-team").hidden = !team;
  if (isDenied("pools")) {
    clearCharts();
    box.replaceChildren(deniedNote("pools", "the pools' usage"));
    return;
  }
  const concurrent = state.pools.filter((p) => p.model === "concurrent");
  if (!concurrent.length) {
    for (const c of charts.values()) c.plot?.destroy();
    charts.clear();
    box.replaceChildren(h("p", { class: "muted", text: "No concurrent pools: usage charts are drawn for concurrent pools." }));
    return;
  }
  // Drop charts of pools that are gone, and any placeholder text.
  for (const [id, c] of charts) {
    if (!concurrent.some((p) => p.id === id)) {
      c.plot?.destroy();
      c.figure.remove();
      charts.delete(id);
    }
  }
  for (const node of [...box.children]) if (!node.matches("figure.chart")) node.remove();

  if (typeof uPlot === "undefined") {
    box.replaceChildren(h("p", { class: "error", text: "The chart library did not load; the figures above are still current." }));
    return;
  }

  for (const p of concurrent) {
    const cache = usageCache.get(p.id);
    let chart = charts.get(p.id);
    if (!chart) {
      const canvasBox = h("div", { class: "chart-canvas", role: "img", "aria-describedby": `chart-summary-${p.id}` });
      const summary = h("p", { class: "chart-summary", id: `chart-summary-${p.id}` });
      const figure = h("figure", { class: "chart", "data-chart": p.id }, h("figcaption", { text: `${p.id}: seats in use against the limit` }), summary, canvasBox);
      box.append(figure);
      chart = { figure, summary, canvasBox, plot: null };
      charts.set(p.id, chart);
    }
    if (!cache || cache.range !== range) continue;
    const lastT = cache.ts.length ? cache.ts[cache.ts.length - 1] : cache.from;
    // One more point at "now" so the last (stepped) bucket is drawn up to the present.
    const xs = new Float64Array(cache.ts.length + 1);
    for (let i = 0; i < cache.ts.length; i++) xs[i] = cache.ts[i] / 1000;
    xs[cache.ts.length] = Math.max(cache.to, lastT + 1) / 1000;
    const act = [...cache.act, cache.act[cache.act.length - 1] ?? null];
    const lim = [...cache.lim, cache.lim[cache.lim.length - 1] ?? null];
    const data = [xs, act, lim];
    // The chosen team's max active on the pool's buckets: a third series.
    const teamData = teamSeries(p.id, team, range, cache.ts);
    const drawnTeam = teamData ? team : "";
    if (teamData) data.push([...teamData.act, teamData.act[teamData.act.length - 1] ?? null]);

    let peak = 0;
    let peakAt = null;
    let overBuckets = 0;
    for (let i = 0; i < cache.act.length; i++) {
      if (cache.act[i] > peak) {
        peak = cache.act[i];
        peakAt = cache.ts[i];
      }
      if (cache.act[i] > cache.lim[i]) overBuckets++;
    }
    const limitNow = cache.lim[cache.lim.length - 1] ?? p.quantity;
    const spans = spansFor(p.id, cache.from, cache.to);
    const billable = spans.filter((s) => s.billableFrom !== null).length;
    const clipped = cache.from > cache.to - RANGES[range].ms + RANGES[range].step * 1000;
    chart.summary.textContent =
      `${RANGES[range].label}${clipped ? " (since the account was created)" : ""}, ${fmtInt(cache.ts.length)} buckets of ${RANGES[range].step} s: peak ${fmtInt(peak)} active` +
      (peakAt ? ` at ${fmtTime(new Date(peakAt).toISOString())}` : "") +
      ` against a limit of ${fmtInt(limitNow)}; ${spans.length} over-limit interval${spans.length === 1 ? "" : "s"}, ${billable} with a billable part` +
      (overBuckets ? ` (${fmtInt(overBuckets)} bucket${overBuckets === 1 ? "" : "s"} over the limit).` : ".") +
      describeOverlays(p.id, chart.figure, limitNow) +
      (teamData
        ? ` Team ${team}: peak ${fmtInt(teamData.peak)} active, ${fmtHours(teamData.seat)} seat-hours, of which ${fmtHours(teamData.billable)} billable attributed to it (last in, first over).`
        : "");
    chart.canvasBox.setAttribute("aria-label", `Chart of ${p.id} usage: ${chart.summary.textContent}`);
    chart.figure.dataset.points = String(cache.ts.length);
    chart.figure.dataset.limit = String(limitNow);
    chart.figure.dataset.spans = String(spans.length);
    chart.figure.dataset.billableSpans = String(billable);
    if (teamData) {
      chart.figure.dataset.team = team;
      chart.figure.dataset.teamPeak = String(teamData.peak);
      chart.figure.dataset.teamSeatSeconds = String(teamData.seat);
      chart.figure.dataset.teamBillableSeatSeconds = String(teamData.billable);
    } else {
      for (const k of ["team", "teamPeak", "teamSeatSeconds", "teamBillableSeatSeconds"]) delete chart.figure.dataset[k];
    }

    const xRange = [cache.from / 1000, cache.to / 1000];
    const yMax = Math.max(peak, limitNow, teamData?.peak ?? 0, 1);
    // The series change with the team: a new plot then.
    if (chart.plot && chart.range === range && chart.team === drawnTeam) {
      chart.plot.batch(() => {
        chart.plot.setData(data, false);
        chart.plot.setScale("x", { min: xRange[0], max: xRange[1] });
        chart.plot.setScale("y", { min: 0, max: Math.ceil(yMax * 1.15) });
      });
      continue;
    }
    chart.plot?.destroy();
    const poolId = p.id;
    const stepped = uPlot.paths.stepped({ align: 1 });
    const opts = {
      ...chartSize(chart.canvasBox),
      cursor: { drag: { x: false, y: false }, points: { size: 6 } },
      legend: { live: true },
      scales: {
        x: { time: true, auto: false, range: () => [cache.from / 1000, usageCache.get(poolId).to / 1000] },
        y: { auto: false, range: (u, min, max) => [0, Math.max(1, Math.ceil(max * 1.15))] },
      },
      axes: [
        { stroke: "#1b1f24", grid: { stroke: "#e3e7ec" } },
        { stroke: "#1b1f24", grid: { stroke: "#e3e7ec" }, label: "Seats", size: 50 },
      ],
      series: [
        { label: "Time" },
        { label: "Max active", stroke: "#1f4e99", width: 1.5, fill: "rgba(31,78,153,0.10)", paths: stepped, points: { show: false } },
        { label: "Limit", stroke: "#a3290f", width: 2, dash: [10, 5], paths: stepped, points: { show: false } },
        ...(teamData ? [{ label: `Team ${team}`, stroke: TEAM_STROKE, width: 2, dash: [8, 3, 2, 3], paths: stepped, points: { show: false } }] : []),
      ],
      hooks: { drawClear: [(u) => drawSpans(u, poolId, "fill")], draw: [(u) => drawSpans(u, poolId, "labels"), (u) => drawOverlays(u, poolId)] },
    };
    const plot = new uPlot(opts, data, chart.canvasBox);
    plot.setScale("y", { min: 0, max: Math.ceil(yMax * 1.15) });
    chart.plot = plot;
    chart.range = range;
    chart.team = drawnTeam;
    chart.canvasBox._plot = plot; // for the browser tests' pixel checks
  }
}

const resizeObserver = typeof ResizeObserver === "function"
  ? new ResizeObserver(() => {
      for (const c of charts.values()) if (c.plot) c.plot.setSize(chartSize(c.canvasBox));
    })
  : null;

/** Redraws the charts at the width of their box whenever it changes. */
export function observeChartResize() {
  resizeObserver?.observe($("charts"));
}

/** Drops every chart (sign-out). */
export function clearCharts() {
  for (const chart of charts.values()) chart.plot?.destroy();
  charts.clear();
  $("charts").replaceChildren();
}
