// ssh service of the `ssh` template: prepares a private sshd in the session folder (host key,
// config, authorized keys), then runs Debian's /usr/sbin/sshd in the foreground on the port the
// agent chose. Key-only: password and keyboard-interactive logins are off.
//
// Usage: node sshd.mjs --host 127.0.0.1 --port 2222 --data-dir DIR --sshd /usr/sbin/sshd --ssh-keygen ssh-keygen
//
// Keys authorized: those of the user that runs the agent (~/.ssh/authorized_keys and
// ~/.ssh/id_*.pub, from the passwd entry: the agent sets HOME to the session folder), plus every
// key in the files named by APPPROXY_SSH_AUTHORIZED_KEYS (paths separated by ':').
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
};

function fail(message) {
  console.error(`ssh template: ${message}`);
  process.exit(1);
}

const host = arg('host', '127.0.0.1');
const port = Number(arg('port', '0'));
const dataDir = resolve(arg('data-dir', process.cwd()));
const sshd = arg('sshd', '/usr/sbin/sshd');
const sshKeygen = arg('ssh-keygen', 'ssh-keygen');
if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`invalid --port ${arg('port')}`);
// sshd re-executes itself for every connection and refuses to run from a relative path.
if (!isAbsolute(sshd)) fail(`sshd must be an absolute path (got "${sshd}"); install openssh-server`);

const user = userInfo();

/** Public key lines of a file (comments and blank lines dropped); missing optional files give none. */
function keyLines(file, required) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (required)
      fail(`APPPROXY_SSH_AUTHORIZED_KEYS names ${file}, which cannot be read (${err.code ?? err.message})`);
    return [];
  }
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

const keys = [];
const sshDir = join(user.homedir, '.ssh');
keys.push(...keyLines(join(sshDir, 'authorized_keys'), false));
let ownKeys = [];
try {
  ownKeys = readdirSync(sshDir).filter((f) => /^id_[A-Za-z0-9_-]+\.pub$/.test(f));
} catch {
  // no ~/.ssh: only the extra keys count
}
for (const f of ownKeys.sort()) keys.push(...keyLines(join(sshDir, f), false));
for (const file of (process.env.APPPROXY_SSH_AUTHORIZED_KEYS ?? '').split(delimiter).filter(Boolean)) {
  keys.push(...keyLines(file, true));
}
const unique = [...new Set(keys)];
if (unique.length === 0) {
  fail(
    `no public key to authorize: put one in ${join(sshDir, 'authorized_keys')} (or ${sshDir}/id_*.pub) ` +
      `of user ${user.username}, or name a file of keys in APPPROXY_SSH_AUTHORIZED_KEYS for the agent`,
  );
}

// Everything of this sshd lives in the session folder, removed when the session ends.
const dir = join(dataDir, '.sshd');
mkdirSync(dir, { recursive: true, mode: 0o700 });
const hostKey = join(dir, 'ssh_host_ed25519_key');
if (!existsSync(hostKey)) {
  const gen = spawnSync(
    sshKeygen,
    ['-q', '-t', 'ed25519', '-N', '', '-C', 'appproxy-session', '-f', hostKey],
    {
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  if (gen.error) fail(`cannot run ${sshKeygen}: ${gen.error.message}`);
  if (gen.status !== 0) fail(`${sshKeygen} failed with status ${gen.status}`);
}
const authorizedKeys = join(dir, 'authorized_keys');
writeFileSync(authorizedKeys, `${unique.join('\n')}\n`, { mode: 0o600 });

// As root, sshd needs its privilege-separation directory; containers often lack it (it is
// normally created by the service manager).
if (process.getuid?.() === 0 && !existsSync('/run/sshd'))
  mkdirSync('/run/sshd', { mode: 0o755, recursive: true });

const config = join(dir, 'sshd_config');
writeFileSync(
  config,
  [
    `ListenAddress ${host}`,
    `Port ${port}`,
    `HostKey ${hostKey}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    // One absolute file for every account: AllowUsers below keeps it to the agent's user.
    `AuthorizedKeysFile ${authorizedKeys}`,
    `AllowUsers ${user.username}`,
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitEmptyPasswords no',
    // Root may log in with a key only (the agent may run as root in containers).
    'PermitRootLogin prohibit-password',
    // PAM would ask for the system's account setup; this sshd only checks keys.
    'UsePAM no',
    // The session folder lives under a temporary directory whose modes sshd would refuse.
    'StrictModes no',
    'UseDNS no',
    'PrintMotd no',
    'PrintLastLog no',
    'X11Forwarding no',
    'PermitUserEnvironment no',
    // scp speaks SFTP since OpenSSH 9; the in-process server needs no other binary.
    'Subsystem sftp internal-sftp',
    'LogLevel INFO',
    '',
  ].join('\n'),
  { mode: 0o600 },
);

// -D: foreground (the agent owns the process); -e: log to stderr (the agent keeps the last lines).
const child = spawn(sshd, ['-D', '-e', '-f', config], { stdio: ['ignore', 'inherit', 'inherit'] });
let stopping = false;
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    stopping = true;
    child.kill(sig);
  });
}
child.on('error', (err) => fail(`cannot run ${sshd}: ${err.message}`));
child.on('exit', (code, signal) => {
  // Asked to stop: a clean end whatever sshd's own status on SIGTERM.
  if (stopping) process.exit(0);
  if (signal) {
    console.error(`ssh template: sshd was killed by ${signal}`);
    process.exit(1);
  }
  process.exit(code ?? 1);
});
