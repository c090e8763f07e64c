/**
 * Composition root of `appproxy agent`: config → etcd → local agent (processes from templates)
 * → the KV host that registers it, follows the sessions managers want and writes its reports.
 * The agent needs no secret and no other store; managers never dial it.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { LocalAgent } from '../agent/local-agent.ts';
import { AgentHost } from '../agent/remote.ts';
import { parseTemplates, withBuiltins } from '../agent/templates.ts';
import type { AgentConfig } from '../config/schema.ts';
import { parseDurationMs } from '../core/duration.ts';
import type { Logger } from '../core/logger.ts';
import { openKv } from './stores.ts';

export interface AgentProcess {
  agent: LocalAgent;
  close(): Promise<void>;
}

export async function startAgentProcess(
  config: AgentConfig,
  opts: { logger: Logger },
): Promise<AgentProcess> {
  const log = opts.logger;
  const dataDir = resolve(config.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const kv = openKv(config.stores.kv);
  const agent = new LocalAgent({
    name: config.name,
    templates: withBuiltins(parseTemplates(config.templates)),
    dataDir,
    terminateGraceMs: parseDurationMs(config.terminateGrace),
    logger: log,
  });
  const host = new AgentHost({
    kv,
    agent,
    leaseTtlMs: parseDurationMs(config.leaseTtl),
    dataDir,
    logger: log,
  });
  try {
    await host.start();
  } catch (err) {
    await agent.close().catch(() => {});
    await kv.close().catch(() => {});
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    agent,
    close() {
      closing ??= (async () => {
        // Stops every session (final reports reach etcd), then revokes the lease.
        await host.close().catch((err: unknown) => log.warn({ err }, 'error while closing the agent'));
        await kv.close().catch(() => {});
      })();
      return closing;
    },
  };
}
