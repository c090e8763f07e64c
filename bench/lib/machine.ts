/** The machine description that goes with every result. */
import { readFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import type { PeerVersions } from './peers.ts';

export interface Machine {
  cpu: string;
  cores: number;
  memGiB: number;
  kernel: string;
  node: string;
  os: string;
  versions: PeerVersions;
}

export function machine(versions: PeerVersions): Machine {
  let os = 'unknown';
  try {
    os = /PRETTY_NAME="([^"]+)"/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? os;
  } catch {}
  const c = cpus();
  return {
    cpu: c[0]?.model.trim() ?? 'unknown',
    cores: c.length,
    memGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    os,
    versions,
  };
}
