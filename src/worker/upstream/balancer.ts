/**
 * Choosing a backend of a circuit's upstream (`upstream.ts`). Pure over the entries' weights and
 * in-flight counts; no allocation per pick.
 * - `weighted` (and every interactive circuit, whose one backend has no weight): smooth weighted
 *   round-robin (nginx's): each pick adds every entry's weight to its running score, takes the
 *   highest and subtracts the total from it — shares follow the weights and are interleaved;
 * - `round-robin`: every entry with a weight above 0 in turn;
 * - `random`: weighted random (Backend.AI's policy);
 * - `least-inflight`: power of two choices — two entries drawn by weight, the one with fewer
 *   requests in flight per unit of weight wins (Envoy's least-request).
 * Entries with weight 0 are staged: never picked. No entry with a weight above 0: null.
 */
import type { BalancingPolicy } from '../../contracts/endpoint.ts';

export interface Balanced {
  /** Traffic share (0 = staged). */
  weight: number;
  /** Requests in flight on it now. */
  inflight: number;
  /** Smooth weighted round-robin's running score. */
  score: number;
}

export class Balancer<E extends Balanced> {
  private cursor = 0;

  constructor(
    public policy: BalancingPolicy,
    private readonly random: () => number = Math.random,
  ) {}

  pick(entries: readonly E[]): E | null {
    switch (this.policy) {
      case 'round-robin':
        return this.roundRobin(entries);
      case 'random':
        return this.weightedRandom(entries);
      case 'least-inflight':
        return this.twoChoices(entries);
      default:
        return this.smooth(entries);
    }
  }

  private smooth(entries: readonly E[]): E | null {
    let total = 0;
    let best: E | null = null;
    for (const e of entries) {
      if (e.weight <= 0) continue;
      e.score += e.weight;
      total += e.weight;
      if (best === null || e.score > best.score) best = e;
    }
    if (best) best.score -= total;
    return best;
  }

  private roundRobin(entries: readonly E[]): E | null {
    const n = entries.length;
    for (let i = 0; i < n; i++) {
      const e = entries[(this.cursor + i) % n]!;
      if (e.weight > 0) {
        this.cursor = (this.cursor + i + 1) % n;
        return e;
      }
    }
    return null;
  }

  private weightedRandom(entries: readonly E[], skip: E | null = null): E | null {
    let total = 0;
    for (const e of entries) if (e.weight > 0 && e !== skip) total += e.weight;
    if (total === 0) return null;
    let r = this.random() * total;
    for (const e of entries) {
      if (e.weight <= 0 || e === skip) continue;
      r -= e.weight;
      if (r < 0) return e;
    }
    // Floating-point remainder: the last eligible entry.
    for (let i = entries.length - 1; i >= 0; i--)
      if (entries[i]!.weight > 0 && entries[i] !== skip) return entries[i]!;
    return null;
  }

  private twoChoices(entries: readonly E[]): E | null {
    const a = this.weightedRandom(entries);
    if (a === null) return null;
    const b = this.weightedRandom(entries, a);
    if (b === null) return a;
    // Fewer in flight per unit of weight; a tie goes to the first draw.
    return b.inflight * a.weight < a.inflight * b.weight ? b : a;
  }
}
