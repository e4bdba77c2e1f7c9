// BENCH_SCALE_PROFILE=1: a CPU profile of the served worker's isolate (the Durable Objects run in
// it) over each probe phase of `npm run bench:scale`, through wrangler's inspector, written to
// bench/out/checkout-<point>.cpuprofile (open in Chrome DevTools) with a self-time summary.
// A diagnostic, not a figure: sampling slows the requests it watches.
import { writeFileSync } from "node:fs";

export async function startProfile(inspectorPort, intervalUs = 100) {
  // `ws` comes with wrangler (miniflare); Node 20 has no WebSocket client of its own.
  const { default: WebSocket } = await import("ws");
  const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json();
  const ws = new WebSocket(targets[0].webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  let id = 0;
  const pending = new Map();
  ws.on("message", (data) => {
    const msg = JSON.parse(data.toString());
    if (msg.id && pending.has(msg.id)) {
      pending.get(msg.id)(msg);
      pending.delete(msg.id);
    }
  });
  const send = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const n = ++id;
      pending.set(n, (msg) => (msg.error ? reject(new Error(`${method}: ${JSON.stringify(msg.error)}`)) : resolve(msg.result)));
      ws.send(JSON.stringify({ id: n, method, params }));
    });
  await send("Profiler.enable");
  await send("Profiler.setSamplingInterval", { interval: intervalUs });
  await send("Profiler.start");
  return async function stop(file) {
    const { profile } = await send("Profiler.stop");
    ws.close();
    writeFileSync(file, JSON.stringify(profile));
    return selfTimes(profile);
  };
}

/** Self time (ms) per function, largest first. */
export function selfTimes(profile) {
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
  const dt = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const n = profile.samples[i];
    dt.set(n, (dt.get(n) ?? 0) + (profile.timeDeltas[i + 1] ?? 0) / 1000);
  }
  const out = new Map();
  for (const [nodeId, ms] of dt) {
    const f = byNode.get(nodeId).callFrame;
    const key = `${f.functionName || "(anon)"} ${f.url.split("/").pop()}:${f.lineNumber + 1}`;
    out.set(key, (out.get(key) ?? 0) + ms);
  }
  return [...out].sort((a, b) => b[1] - a[1]);
}
