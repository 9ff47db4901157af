/**
 * A worker's teardown as one ordered list of steps, as BullMQ's `Worker.close()` does: each part
 * registers its step once, when it has been started, and every way out (a refused start, a
 * metrics port in use, SIGTERM) runs the same list. A failing step is reported and the next
 * one still runs, so one broken connection never leaks the others.
 */
export class ShutdownSteps {
  private readonly steps: Array<{ name: string; run: () => unknown }> = [];
  private running: Promise<void> | undefined;

  constructor(private readonly onError: (step: string, error: unknown) => void = () => undefined) {}

  /** Adds a step after the ones already added; steps run in the order they were added. */
  add(name: string, run: () => unknown): void {
    this.steps.push({ name, run });
  }

  /** Runs every step once, in order; later calls wait for the same run. */
  run(): Promise<void> {
    this.running ??= (async () => {
      for (const step of this.steps) {
        try {
          await step.run();
        } catch (error) {
          this.onError(step.name, error);
        }
      }
    })();
    return this.running;
  }
}
