/**
 * Every live connection of the worker process, indexed by circuit, by user, by login session and
 * by API token: the one place circuit close, in-place circuit changes (access, idle timeout) and
 * revocation (`revoke`: a login session's, a token's, a user's, a circuit's) find the connections
 * they end. The registry also counts the connections that a circuit's connection limit covers (TCP
 * relays and tunnels) and writes access records, including those of connections refused before
 * they existed.
 */
import type { RevocationRecord } from '../../contracts/auth.ts';
import type { CloseReason } from '../../contracts/records.ts';
import type { AccessLog, AccessRecord } from '../observe/access-log.ts';
import type { Circuit } from '../routing/circuit.ts';
import type { Connection } from './connection.ts';

export class ConnectionRegistry {
  private readonly byCircuit = new Map<string, Set<Connection>>();
  private readonly byUser = new Map<string, Set<Connection>>();
  private readonly byLoginSession = new Map<string, Set<Connection>>();
  private readonly byToken = new Map<string, Set<Connection>>();
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
    addTo(this.byUser, c.userId, c);
    this.indexGrant(c);
    this.count++;
    if (c.kind !== 'websocket') this.limited.set(id, (this.limited.get(id) ?? 0) + 1);
  }

  delete(c: Connection): void {
    const id = c.circuit.id;
    const set = this.byCircuit.get(id);
    if (!set?.delete(c)) return;
    this.count--;
    if (set.size === 0) this.byCircuit.delete(id);
    deleteFrom(this.byUser, c.userId, c);
    this.unindexGrant(c);
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
      if (!c.admitted()) {
        c.terminate('revoked');
        continue;
      }
      // A raw TCP relay takes the circuit's new grant: index it under that one.
      this.unindexGrant(c);
      c.reconfigure();
      this.indexGrant(c);
    }
  }

  /**
   * Ends with `revoked` every live connection `record` matches: a login session's or a token's,
   * all opened under it; a user's, those whose credential was issued before `at`; a circuit's,
   * its connections issued before `at`. Returns how many.
   */
  revoke(record: RevocationRecord): number {
    let set: Set<Connection> | undefined;
    let before = Number.POSITIVE_INFINITY;
    if (record.kind === 'login-session') set = this.byLoginSession.get(record.subject);
    else if (record.kind === 'token') set = this.byToken.get(record.subject);
    else {
      set = (record.kind === 'user' ? this.byUser : this.byCircuit).get(record.subject);
      before = record.at;
    }
    if (!set) return 0;
    const list = [...set].filter((c) => c.issuedAt < before);
    for (const c of list) c.terminate('revoked');
    return list.length;
  }

  /** Destroys what is left (the worker is closing: no grace for close handshakes). */
  destroyAll(): void {
    for (const set of [...this.byCircuit.values()]) for (const c of [...set]) c.destroy();
  }

  record(r: AccessRecord): void {
    this.log.record(r);
  }

  private indexGrant(c: Connection): void {
    if (c.grant.l !== undefined) addTo(this.byLoginSession, c.grant.l, c);
    if (c.grant.t !== undefined) addTo(this.byToken, c.grant.t, c);
  }

  private unindexGrant(c: Connection): void {
    if (c.grant.l !== undefined) deleteFrom(this.byLoginSession, c.grant.l, c);
    if (c.grant.t !== undefined) deleteFrom(this.byToken, c.grant.t, c);
  }
}

function addTo(index: Map<string, Set<Connection>>, key: string, c: Connection): void {
  let set = index.get(key);
  if (!set) {
    set = new Set();
    index.set(key, set);
  }
  set.add(c);
}

function deleteFrom(index: Map<string, Set<Connection>>, key: string, c: Connection): void {
  const set = index.get(key);
  if (set?.delete(c) && set.size === 0) index.delete(key);
}
