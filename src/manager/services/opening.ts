/**
 * The circuits this process is opening (start-service, between the INSERT and ACTIVE), in one
 * registry shared by the opener and the lifecycle: a start-service that finds one of them PENDING
 * joins its opening instead of waiting on its own, and a close fires its abort signal, so the
 * opener stops waiting for the worker at once and reports that the circuit was closed meanwhile.
 */
import type { CircuitRow } from '../repos/circuits.ts';

export class OpeningCircuits {
  private readonly entries = new Map<string, { ac: AbortController; outcome: Promise<CircuitRow> }>();

  /** Runs `open(signal)` as the opening of circuit `id`, or joins the one in progress here. */
  run(id: string, open: (signal: AbortSignal) => Promise<CircuitRow>): Promise<CircuitRow> {
    const running = this.entries.get(id);
    if (running) return running.outcome;
    const ac = new AbortController();
    const outcome = open(ac.signal).finally(() => {
      if (this.entries.get(id)?.ac === ac) this.entries.delete(id);
    });
    this.entries.set(id, { ac, outcome });
    return outcome;
  }

  /** The opening of `id` in progress in this process, if any. */
  get(id: string): Promise<CircuitRow> | undefined {
    return this.entries.get(id)?.outcome;
  }

  /** A close of `id` began: its opening here, if any, stops waiting. */
  abort(id: string): void {
    this.entries.get(id)?.ac.abort();
  }
}
