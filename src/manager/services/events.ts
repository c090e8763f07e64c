/**
 * Reads of the lifecycle events (`GET /v1/sessions/{id}/events`, `/v1/circuits/{id}/events`).
 * Events are visible to whoever may see their session or circuit; that check is the session's and
 * the circuit's service's, so an invisible subject is SESSION_NOT_FOUND / CIRCUIT_NOT_FOUND here too.
 */
import type { LifecycleEvent } from '../../contracts/records.ts';
import type { EventLog } from '../repos/events.ts';
import type { Principal } from './auth.ts';
import type { CircuitService } from './circuits.ts';
import type { SessionService } from './sessions.ts';

export class EventService {
  constructor(
    private readonly log: Pick<EventLog, 'ofSession' | 'ofCircuit'>,
    private readonly sessions: Pick<SessionService, 'get'>,
    private readonly circuits: Pick<CircuitService, 'get'>,
  ) {}

  /** The session's events, its circuits' included, oldest first. */
  async ofSession(p: Principal, sessionId: string): Promise<LifecycleEvent[]> {
    await this.sessions.get(p, sessionId);
    return this.log.ofSession(sessionId);
  }

  /** The circuit's events, oldest first. */
  async ofCircuit(p: Principal, circuitId: string): Promise<LifecycleEvent[]> {
    await this.circuits.get(p, circuitId);
    return this.log.ofCircuit(circuitId);
  }
}
