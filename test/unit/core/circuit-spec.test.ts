/** Route specs of TCP circuits as a worker parses them: defaults, allow-lists, invalid fields. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  DEFAULT_CONNECTION_IDLE_TIMEOUT_MS,
  DEFAULT_TCP_MAX_CONNECTIONS,
} from '../../../src/contracts/circuit-spec.ts';
import type { AppProxyError } from '../../../src/contracts/errors.ts';
import { parseCircuitSpec } from '../../../src/core/circuit-spec.ts';

describe('route specs', () => {
  const port = {
    frontendMode: 'port' as const,
    protocols: ['http', 'tcp'] as ('http' | 'tcp')[],
    portRange: [7100, 7199] as [number, number],
  };
  const spec = (o: Record<string, unknown> = {}) =>
    JSON.stringify({
      id: 'c1',
      sessionId: 's1',
      ownerId: 'u1',
      service: 'ssh',
      protocol: 'tcp',
      frontendMode: 'port',
      port: 7100,
      subdomain: null,
      backends: [{ host: '127.0.0.1', port: 22 }],
      ...o,
    });
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (err) {
      return (err as AppProxyError).code;
    }
    return 'accepted';
  };

  test('tcp defaults: tunnel access, default limit and idle timeout', () => {
    const s = parseCircuitSpec('c1', spec(), port);
    assert.deepEqual(s.tcp, { access: 'tunnel', allowFrom: [], maxConnections: DEFAULT_TCP_MAX_CONNECTIONS });
    assert.equal(s.idleTimeoutMs, DEFAULT_CONNECTION_IDLE_TIMEOUT_MS);
  });

  test('allowFrom takes IPv4 and IPv6 addresses and CIDRs', () => {
    const tcp = {
      access: 'allow-list',
      allowFrom: ['10.0.0.0/8', '192.168.1.7', '::1', 'fd00::/8', '::ffff:10.1.0.0/112'],
      maxConnections: 3,
    };
    assert.deepEqual(parseCircuitSpec('c1', spec({ tcp, idleTimeoutMs: 500 }), port).tcp, tcp);
  });

  test('bad tcp fields are AP_ERR_ROUTE_INVALID', () => {
    for (const tcp of [
      { access: 'open' },
      { access: 'allow-list', allowFrom: ['10.0.0.0/33'] },
      { access: 'allow-list', allowFrom: ['example.com'] },
      { access: 'allow-list', allowFrom: ['fd00::/129'] },
      { access: 'allow-list', allowFrom: '10.0.0.0/8' },
      { access: 'public', maxConnections: 0 },
      { access: 'public', maxConnections: 1.5 },
    ]) {
      assert.equal(
        code(() => parseCircuitSpec('c1', spec({ tcp }), port)),
        'AP_ERR_ROUTE_INVALID',
        JSON.stringify(tcp),
      );
    }
    for (const idleTimeoutMs of [0, -1, 1.5, '500', 2 ** 31]) {
      assert.equal(
        code(() => parseCircuitSpec('c1', spec({ idleTimeoutMs }), port)),
        'AP_ERR_ROUTE_INVALID',
      );
    }
  });

  test('tcp needs a port-mode worker that serves tcp', () => {
    assert.equal(
      code(() => parseCircuitSpec('c1', spec(), { ...port, protocols: ['http'] })),
      'AP_ERR_PROTOCOL_UNSUPPORTED',
    );
    const wildcard = { frontendMode: 'wildcard' as const, protocols: ['http', 'tcp'] as ('http' | 'tcp')[] };
    assert.equal(
      code(() =>
        parseCircuitSpec('c1', spec({ frontendMode: 'wildcard', port: null, subdomain: 'abcdef' }), wildcard),
      ),
      'AP_ERR_PROTOCOL_UNSUPPORTED',
    );
  });
});
