#!/usr/bin/env node
// The `appproxy` command: runs the TypeScript sources through tsx (no build step).
//
// The runtime is Node 24 from the `node` devDependency (`npm install` puts it into
// node_modules/.bin, and npm scripts and `npx appproxy` find it first). Started by an older Node —
// `./bin/appproxy.js` on a machine whose own Node is 20 — the command runs itself again under that
// runtime instead of failing deep inside a dependency that needs Node 22.
const MIN_MAJOR = 22;

if (Number(process.versions.node.split('.')[0]) < MIN_MAJOR) {
  const { existsSync } = await import('node:fs');
  const { spawn } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const bundled = fileURLToPath(new URL('../node_modules/.bin/node', import.meta.url));
  if (!existsSync(bundled)) {
    process.stderr.write(
      `appproxy needs Node.js ${MIN_MAJOR} or newer (this is ${process.version}). Install a newer Node.js, or ` +
        'run `npm install` in a checkout: it installs the Node 24 runtime that every npm script and `npx appproxy` use.\n',
    );
    process.exit(1);
  }
  const child = spawn(bundled, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  // Ctrl-C reaches the whole process group; a signal sent to this process alone is passed on.
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => {
    if (!signal) process.exit(code ?? 1);
    // Die of the same signal, as the shell expects.
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  });
} else {
  const { register } = await import('tsx/esm/api');
  register();
  const { main } = await import('../src/cli/main.ts');
  process.exitCode = await main(process.argv.slice(2));
}
