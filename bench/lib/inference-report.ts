/**
 * The inference section's goals (the G3/G4 targets) as report checks: read from the
 * per-round ratios the section recorded (bench/sections/inference.ts), medians over the rounds.
 */
import { type Spread, spread } from './stats.ts';

type SectionResults = Record<string, Record<string, number[]>>;

/** The row of the client routing each tenant straight to one replica. */
export const IDEAL = 'ideal affinity (direct)';

export interface InferenceCheck {
  target: string;
  measured: string;
  goal: string;
  ok: boolean | null;
}

/** The policy the goals are checked on: ours (`llm`) when measured, else the closest stand-in. */
export function checkedPolicy(policies: readonly string[]): string {
  return ['llm', 'prefix', 'least-inflight'].find((p) => policies.includes(p)) ?? 'least-inflight';
}

const f = (x: number | undefined, d = 2) => (x !== undefined && Number.isFinite(x) ? x.toFixed(d) : 'n/a');

export function inferenceChecks(
  inf: SectionResults,
  added: SectionResults,
  aborts: SectionResults = {},
): InferenceCheck[] {
  const policies = Object.keys(inf)
    .filter((w) => w.startsWith('high-reuse · '))
    .map((w) => w.slice('high-reuse · '.length));
  if (policies.length === 0) return [];
  const p = checkedPolicy(policies);
  const m = (w: string, metric: string): Spread | null => spread(inf[`${w} · ${p}`]?.[metric] ?? []);
  const out: InferenceCheck[] = [];
  const atLeast = (label: string, s: Spread | null, goal: number, unit = '×') =>
    out.push({
      target: `${label} (${p})`,
      measured: s ? `${f(s.median)}${unit}` : 'not measured',
      goal: `≥ ${goal}${unit}`,
      ok: s ? s.median >= goal : null,
    });
  const atMost = (label: string, s: Spread | null, goal: number, unit = '×', d = 2) =>
    out.push({
      target: `${label} (${p})`,
      measured: s ? `${f(s.median, d)}${unit}` : 'not measured',
      goal: `≤ ${goal}${unit}`,
      ok: s ? s.median <= goal : null,
    });
  atLeast('Inference high reuse: TTFT p90, round-robin ÷ this', m('high-reuse', 'ttftP90xRR'), 10);
  atLeast('Inference high reuse: TTFT p90, least-inflight (P2C) ÷ this', m('high-reuse', 'ttftP90xP2C'), 3);
  atLeast('Inference high reuse: output tokens/s vs round-robin', m('high-reuse', 'tpsVsRR'), 1.5);
  // What perfect affinity reaches on this workload and machine: the ceiling of the two ratios above.
  const ideal = (metric: string) => spread(inf[`high-reuse · ${IDEAL}`]?.[metric] ?? [])?.median;
  if (ideal('ttftP90xRR') !== undefined)
    out.push({
      target: 'Inference high reuse, ideal affinity (the client sends each tenant to one replica, no proxy)',
      measured: `TTFT p90 ${f(ideal('ttftP90xRR'))}× lower than round-robin, ${f(ideal('ttftP90xP2C'))}× than P2C; tokens/s ${f(ideal('tpsVsRR'))}× round-robin`,
      goal: 'reported (the ceiling)',
      ok: null,
    });
  const low = m('low-reuse', 'ttftP90xP2C');
  const lowTps = m('low-reuse', 'tpsVsP2C');
  out.push({
    target: `Inference low reuse: within 5 % of least-inflight (P2C) (${p})`,
    measured: low
      ? `TTFT p90 ${f(1 / low.median)}× P2C's, tokens/s ${f(lowTps?.median)}× P2C's`
      : 'not measured',
    goal: 'TTFT p90 ≤ 1.05×, tokens/s ≥ 0.95×',
    ok: low && lowTps ? 1 / low.median <= 1.05 && lowTps.median >= 0.95 : null,
  });
  atMost(
    'Inference one replica 3× slower: TTFT p99 ÷ all-fast p99',
    m('slow-replica', 'slowP99VsFast'),
    1.25,
  );
  // Overload must not fail requests: every workload but the kill completes every stream.
  const success = ['high-reuse', 'low-reuse', 'slow-replica'].map((w) => ({ w, s: m(w, 'successPct') }));
  const worst = success.filter((x) => x.s).sort((a, b) => a.s!.min - b.s!.min)[0];
  out.push({
    target: `Inference success rate: high reuse, low reuse, one slow replica (${p})`,
    measured: worst ? `lowest ${f(worst.s!.min, 1)} % (${worst.w})` : 'not measured',
    goal: '100 %',
    ok: worst ? worst.s!.min >= 100 : null,
  });
  // A kill cuts the streams the replica was generating (nothing can finish them); requests that
  // had no token yet can go to another replica, so none of those may fail (G1).
  const before = m('replica-kill', 'failedBeforeFirstToken');
  const cut = m('replica-kill', 'failedMidStream');
  const killOk = m('replica-kill', 'successPct');
  out.push({
    target: `Inference replica SIGKILLed mid-run: failed before their first token (${p})`,
    measured: before
      ? `${f(before.max, 0)} (cut mid-stream ${f(cut?.max, 0)}; success ${f(killOk?.min, 1)} %)`
      : 'not measured',
    goal: '0',
    ok: before ? before.max === 0 : null,
  });
  const ab = aborts['llm-sim ×4'];
  if (ab?.requests?.length) {
    const grew = spread(ab.fdGrowth ?? [])!;
    const after = spread(ab.tokensAfterAbort ?? [])!;
    out.push({
      target: `Inference: ${f(spread(ab.requests)!.median, 0)} streaming requests closed by their clients (${p})`,
      measured: `fds ${grew.median >= 0 ? '+' : ''}${f(grew.median, 0)}; engine tokens after an abort ${f(after.max, 0)}`,
      goal: 'fds +0 (±2); 0 tokens',
      ok: Math.abs(grew.median) <= 2 && after.max === 0,
    });
  }
  const a50 = spread(added[p]?.addedP50Ms ?? []);
  const a99 = spread(added[p]?.addedP99Ms ?? []);
  if (a50 || a99) {
    atMost('Inference added latency at half load vs direct, p50', a50, 0.5, ' ms');
    atMost('Inference added latency at half load vs direct, p99', a99, 2, ' ms');
  }
  return out;
}
