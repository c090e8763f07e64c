/**
 * Summarises a V8 .cpuprofile: top self-time frames and top inclusive frames.
 * Usage: node bench/profile/analyze.ts file.cpuprofile [top=30]
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount: number;
  children?: number[];
}
const prof = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as { nodes: Node[] };
const top = Number(process.argv[3] ?? '30');
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const label = (n: Node) => {
  const u = n.callFrame.url.replace(/^.*\/(node_modules|src)\//, '$1/').replace(/^node:/, '');
  return `${n.callFrame.functionName || '(anon)'} ${u}:${n.callFrame.lineNumber + 1}`;
};
let total = 0;
const self = new Map<string, number>();
const incl = new Map<string, number>();
for (const n of prof.nodes) {
  total += n.hitCount;
  if (!n.hitCount) continue;
  const l = label(n);
  self.set(l, (self.get(l) ?? 0) + n.hitCount);
  const seen = new Set<string>();
  for (let cur: Node | undefined = n; cur; cur = byId.get(parent.get(cur.id) ?? -1)) {
    const k = label(cur);
    if (seen.has(k)) continue;
    seen.add(k);
    incl.set(k, (incl.get(k) ?? 0) + n.hitCount);
  }
}
const pct = (v: number) => `${((100 * v) / total).toFixed(1).padStart(5)}%`;
const idle = [...self].filter(([k]) => k.startsWith('(idle)')).reduce((a, [, v]) => a + v, 0);
console.log(`samples ${total}, idle ${pct(idle)}`);
console.log('--- self');
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(pct(v), k);
console.log('--- inclusive');
for (const [k, v] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(pct(v), k);
