/**
 * The llm-sim engine (src/agent/apps/llm-sim) as a real process on loopback, for tests and benches:
 * start it on a free port (read from its "listening on" line), talk to it with fetch, read its
 * SSE streams, /metrics and /_sim/state, set faults, stop it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const LLM_SIM_SERVER = fileURLToPath(
  new URL('../../src/agent/apps/llm-sim/server.mjs', import.meta.url),
);

export interface SimExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One request's summary in /_sim/state `recent` (see engine.mjs). */
export interface SimRecord {
  id: string;
  outcome: 'finished' | 'aborted' | 'broken';
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
  arrivalStep: number;
  admittedStep: number | null;
  firstTokenStep: number | null;
  endStep: number;
  ttftSteps: number | null;
  ttftSimMs: number | null;
  closedAtStep: number | null;
  /** Epoch ms when the engine saw the client's connection close. */
  closedAtMs: number | null;
  tokensAfterAbort: number;
}

export interface SimState {
  ready: boolean;
  fault: { kind: string };
  held: number;
  steps: number;
  paused: boolean;
  stepping: boolean;
  stalled: boolean;
  waiting: number;
  running: number;
  waitingIds: string[];
  runningIds: string[];
  counters: Record<string, number>;
  recent: SimRecord[];
}

export interface Sim {
  port: number;
  url: string;
  child: ChildProcess;
  exited: Promise<SimExit>;
  /** Everything it printed so far (stdout and stderr), for failure messages. */
  output(): string;
  /** POST a JSON body. */
  post(path: string, body: unknown, init?: RequestInit): Promise<Response>;
  state(): Promise<SimState>;
  /** The record of a request that left the engine, by response id, or undefined. */
  record(id: string): Promise<SimRecord | undefined>;
  metricsText(): Promise<string>;
  fault(f: Record<string, unknown>): Promise<void>;
  stop(): Promise<void>;
}

/** Starts `node server.mjs --port 0 ...args` and resolves once it listens. */
export async function startSim(args: string[] = []): Promise<Sim> {
  const child = spawn(process.execPath, [LLM_SIM_SERVER, '--host', '127.0.0.1', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  const exited = new Promise<SimExit>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const port = await new Promise<number>((resolve, reject) => {
    const look = () => {
      const m = /llm-sim listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        child.stdout!.off('data', look);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', look);
    void exited.then((e) =>
      reject(new Error(`llm-sim exited (${e.code ?? e.signal}) before listening: ${out}`)),
    );
  });
  const url = `http://127.0.0.1:${port}`;
  const sim: Sim = {
    port,
    url,
    child,
    exited,
    output: () => out,
    post: (path, body, init = {}) =>
      fetch(url + path, {
        ...init,
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(init.headers as Record<string, string>) },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      }),
    state: async () => (await (await fetch(`${url}/_sim/state`)).json()) as SimState,
    record: async (id) => (await sim.state()).recent.find((r) => r.id === id),
    metricsText: async () => (await fetch(`${url}/metrics`)).text(),
    async fault(f) {
      const res = await sim.post('/_sim/fault', f);
      if (res.status !== 200)
        throw new Error(`fault ${JSON.stringify(f)}: ${res.status} ${await res.text()}`);
      await res.body?.cancel();
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
  return sim;
}

/** The value of one sample of a Prometheus text page: `name` or `name{labels}` as printed. */
export function metricValue(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    const key = line.slice(0, sp);
    if (key === series || key.replace(/\{.*\}$/, '') === series) return Number(line.slice(sp + 1));
  }
  return undefined;
}

/**
 * Reads an SSE response event by event: `next()` gives the next `data:` payload (parsed JSON, or
 * the string "[DONE]"), `null` at a clean end; it rejects when the connection is cut.
 */
export function sseReader(res: Response) {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  const queue: string[] = [];
  return {
    async next(): Promise<unknown> {
      while (queue.length === 0) {
        const { value, done } = await reader.read();
        if (done) return null;
        buf += decoder.decode(value, { stream: true });
        let i = buf.indexOf('\n\n');
        while (i >= 0) {
          const event = buf.slice(0, i);
          buf = buf.slice(i + 2);
          for (const line of event.split('\n')) if (line.startsWith('data: ')) queue.push(line.slice(6));
          i = buf.indexOf('\n\n');
        }
      }
      const data = queue.shift()!;
      return data === '[DONE]' ? data : JSON.parse(data);
    },
    /** Every remaining payload until the end. */
    async rest(): Promise<unknown[]> {
      const all: unknown[] = [];
      for (let e = await this.next(); e !== null; e = await this.next()) all.push(e);
      return all;
    },
    cancel: () => reader.cancel().catch(() => {}),
  };
}
