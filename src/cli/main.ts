/** The `appproxy` command line: global options, command registration, error and exit-code handling. */

import { Command, CommanderError, Option } from 'commander';
import { ApiError } from '../client/errors.ts';
import { registerClientCommands } from './commands/index.ts';
import { CREDENTIALS_FILE } from './credentials.ts';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, exitCodeFor, renderError } from './errors.ts';
import { type CliIo, DEFAULT_DATA_DIR, DEFAULT_URL, defaultIo, Runtime, TOKEN_FILE } from './runtime.ts';
import { registerServerCommands } from './up.ts';
import { VERSION } from './version.ts';

export type { CliIo } from './runtime.ts';

const HELP_FOOTER = `
Connection:
  The manager URL is --url, else $APPPROXY_URL, else the one \`appproxy login\` stored, else
  ${DEFAULT_URL}.
  The API token is --token, else $APPPROXY_TOKEN, else the credentials \`appproxy login\` stored in
  <config dir>/${CREDENTIALS_FILE} (when they are for that URL, or no URL was given), else the
  admin token that the embedded \`appproxy up\` writes to <data dir>/${TOKEN_FILE}.
  The config dir is $APPPROXY_CONFIG_DIR, else $XDG_CONFIG_HOME/appproxy, else ~/.config/appproxy;
  the data dir is $APPPROXY_DATA_DIR or ${DEFAULT_DATA_DIR} (relative to the current directory).

Exit codes: 0 success, 1 failure (the error's code and request id are printed), 2 usage error.

Examples:
  appproxy up                                   # run everything on this machine
  appproxy login                                # sign in from a browser; stores the credentials
  appproxy template list
  appproxy session create jupyter --name demo --wait
  appproxy app open demo lab --next /lab --browser
  appproxy session create ssh --name box --wait
  appproxy tunnel box ssh --local-port 2222      # then: ssh -p 2222 me@127.0.0.1
  appproxy circuit list --session demo
  appproxy endpoint up chat --replicas 2         # llm-sim replicas behind one URL; prints a key and curl
  appproxy endpoint route add chat session:my-vllm/api@50
  appproxy endpoint down chat                    # the endpoint and the sessions chat-N it started
  appproxy session delete demo
`;

/**
 * Builds the program with the global options and every command. `rt` carries the output streams;
 * the server commands from ./up.ts are registered first, then the client commands.
 */
export function buildProgram(
  rt: Runtime,
  registerServer: (program: Command) => void = registerServerCommands,
): Command {
  const { io } = rt;
  const program = new Command('appproxy')
    .description(
      'AppProxy: authenticated, lifecycle-bound addresses for interactive apps and model endpoints',
    )
    .version(VERSION, '-V, --version', 'print the version')
    .addOption(new Option('--url <url>', `manager URL (env APPPROXY_URL; default ${DEFAULT_URL})`))
    .addOption(
      new Option(
        '--token <token>',
        `API token (env APPPROXY_TOKEN; default: what \`appproxy login\` stored, else the token \`appproxy up\` writes to <data dir>/${TOKEN_FILE})`,
      ),
    )
    .option('--json', 'print the raw JSON answers (machine output)')
    .helpOption('-h, --help', 'show help')
    .helpCommand('help [command]', 'show help for a command')
    .addHelpText('after', HELP_FOOTER)
    .showSuggestionAfterError(true);

  registerServer(program);
  registerClientCommands(program, rt);

  // Applied to every command, including those added with addCommand() (which inherit nothing).
  const configure = (cmd: Command): void => {
    cmd
      .exitOverride()
      .configureOutput({
        writeOut: (s) => io.stdout.write(s),
        writeErr: (s) => io.stderr.write(s),
        outputError: (s, write) => write(s),
        getOutHelpWidth: () => 100,
        getErrHelpWidth: () => 100,
        getOutHasColors: () => false,
        getErrHasColors: () => false,
      })
      .showHelpAfterError('(run with --help for usage)');
    cmd.commands.forEach(configure);
  };
  configure(program);
  return program;
}

/**
 * Runs the CLI on `argv` (the user arguments, i.e. `process.argv.slice(2)`) and resolves with the
 * exit code; never calls process.exit. Pass `io` to capture output (tests).
 */
export async function main(argv: string[], io: Partial<CliIo> = {}): Promise<number> {
  const rt = new Runtime(defaultIo(io), VERSION);
  let program: Command;
  try {
    program = buildProgram(rt);
  } catch (err) {
    rt.io.stderr.write(renderError(err, { debug: true }));
    return EXIT_FAILURE;
  }
  return run(program, rt, argv);
}

/** Parses and runs; maps commander's and the commands' errors to messages and exit codes. */
export async function run(program: Command, rt: Runtime, argv: string[]): Promise<number> {
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT_OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander already printed its message (or the help/version text).
      return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    rt.io.stderr.write(
      renderError(err, { debug: Boolean(rt.io.env.APPPROXY_DEBUG), hint: hintFor(err, rt) }),
    );
    return exitCodeFor(err);
  }
}

function hintFor(err: unknown, rt: Runtime): string | null {
  const conn = rt.connection;
  if (!(err instanceof ApiError) || !conn) return null;
  if (err.code === 'AP_ERR_UNAUTHENTICATED' && conn.tokenSource === null) {
    const elsewhere = conn.storedElsewhere
      ? ` (the stored sign-in is for ${conn.storedElsewhere.url}, not ${conn.url})`
      : '';
    return (
      `no API token found${elsewhere}: run \`appproxy login\`, pass --token, set APPPROXY_TOKEN, ` +
      `or run \`appproxy up\` (it writes ${conn.tokenFile})`
    );
  }
  if (err.code === 'AP_ERR_TOKEN_INVALID' || err.code === 'AP_ERR_UNAUTHENTICATED') {
    if (conn.tokenSource === 'credentials') {
      return (
        `the token came from ${conn.credentialsFile} (\`appproxy login\`${conn.stored?.user ? ` as ${conn.stored.user}` : ''}); ` +
        'the sign-in may have ended: run `appproxy login` again'
      );
    }
    const from =
      conn.tokenSource === 'file'
        ? `${conn.tokenFile} (maybe left by another \`appproxy up\`)`
        : conn.tokenSource === 'env'
          ? 'APPPROXY_TOKEN'
          : '--token';
    return `the token came from ${from}; check it matches the manager at ${conn.url}`;
  }
  return null;
}
