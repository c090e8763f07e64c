/**
 * The shutdown of a composition root: steps registered as resources open, run once in reverse
 * order (last opened, first closed), each awaited; a failing step is logged and the rest still run.
 */
import type { Logger } from 'pino';

export type ShutdownStep = () => Promise<unknown> | undefined;

export class ShutdownSequence {
  private steps: ShutdownStep[] = [];

  constructor(private readonly log: Logger) {}

  push(step: ShutdownStep): void {
    this.steps.push(step);
  }

  async run(): Promise<void> {
    const steps = this.steps.reverse();
    this.steps = [];
    for (const step of steps) {
      try {
        await step();
      } catch (err) {
        this.log.warn({ err }, 'error during shutdown');
      }
    }
  }
}
