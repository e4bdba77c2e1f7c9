import { it } from "vitest";
import { overLimitIntervals } from "../../src/domain/overage";
it("dbg", () => {
  const T0 = 1736928000000;
  const steps = [{t:T0,active:1,limit:0},{t:T0+1000,active:1,limit:1},{t:T0+1000,active:2,limit:1},{t:T0+2000,active:2,limit:1}];
  console.log(JSON.stringify(overLimitIntervals(steps, {from: T0-1000, to: T0+2000}, 1)));
});
