/**
 * Runs `appproxy tunnel` as users do: the real binary in a child process, its listening port read
 * from stdout and its connection lines from stderr. Shared by the end-to-end tunnel tests.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';

const root = new URL('../../', import.meta.url).pathname;
const bin = join(root, 'bin/appproxy.js');

export interface TunnelProcess {
  child: ChildProcess;
  /** The local port it listens on. */
  port: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Resolves with the exit code once the process exited. */
  exited: Promise<number | null>;
  /** Waits until stderr matches (connection lines); fails with the output after `timeoutMs`. */
  waitStderr(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Ctrl-C, then the exit code. */
  interrupt(): Promise<number | null>;
  kill(): void;
}

export async function startTunnelProcess(
  api: { url: string; token: string },
  args: string[],
  timeoutMs = 30_000,
): Promise<TunnelProcess> {
  const child = spawn(process.execPath, [bin, 'tunnel', ...args], {
    cwd: root,
    env: { ...process.env, APPPROXY_URL: api.url, APPPROXY_TOKEN: api.token, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const w of waiters) w();
  };
  child.stdout!.setEncoding('utf8').on('data', (c: string) => {
    stdout += c;
    wake();
  });
  child.stderr!.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
    wake();
  });
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      exitCode = code;
      wake();
      resolve(code);
    }),
  );

  const wait = (read: () => string, re: RegExp, ms: number, what: string) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = () => {
        const m = re.exec(read());
        if (m) done(() => resolve(m));
        else if (exitCode !== undefined) {
          done(() =>
            reject(new Error(`the tunnel exited (${exitCode}) before ${what}:\n${stdout}\n${stderr}`)),
          );
        }
      };
      const timer = setTimeout(
        () => done(() => reject(new Error(`timed out waiting for ${what}:\n${stdout}\n${stderr}`))),
        ms,
      );
      const done = (fn: () => void) => {
        clearTimeout(timer);
        waiters.delete(check);
        fn();
      };
      waiters.add(check);
      check();
    });

  const m = await wait(() => stdout, /listening on 127\.0\.0\.1:(\d+)/, timeoutMs, 'the listening line');
  return {
    child,
    port: Number(m[1]),
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    exited,
    waitStderr: (re, ms = 15_000) => wait(() => stderr, re, ms, `stderr ${re}`),
    async interrupt() {
      if (exitCode === undefined) child.kill('SIGINT');
      return exited;
    },
    kill() {
      if (exitCode === undefined) child.kill('SIGKILL');
    },
  };
}

/** A TCP connection to 127.0.0.1:port (resolves once connected). */
export function connectTcp(port: number, host = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host, allowHalfOpen: true });
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Sends `payload`, half-closes, and resolves with everything received until the peer ended. */
export function echoRoundTrip(s: Socket, payload: Buffer | string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.once('end', () => {
      s.end();
      resolve(Buffer.concat(chunks));
    });
    s.once('error', reject);
    s.end(payload);
  });
}
