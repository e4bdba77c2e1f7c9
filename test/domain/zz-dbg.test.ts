import { it } from "vitest";
import { applyStep, newTracker } from "../../src/domain/overage";
it("dbg", () => {
  const T0 = 1736928000000;
  const steps = [{t:T0,active:1,limit:0},{t:T0+1000,active:1,limit:1},{t:T0+1000,active:2,limit:1},{t:T0+2000,active:2,limit:1}];
  let s = newTracker(0, T0 - 1000);
  for (const st of steps) { const r = applyStep(s, st, 1); s = r.state; console.log(JSON.stringify(r.events)); console.log(JSON.stringify(s)); }
});
