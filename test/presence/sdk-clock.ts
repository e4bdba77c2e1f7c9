/**
 * A manual clock for the seat SDK's timers: tests move time step by step and see every reconnect,
 * backoff, heartbeat and poll the client schedules. `idle` (optional) is awaited between timers,
 * for clients whose requests go to the real Worker and take real time to answer.
 */
export class Clock {
  t = 0;
  private timers: { id: number; at: number; fn: () => void }[] = [];
  private ids = 0;
  constructor(private readonly idle: () => Promise<void> = async () => undefined) {}
  setTimeout = (fn: () => void, ms: number) => {
    const id = ++this.ids;
    this.timers.push({ id, at: this.t + ms, fn });
    return id;
  };
  clearTimeout = (id: unknown) => {
    this.timers = this.timers.filter((x) => x.id !== id);
  };
  now = () => this.t;
  pending(): number[] {
    return this.timers.map((x) => x.at - this.t).sort((a, b) => a - b);
  }
  /** Runs timers due within `ms`, in time order, letting promises (and `idle`) settle between them. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await this.settle();
      const next = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.timers = this.timers.filter((x) => x !== next);
      this.t = next.at;
      next.fn();
    }
    this.t = end;
    await this.settle();
  }

  async settle(): Promise<void> {
    await settle();
    await this.idle();
    await settle();
  }
}

export const settle = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
  await new Promise((r) => setTimeout(r, 0));
};
