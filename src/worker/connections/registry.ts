/**
 * Every live connection of the worker process, indexed by circuit and by user: the one place
 * circuit close, in-place circuit changes (access, idle timeout) and revocation (a user's, or with
 * login sessions a login session's) find the connections they end. The registry also counts the
 * connections that a circuit's connection limit covers (TCP relays and tunnels) and writes access
 * records, including those of connections refused before they existed.
 */
import type { CloseReason } from '../../contracts/records.ts';
import type { AccessLog, AccessRecord } from '../observe/access-log.ts';
import type { Circuit } from '../routing/circuit.ts';
import type { Connection } from './connection.ts';

export class ConnectionRegistry {
  private readonly byCircuit = new Map<string, Set<Connection>>();
  private readonly byUser = new Map<string, Set<Connection>>();
  /** Relays and tunnels per circuit (the connection limit counts those, not WebSockets). */
  private readonly limited = new Map<string, number>();
  private count = 0;

  constructor(private readonly log: AccessLog) {}

  get size(): number {
    return this.count;
  }

  add(c: Connection): void {
    const id = c.circuit.id;
    let set = this.byCircuit.get(id);
    if (!set) {
      set = new Set();
      this.byCircuit.set(id, set);
    }
    if (set.has(c)) return;
    set.add(c);
    let mine = this.byUser.get(c.userId);
    if (!mine) {
      mine = new Set();
      this.byUser.set(c.userId, mine);
    }
    mine.add(c);
    this.count++;
    if (c.kind !== 'websocket') this.limited.set(id, (this.limited.get(id) ?? 0) + 1);
  }

  delete(c: Connection): void {
    const id = c.circuit.id;
    const set = this.byCircuit.get(id);
    if (!set?.delete(c)) return;
    this.count--;
    if (set.size === 0) this.byCircuit.delete(id);
    const mine = this.byUser.get(c.userId);
    if (mine?.delete(c) && mine.size === 0) this.byUser.delete(c.userId);
    if (c.kind !== 'websocket') {
      const n = (this.limited.get(id) ?? 1) - 1;
      if (n > 0) this.limited.set(id, n);
      else this.limited.delete(id);
    }
  }

  /** The live connections of a circuit (a copy: ending them changes the registry). */
  of(circuitId: string): Connection[] {
    const set = this.byCircuit.get(circuitId);
    return set ? [...set] : [];
  }

  /** The live connections of a user, on every circuit (a copy). */
  ofUser(userId: string): Connection[] {
    const set = this.byUser.get(userId);
    return set ? [...set] : [];
  }

  /** True when the circuit carries as many relays and tunnels as its spec allows. */
  atLimit(circuit: Circuit): boolean {
    const max = circuit.spec.tcp?.maxConnections ?? Number.POSITIVE_INFINITY;
    return (this.limited.get(circuit.id) ?? 0) >= max;
  }

  /**
   * Ends every connection of this circuit object with `reason`; returns how many. By object, not
   * by id: a circuit replaced by another of the same id (its identity changed) ends only its own.
   */
  terminateCircuit(circuit: Circuit, reason: CloseReason): number {
    const list = this.of(circuit.id).filter((c) => c.circuit === circuit);
    for (const c of list) c.terminate(reason);
    return list.length;
  }

  /**
   * The circuit changed in place: connections it still admits take its new settings, the others
   * end with `revoked`.
   */
  recheck(circuit: Circuit): void {
    for (const c of this.of(circuit.id)) {
      if (c.admitted()) c.reconfigure();
      else c.terminate('revoked');
    }
  }

  /** Destroys what is left (the worker is closing: no grace for close handshakes). */
  destroyAll(): void {
    for (const set of [...this.byCircuit.values()]) for (const c of [...set]) c.destroy();
  }

  record(r: AccessRecord): void {
    this.log.record(r);
  }
}
