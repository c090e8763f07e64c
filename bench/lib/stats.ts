/** Small statistics helpers: medians with spread over rounds, percentiles of samples. */

export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function spread(xs: number[]): Spread | null {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  const median = v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
  return { median, min: v[0]!, max: v[v.length - 1]!, n: v.length };
}

/** Percentile (nearest rank) of unsorted samples. */
export function percentile(xs: number[] | Float64Array, p: number): number {
  if (xs.length === 0) return Number.NaN;
  const v = Float64Array.from(xs).sort();
  const rank = Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1));
  return v[rank]!;
}

/** A latency recorder with bounded memory (keeps every sample up to `cap`, then reservoir). */
export class Samples {
  private buf: Float64Array;
  private n = 0;
  count = 0;
  constructor(private readonly cap = 1_000_000) {
    this.buf = new Float64Array(Math.min(cap, 65536));
  }
  add(x: number): void {
    this.count++;
    if (this.n < this.cap) {
      if (this.n === this.buf.length) {
        const b = new Float64Array(Math.min(this.cap, this.buf.length * 2));
        b.set(this.buf);
        this.buf = b;
      }
      this.buf[this.n++] = x;
    } else {
      const j = Math.floor(Math.random() * this.count);
      if (j < this.cap) this.buf[j] = x;
    }
  }
  values(): Float64Array {
    return this.buf.subarray(0, this.n);
  }
  p(pct: number): number {
    return percentile(this.values(), pct);
  }
}
