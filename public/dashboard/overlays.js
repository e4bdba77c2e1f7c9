// What the usage charts add for issue 14, drawn over uPlot's series (the series stay max active
// and the limit): refused checkouts per bucket as marks along the bottom (the usage column
// `denied`), and the pool's alert thresholds (`alerts`, percentages of the quantity) as dotted
// lines. Data attributes on each figure say what was drawn, for tests and assistive text.
import { state } from "./state.js";
import { usageCache } from "./usage.js";

const DENIED = "#6b2c91";
const THRESHOLD = "#5a6270";

/** The pool's alert thresholds (percentages), or [] when the pool has none or the service does not send them. */
export function thresholdsOf(poolId) {
  const p = state.pools.find((x) => x.id === poolId);
  return Array.isArray(p?.alerts) ? p.alerts.filter((x) => Number.isFinite(x) && x > 0) : [];
}

/** Refused checkouts in the cached window, and in how many buckets. */
export function deniedTotals(poolId) {
  const den = usageCache.get(poolId)?.den ?? [];
  let total = 0;
  let buckets = 0;
  for (const n of den) {
    if (n > 0) buckets++;
    total += n;
  }
  return { total, buckets };
}

/** Words for the chart's text summary, and the figure's data attributes. */
export function describeOverlays(poolId, figure, quantity) {
  const { total, buckets } = deniedTotals(poolId);
  const pcts = thresholdsOf(poolId);
  figure.dataset.refused = String(total);
  figure.dataset.thresholds = pcts.join(",");
  const parts = [];
  parts.push(total ? ` ${total} refused checkout${total === 1 ? "" : "s"} in ${buckets} bucket${buckets === 1 ? "" : "s"} (marked ✕ along the bottom).` : " No refused checkouts.");
  if (pcts.length) parts.push(` Alert thresholds (dotted): ${pcts.map((p) => `${p}% = ${Math.round((quantity * p) / 100 * 100) / 100} seats`).join(", ")}.`);
  return parts.join("");
}

/** uPlot draw hook: the thresholds, then the denial marks. */
export function drawOverlays(u, poolId) {
  const cache = usageCache.get(poolId);
  if (!cache) return;
  const { ctx } = u;
  const { left, top, width, height } = u.bbox;
  const dpr = devicePixelRatio;
  ctx.save();
  ctx.beginPath();
  ctx.rect(left, top, width, height);
  ctx.clip();
  const quantity = cache.lim[cache.lim.length - 1] ?? 0;
  ctx.font = `${10 * dpr}px system-ui, sans-serif`;
  ctx.textAlign = "right";
  ctx.textBaseline = "bottom";
  for (const pct of thresholdsOf(poolId)) {
    const y = u.valToPos((quantity * pct) / 100, "y", true);
    ctx.strokeStyle = THRESHOLD;
    ctx.lineWidth = 1.5 * dpr;
    ctx.setLineDash([2 * dpr, 4 * dpr]);
    ctx.beginPath();
    ctx.moveTo(left, y);
    ctx.lineTo(left + width, y);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = THRESHOLD;
    ctx.fillText(`${pct}%`, left + width - 4 * dpr, y - 2 * dpr);
  }
  const den = cache.den ?? [];
  ctx.strokeStyle = DENIED;
  ctx.lineWidth = 2 * dpr;
  const s = 4 * dpr;
  const yMark = top + height - 8 * dpr;
  for (let k = 0; k < den.length; k++) {
    if (!(den[k] > 0)) continue;
    const x = u.valToPos((cache.ts[k] + cache.stepMs / 2) / 1000, "x", true);
    ctx.beginPath();
    ctx.moveTo(x - s, yMark - s);
    ctx.lineTo(x + s, yMark + s);
    ctx.moveTo(x + s, yMark - s);
    ctx.lineTo(x - s, yMark + s);
    ctx.stroke();
  }
  ctx.restore();
}
