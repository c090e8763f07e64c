/**
 * The routing table: the one owner of circuit state. The route source hands it changes; the
 * frontends keep the slot indexes (port → circuit, subdomain → circuit) that requests read, and
 * only the table changes them. A change builds the new circuit fully, makes it reachable, then
 * retires the previous one; a circuit that cannot be served throws an `AppProxyError` that the
 * route source publishes as its readiness, and nothing else is touched.
 */

import type { CircuitSpec } from '../../contracts/circuit-spec.ts';
import type { FrontendMode, Protocol } from '../../contracts/records.ts';
import { parseCircuitSpec } from '../../core/circuit-spec.ts';
import type { ActivityFlusher } from '../observe/activity.ts';
import { Circuit, type CircuitDeps } from './circuit.ts';

/** A frontend makes circuits reachable by their slot. */
export interface Frontend {
  /**
   * Makes `next` reachable, replacing `previous` (same circuit id) if given. Throws an
   * `AppProxyError` and leaves `previous` serving when it cannot.
   */
  attach(next: Circuit, previous: Circuit | undefined): Promise<void>;
  /** Makes the circuit unreachable (its live connections are the circuit's own business). */
  detach(circuit: Circuit): void;
  close(): Promise<void>;
}

export interface RoutingTableOptions {
  frontendMode: FrontendMode;
  protocols: Protocol[];
  portRange?: [number, number];
  frontend: Frontend;
  activity: ActivityFlusher;
  circuitDeps: (spec: CircuitSpec) => CircuitDeps;
  onSizeChange: (size: number) => void;
}

export class RoutingTable {
  private readonly circuits = new Map<string, Circuit>();

  constructor(private readonly opts: RoutingTableOptions) {}

  get size(): number {
    return this.circuits.size;
  }

  get(id: string): Circuit | undefined {
    return this.circuits.get(id);
  }

  ids(): IterableIterator<string> {
    return this.circuits.keys();
  }

  values(): IterableIterator<Circuit> {
    return this.circuits.values();
  }

  /** Returns true when something changed (false for an identical put). */
  async apply(id: string, raw: string): Promise<boolean> {
    const previous = this.circuits.get(id);
    if (previous?.raw === raw) return false;
    let spec: CircuitSpec;
    try {
      spec = parseCircuitSpec(id, raw, this.opts);
    } catch (err) {
      // A bad replacement must not leave the old version serving what the manager no longer wants.
      if (previous) this.remove(id);
      throw err;
    }
    const next = new Circuit(spec, raw, this.opts.circuitDeps(spec));
    try {
      await this.opts.frontend.attach(next, previous);
    } catch (err) {
      next.close();
      if (previous) this.remove(id);
      throw err;
    }
    this.circuits.set(id, next);
    if (previous) this.retire(previous);
    this.opts.onSizeChange(this.circuits.size);
    return true;
  }

  /** Closes the circuit: unreachable at once, live connections destroyed. */
  remove(id: string): boolean {
    const c = this.circuits.get(id);
    if (!c) return false;
    this.circuits.delete(id);
    this.opts.frontend.detach(c);
    this.retire(c);
    this.opts.onSizeChange(this.circuits.size);
    return true;
  }

  closeAll(): void {
    for (const id of [...this.circuits.keys()]) this.remove(id);
  }

  private retire(c: Circuit): void {
    this.opts.activity.retire(c);
    c.close();
  }
}
