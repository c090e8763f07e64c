/**
 * Asking the user: a line typed on the terminal (hidden for passwords), a yes/no confirmation, or
 * secrets piped to stdin (`--password-stdin`). Passwords never come from argv, where `ps` and the
 * shell history would show them.
 */

import { CliError, UsageError } from './errors.ts';
import type { CliIo } from './runtime.ts';

/** Longest stdin accepted for secrets (the manager refuses passwords over 1024 characters). */
const MAX_STDIN_BYTES = 16 * 1024;

/** Whether questions can be asked: both stdin and stderr (where prompts go) are terminals. */
export function canPrompt(io: CliIo): boolean {
  return io.stdin.isTTY === true && io.stderr.isTTY === true;
}

/**
 * The lines piped to stdin, each without its line ending: `count` of them are required (a
 * password per line; a final line may lack its newline).
 */
export async function readStdinLines(io: CliIo, count: number, what: string): Promise<string[]> {
  if (io.stdin.isTTY) {
    throw new UsageError(`--password-stdin reads ${what} from a pipe, e.g. \`… --password-stdin < file\``);
  }
  let text = '';
  for await (const chunk of io.stdin) {
    text += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    if (text.length > MAX_STDIN_BYTES) throw new UsageError('stdin is too long for a password');
  }
  const lines = text.split(/\r?\n/);
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  const wanted = lines.slice(0, count);
  if (wanted.length < count || wanted.some((l) => l === '')) {
    throw new UsageError(
      count === 1
        ? `no ${what} on stdin`
        : `expected ${count} lines on stdin (${what}), got ${wanted.filter((l) => l !== '').length}`,
    );
  }
  return wanted;
}

/** Asks for a new password twice, without echo. */
export async function promptNewPassword(io: CliIo): Promise<string> {
  const first = await io.prompt('New password: ', { echo: false });
  if (first === '') throw new CliError('no password given');
  const again = await io.prompt('Repeat new password: ', { echo: false });
  if (again !== first) throw new CliError('the passwords do not match');
  return first;
}

/** A yes/no question; only `y`/`yes` agree. */
export async function confirm(io: CliIo, question: string): Promise<boolean> {
  const answer = await io.prompt(`${question} [y/N] `, { echo: true });
  return /^(y|yes)$/i.test(answer.trim());
}
