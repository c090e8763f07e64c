import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CliError,
  EXIT_FAILURE,
  EXIT_USAGE,
  exitCodeFor,
  renderError,
  UsageError,
} from '../../../src/cli/errors.ts';
import { ApiError, NetworkError } from '../../../src/client/errors.ts';

describe('renderError', () => {
  it('renders an API error with its code and request id', () => {
    const err = new ApiError({
      code: 'AP_ERR_SESSION_NOT_RUNNING',
      status: 409,
      message: 'The session is not running.',
      requestId: 'req-42',
    });
    assert.equal(
      renderError(err),
      'error: The session is not running. [AP_ERR_SESSION_NOT_RUNNING] (request req-42)\n',
    );
  });

  it('omits what the answer did not carry', () => {
    const err = new ApiError({ code: null, status: 502, message: 'HTTP 502 Bad Gateway', requestId: null });
    assert.equal(renderError(err), 'error: HTTP 502 Bad Gateway\n');
  });

  it('renders other errors, hints and (debug) stacks', () => {
    const net = new NetworkError(
      'http://h:1',
      'ECONNREFUSED',
      'cannot reach the manager at http://h:1 (ECONNREFUSED)',
    );
    assert.equal(renderError(net), 'error: cannot reach the manager at http://h:1 (ECONNREFUSED)\n');
    assert.equal(renderError(new CliError('boom'), { hint: 'try again' }), 'error: boom\nhint: try again\n');
    assert.equal(renderError('weird'), 'error: weird\n');
    assert.match(renderError(new Error('bug'), { debug: true }), /^error: bug\nError: bug\n\s+at /);
    assert.equal(renderError(new CliError('no stack'), { debug: true }), 'error: no stack\n');
  });

  it('maps errors to exit codes', () => {
    assert.equal(exitCodeFor(new UsageError('x')), EXIT_USAGE);
    assert.equal(exitCodeFor(new CliError('x')), EXIT_FAILURE);
    assert.equal(exitCodeFor(new Error('x')), EXIT_FAILURE);
  });
});
