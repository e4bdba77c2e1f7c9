// A bounded closed-loop load generator: a fixed number of workers pull requests from a queue.
// Every request has its own timeout, the phase has a deadline, and the queue is finite.
import { performance } from "node:perf_hooks";

/**
 * @param {string} baseUrl
 * @param {{method: string, path: string, token?: string, body?: unknown, expect: number | number[]}[]} requests
 * @param {{concurrency?: number, deadlineMs?: number, requestTimeoutMs?: number, keepBodies?: boolean}} opts
 */
export async function runLoad(baseUrl, requests, { concurrency = 64, deadlineMs = 120_000, requestTimeoutMs = 30_000, keepBodies = false } = {}) {
  const n = requests.length;
  const latencies = new Float64Array(n).fill(NaN);
  const statuses = new Int16Array(n);
  const bodies = keepBodies ? new Array(n) : null;
  const errors = [];
  let next = 0;
  let aborted = false;
  const start = performance.now();
  const stopAt = start + deadlineMs;

  async function worker() {
    for (;;) {
      if (aborted) return;
      if (performance.now() > stopAt) {
        aborted = true;
        errors.push(`phase deadline of ${deadlineMs} ms passed with ${n - next} requests left`);
        return;
      }
      const i = next++;
      if (i >= n) return;
      const r = requests[i];
      const headers = {};
      if (r.token) headers.authorization = `Bearer ${r.token}`;
      let body;
      if (r.body !== undefined) {
        headers["content-type"] = "application/json";
        body = JSON.stringify(r.body);
      }
      const t0 = performance.now();
      try {
        const res = await fetch(baseUrl + r.path, { method: r.method, headers, body, signal: AbortSignal.timeout(requestTimeoutMs) });
        const text = await res.text();
        latencies[i] = performance.now() - t0;
        statuses[i] = res.status;
        const expected = Array.isArray(r.expect) ? r.expect : [r.expect];
        if (!expected.includes(res.status) && errors.length < 20) errors.push(`${r.method} ${r.path} → ${res.status} (expected ${expected.join("/")}): ${text.slice(0, 300)}`);
        if (bodies) bodies[i] = text ? safeJson(text) : null;
      } catch (err) {
        latencies[i] = performance.now() - t0;
        statuses[i] = -1;
        if (errors.length < 20) errors.push(`${r.method} ${r.path} → ${err?.name ?? "error"}: ${err?.message ?? err}${err?.cause ? ` (${err.cause.code ?? ""} ${err.cause.message ?? err.cause})` : ""} after ${(performance.now() - t0).toFixed(0)} ms`);
      }
    }
  }

  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  const elapsedMs = performance.now() - start;
  const done = latencies.filter((x) => !Number.isNaN(x));
  const statusCounts = {};
  for (let i = 0; i < n; i++) {
    const s = Number.isNaN(latencies[i]) ? "not_sent" : statuses[i] === -1 ? "network_error" : String(statuses[i]);
    statusCounts[s] = (statusCounts[s] ?? 0) + 1;
  }
  const unexpected = requests.reduce((count, r, i) => {
    const expected = Array.isArray(r.expect) ? r.expect : [r.expect];
    return count + (expected.includes(statuses[i]) ? 0 : 1);
  }, 0);
  return { count: n, completed: done.length, elapsedMs, statusCounts, statuses, unexpected, errors, bodies, ...stats(done, elapsedMs) };
}

function safeJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function stats(latencies, elapsedMs) {
  const sorted = Float64Array.from(latencies).sort();
  const q = (p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : NaN);
  const mean = sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : NaN;
  return {
    rps: sorted.length / (elapsedMs / 1000),
    p50: q(50),
    p95: q(95),
    p99: q(99),
    max: sorted.length ? sorted[sorted.length - 1] : NaN,
    mean,
  };
}

/** Simple JSON call for setup and verification (not timed). */
export async function call(baseUrl, method, path, token, body, timeoutMs = 60_000) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(baseUrl + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  return { status: res.status, body: text ? safeJson(text) : null };
}
