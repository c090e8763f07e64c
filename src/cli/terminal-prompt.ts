/**
 * The terminal prompt of a real run (`CliIo.prompt`), apart from the rest of the prompting helpers
 * so that the runtime that installs it does not depend on them.
 */
import { createInterface } from 'node:readline/promises';
import { CliError } from './errors.ts';

/**
 * The terminal prompt of a real run: a readline question, or for `echo: false` raw-mode input
 * that shows nothing. Ctrl-C and an empty Ctrl-D reject with "cancelled".
 */
export async function terminalPrompt(question: string, opts: { echo?: boolean } = {}): Promise<string> {
  const input = process.stdin;
  const output = process.stderr;
  if (opts.echo !== false || typeof input.setRawMode !== 'function') {
    const rl = createInterface({ input, output, terminal: input.isTTY === true });
    try {
      return await rl.question(question);
    } finally {
      rl.close();
    }
  }
  output.write(question);
  const wasRaw = input.isRaw;
  input.setRawMode(true);
  input.setEncoding('utf8');
  input.resume();
  return new Promise<string>((resolve, reject) => {
    let value = '';
    const finish = (err?: Error) => {
      input.off('data', onData);
      input.setRawMode(wasRaw);
      input.pause();
      output.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003' || (ch === '\u0004' && value === '')) return finish(new CliError('cancelled'));
        if (ch === '\u0004') return finish();
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else if (ch === '\u0015') value = '';
        else if (ch >= ' ') value += ch;
      }
    };
    input.on('data', onData);
  });
}
