/**
 * The routing table: the one owner of circuit state. The control source hands it changes in
 * revision order; the frontends keep the slot indexes (port → circuit, subdomain → circuit) that
 * requests read, and only the table changes them.
 *
 * A new circuit is built fully (spec checked, upstream ready), made reachable, and only then
 * counts as served. A changed spec of the same circuit (same owner, session, protocol, slot) is
 * applied in place (`Circuit.update`): the upstream swaps its backends, the slot's listener follows
 * an access-mode change, and live connections the new spec no longer admits end with `revoked`
 * while the others take its new settings — so a spec update never cuts live traffic. A spec that
 * changes the circuit's identity replaces it (its connections end with `revoked`). A circuit that
 * cannot be served throws an `AppProxyError` that the control source publishes as its readiness
 * error, and nothing else is touched.
 */

import type { CircuitSpec } from '../../contracts/circuit-spec.ts';
import type { FrontendMode, Protocol } from '../../contracts/records.ts';
import { parseCircuitSpec } from '../../core/circuit-spec.ts';
import type { ActivityFlusher } from '../observe/activity.ts';
import { Circuit, type CircuitDeps, type Serving } from './circuit.ts';

/** A frontend makes circuits reachable by their slot. */
export interface Frontend {
  /**
   * Makes `next` reachable, replacing `previous` (same circuit id) if given. Throws an
   * `AppProxyError` and leaves `previous` serving when it cannot.
   */
  attach(next: Circuit, previous: Circuit | undefined): Promise<void>;
  /**
   * The circuit changed in place and its slot spoke `before` until now: the slot follows (a port
   * whose access mode moved between tunnel and raw TCP needs the other kind of listener). Throws an
   * `AppProxyError` when it cannot; the table then removes the circuit.
   */
  reattach(circuit: Circuit, before: Serving): Promise<void>;
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
  /** The live connections of a circuit changed in place are rechecked against its new spec. */
  recheck: (circuit: Circuit) => void;
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
    if (previous?.canUpdate(spec)) {
      const before = previous.serving;
      previous.update(spec, raw);
      // Connections first: those the new spec refuses end as `revoked` before a listener swap
      // could take their sockets down under another reason.
      this.opts.recheck(previous);
      try {
        await this.opts.frontend.reattach(previous, before);
      } catch (err) {
        this.remove(id);
        throw err;
      }
      return true;
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
    if (previous) this.retire(previous, 'revoked');
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

  private retire(c: Circuit, reason: 'circuit-closed' | 'revoked' = 'circuit-closed'): void {
    this.opts.activity.retire(c);
    c.close(reason);
  }
}
