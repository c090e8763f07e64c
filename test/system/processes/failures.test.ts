/**
 * Failure scenarios on the split processes and the real stores, one cluster for the file, in
 * order: kill -9 a worker (exclusion, UNAVAILABLE, resume after restart), kill -9 the leader
 * manager (failover), restart Redis, restart PostgreSQL (503 then recovery), stop etcd for 10 s
 * (workers keep serving; changes around the outage land after). `GET /v1/doctor` is checked
 * after each. Measured times are printed on lines starting with `# `.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CookieJar, followSetup, request } from '../../support/http.ts';
import { skipRealStores } from '../../support/infra/servers.ts';
import { until } from '../../support/poll.ts';
import { doctor, type ProcessCluster, startProcessCluster } from './cluster.ts';

interface Served {
  sessionId: string;
  circuitId: string;
  appUrl: string;
  jar: CookieJar;
}

async function status(url: string, jar: CookieJar): Promise<number | string> {
  try {
    return (await request(url, { jar, headers: { accept: 'application/json' } })).status;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'error';
  }
}

describe('cluster: failures', { skip: skipRealStores }, () => {
  let c: ProcessCluster;
  let backendServer: import('node:http').Server;
  let backendPort: number;
  const served: Record<'port' | 'wildcard', Served> = {} as never;

  /** An external session (RUNNING at once) with a circuit on the given frontend, set up in a cookie jar. */
  async function serve(frontend: 'port' | 'wildcard', name: string): Promise<Served> {
    const s = await c.api('POST', '/v1/sessions', {
      name,
      external: { services: [{ name: 'web', protocol: 'http', host: '127.0.0.1', port: backendPort }] },
    });
    assert.equal(s.status, 201, JSON.stringify(s.body));
    const r = await c.api('POST', `/v1/sessions/${s.body.id}/start-service`, { service: 'web', frontend });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const jar = new CookieJar();
    assert.equal((await followSetup(r.body.setupUrl, jar)).status, 302);
    assert.equal(await status(r.body.appUrl, jar), 200);
    return { sessionId: s.body.id, circuitId: r.body.circuitId, appUrl: r.body.appUrl, jar };
  }

  async function circuitState(id: string): Promise<string | undefined> {
    const r = await c.api('GET', `/v1/circuits/${id}`);
    return r.status === 200 ? r.body.state : undefined;
  }

  async function expectDoctorClean(afterWhat: string): Promise<void> {
    const v = await until(
      async () => {
        const violations = await doctor(c);
        // Repairs are the leader's loop: give it a few periods to settle.
        return violations === null || violations.length === 0 ? { violations } : undefined;
      },
      `doctor clean after ${afterWhat}`,
      { timeoutMs: 30_000, intervalMs: 500 },
    ).catch(async (err) => {
      throw new Error(`${(err as Error).message}: ${JSON.stringify(await doctor(c))}`);
    });
    if (v.violations === null) console.log(`# doctor after ${afterWhat}: endpoint not available (skipped)`);
  }

  function allRunning(): void {
    for (const p of [c.agent, c.portWorker, c.wildcardWorker, ...c.managers])
      assert.ok(p.running, `${p.name} is not running:\n${p.output.slice(-3000)}`);
  }

  async function leaderOf(url: string): Promise<{ id: string | null; self: boolean } | undefined> {
    const r = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) });
    const body = (await r.json()) as { leader?: { id: string | null; self: boolean } };
    return body.leader;
  }

  before(async () => {
    const http = await import('node:http');
    backendServer = http.createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`backend ok ${'x'.repeat(1000)}`);
    });
    await new Promise<void>((r) => backendServer.listen(0, '127.0.0.1', r));
    backendPort = (backendServer.address() as import('node:net').AddressInfo).port;
    const t0 = performance.now();
    c = await startProcessCluster({ leaseTtl: '3s' });
    console.log(
      `# cluster started in ${((performance.now() - t0) / 1000).toFixed(1)} s (lease TTL ${c.leaseTtlMs} ms)`,
    );
    served.port = await serve('port', 'fail-port');
    served.wildcard = await serve('wildcard', 'fail-wildcard');
  });
  after(async () => {
    await c?.close();
    backendServer?.close();
  });

  test('kill -9 a worker: excluded and its circuits UNAVAILABLE within the TTL; restart resumes them', async () => {
    const t0 = performance.now();
    await c.portWorker.kill9();
    const unavailable = await until(
      async () => (await circuitState(served.port.circuitId)) === 'UNAVAILABLE',
      'the circuit to become UNAVAILABLE',
      { timeoutMs: 4 * c.leaseTtlMs + 10_000, intervalMs: 100 },
    );
    const markedMs = performance.now() - t0;
    assert.ok(unavailable);
    // Allocation avoids it: a port-mode request has no other port worker, so it is refused at once.
    const s = await c.api('POST', '/v1/sessions', {
      external: { services: [{ name: 'web', protocol: 'http', host: '127.0.0.1', port: backendPort }] },
    });
    const t1 = performance.now();
    const refused = await c.api('POST', `/v1/sessions/${s.body.id}/start-service`, {
      service: 'web',
      frontend: 'port',
    });
    const refusedMs = performance.now() - t1;
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.equal(refused.body.code, 'AP_ERR_NO_WORKER');
    assert.ok(refusedMs < 3_000, `refusal took ${refusedMs} ms`);
    // The other worker's circuit is untouched.
    assert.equal(await status(served.wildcard.appUrl, served.wildcard.jar), 200);
    console.log(
      `# worker kill -9: circuits UNAVAILABLE after ${markedMs.toFixed(0)} ms (lease TTL ${c.leaseTtlMs} ms); new port-mode allocation refused in ${refusedMs.toFixed(0)} ms`,
    );

    const t2 = performance.now();
    await c.portWorker.start();
    await until(
      async () =>
        (await circuitState(served.port.circuitId)) === 'ACTIVE' &&
        (await status(served.port.appUrl, served.port.jar)) === 200,
      'the circuit to serve again',
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    console.log(
      `# worker restart (same authority): circuit ACTIVE and serving ${(performance.now() - t2).toFixed(0)} ms after the process started (no manager restart)`,
    );
    await c.api('DELETE', `/v1/sessions/${s.body.id}`);
    await expectDoctorClean('the worker kill');
  });

  test('kill -9 the leader manager: the other leads within two TTLs, nothing lost', async () => {
    const leaders = await Promise.all(c.managerUrls.map((u) => leaderOf(u)));
    if (!leaders.some((l) => l !== undefined)) {
      console.log('# leader election not available in this build: killing manager-1 instead');
    }
    const idx = Math.max(
      0,
      leaders.findIndex((l) => l?.self),
    );
    const victim = c.managers[idx]!;
    const other = c.managerUrls[1 - idx]!;
    const t0 = performance.now();
    await victim.kill9();
    if (leaders.some((l) => l !== undefined)) {
      await until(async () => (await leaderOf(other))?.self === true, 'the other manager to lead', {
        timeoutMs: 2 * c.leaseTtlMs + 10_000,
        intervalMs: 100,
      });
      const ms = performance.now() - t0;
      console.log(
        `# leader kill -9: the other manager leads after ${ms.toFixed(0)} ms (lease TTL ${c.leaseTtlMs} ms)`,
      );
      assert.ok(ms <= 2 * c.leaseTtlMs + 2_000, `failover took ${ms} ms`);
    }
    // Nothing lost: both circuits ACTIVE and serving; the API answers through the survivor.
    for (const s of Object.values(served)) {
      assert.equal((await c.apiAt(other, 'GET', `/v1/circuits/${s.circuitId}`)).body.state, 'ACTIVE');
      assert.equal(await status(s.appUrl, s.jar), 200);
    }
    await victim.start();
    await expectDoctorClean('the leader kill');
  });

  test('restart Redis: nothing crashes, activity counts again', async () => {
    const activity = async () => {
      const r = await c.api('GET', `/v1/circuits/${served.port.circuitId}/activity`);
      return r.status === 200 ? (r.body.bytesOut as number) : undefined;
    };
    // Some bytes were counted already (the earlier scenarios moved traffic through this circuit).
    const before = await until(async () => (await activity()) || undefined, 'counted activity', {
      timeoutMs: 10_000,
    });
    const t0 = performance.now();
    await c.servers.redis.stop();
    // Proxying needs no store: existing cookies keep working while Redis is down.
    for (let i = 0; i < 5; i++) assert.equal(await status(served.port.appUrl, served.port.jar), 200);
    await c.servers.redis.start();
    const downMs = performance.now() - t0;
    const grown = await until(
      async () => {
        await status(served.port.appUrl, served.port.jar);
        const a = await activity();
        return a !== undefined && a > before ? a : undefined;
      },
      'activity to count again',
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    console.log(
      `# Redis restart (down ${downMs.toFixed(0)} ms): activity counts again ${(performance.now() - t0 - downMs).toFixed(0)} ms after it came back (${before} → ${grown} bytes out)`,
    );
    allRunning();
    // A new setup (single-use marks live in Redis) works again.
    const again = await c.api('POST', `/v1/sessions/${served.wildcard.sessionId}/start-service`, {
      service: 'web',
      frontend: 'wildcard',
    });
    assert.equal(again.status, 200);
    await until(
      async () => (await followSetup(again.body.setupUrl, new CookieJar())).status === 302,
      'setup after Redis restart',
      { timeoutMs: 15_000, intervalMs: 250 },
    );
    await expectDoctorClean('the Redis restart');
  });

  test('restart PostgreSQL: the API answers 503 AP_ERR_STORE_UNAVAILABLE, then recovers by itself', async () => {
    await c.servers.postgres.stop();
    const t0 = performance.now();
    for (const url of c.managerUrls) {
      const r = await until(
        async () => {
          const x = await c.apiAt(url, 'GET', '/v1/sessions');
          return x.status === 503 ? x : undefined;
        },
        'a 503 while PostgreSQL is down',
        { timeoutMs: 15_000, intervalMs: 200 },
      );
      assert.equal(r.body.code, 'AP_ERR_STORE_UNAVAILABLE');
    }
    // Workers keep serving meanwhile.
    assert.equal(await status(served.port.appUrl, served.port.jar), 200);
    await c.servers.postgres.start();
    const t1 = performance.now();
    for (const url of c.managerUrls) {
      await until(
        async () => (await c.apiAt(url, 'GET', '/v1/sessions')).status === 200,
        'the API to recover',
        { timeoutMs: 30_000, intervalMs: 200 },
      );
    }
    console.log(
      `# PostgreSQL restart: 503 AP_ERR_STORE_UNAVAILABLE while down (${(t1 - t0).toFixed(0)} ms), API answers ${(performance.now() - t1).toFixed(0)} ms after it came back`,
    );
    allRunning();
    await expectDoctorClean('the PostgreSQL restart');
  });

  test('stop etcd for 10 s: workers keep serving; changes around the outage land after', async () => {
    // A change just before the outage: a third circuit, whose session is deleted during the outage.
    const doomed = await serve('port', 'fail-doomed');
    await c.servers.etcd.stop();
    const t0 = performance.now();
    let checks = 0;
    let deleteStatus: number | undefined;
    while (performance.now() - t0 < 10_000) {
      for (const s of [served.port, served.wildcard]) {
        assert.equal(
          await status(s.appUrl, s.jar),
          200,
          'an existing circuit stopped serving during the etcd outage',
        );
        checks++;
      }
      if (deleteStatus === undefined) {
        deleteStatus = (await c.api('DELETE', `/v1/sessions/${doomed.sessionId}`)).status;
      }
      await new Promise((r) => setTimeout(r, 250)); // the outage lasts 10 s; requests every 250 ms
    }
    await c.servers.etcd.start();
    const t1 = performance.now();
    console.log(
      `# etcd stopped ${((t1 - t0) / 1000).toFixed(1)} s: ${checks} requests through existing circuits, all 200; DELETE during the outage answered ${deleteStatus}`,
    );
    if (deleteStatus !== 202) {
      // Refused while etcd was down (503): the client retries after.
      await until(
        async () => (await c.api('DELETE', `/v1/sessions/${doomed.sessionId}`)).status === 202,
        'DELETE after etcd is back',
        { timeoutMs: 30_000, intervalMs: 250 },
      );
    }
    await until(
      async () => (await status(doomed.appUrl, doomed.jar)) !== 200,
      "the deleted session's address to refuse",
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    const closedMs = performance.now() - t1;
    await until(async () => (await circuitState(doomed.circuitId)) === 'CLOSED', 'the circuit CLOSED', {
      timeoutMs: 60_000,
      intervalMs: 200,
    });
    // A change after the outage: a new circuit is served at once.
    const t2 = performance.now();
    const fresh = await until(
      () => serve('wildcard', 'after-etcd').catch(() => undefined),
      'a new circuit after the outage',
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    console.log(
      `# etcd catch-up: the deletion made during the outage reached the worker ${closedMs.toFixed(0)} ms after etcd came back; a new circuit served ${(performance.now() - t2).toFixed(0)} ms later`,
    );
    for (const s of [served.port, served.wildcard, fresh]) assert.equal(await status(s.appUrl, s.jar), 200);
    allRunning();
    await expectDoctorClean('the etcd outage');
  });
});
