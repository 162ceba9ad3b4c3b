import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FastifyBaseLogger } from 'fastify';
import pino from 'pino';
import { LazyChildLogger } from '../../src/http/lazy-child-logger.js';

function parentLogger() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'info', redact: { paths: ['*.password'], censor: '[redacted]' } },
    { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  let children = 0;
  // eslint-disable-next-line @typescript-eslint/unbound-method -- re-applied below to whichever logger calls it
  const child = logger.child;
  // Children of children inherit this property: it must call pino's own method on whatever logger it is called on.
  logger.child = function (this: typeof logger, ...args: Parameters<typeof logger.child>) {
    children++;
    return child.apply(this, args);
  } as typeof logger.child;
  return { logger: logger as unknown as FastifyBaseLogger, lines, children: () => children };
}

describe('LazyChildLogger', () => {
  it('makes no child until something is logged, then logs with the bindings and the redaction', () => {
    const parent = parentLogger();
    const lazy = new LazyChildLogger(parent.logger, { reqId: 'r-1' }, {});
    assert.equal(lazy.level, 'info');
    assert.equal(parent.children(), 0);
    lazy.debug('below the level');
    lazy.warn({ body: { password: 'secret' } }, 'something happened');
    lazy.info('again');
    assert.equal(parent.children(), 1, 'one child, made on first use');
    assert.equal(parent.lines.length, 2);
    assert.equal(parent.lines[0]?.reqId, 'r-1');
    assert.deepEqual(parent.lines[0]?.body, { password: '[redacted]' });
    assert.equal(parent.lines[1]?.msg, 'again');
  });

  it('takes a level of its own, and makes children of its child', () => {
    const parent = parentLogger();
    const lazy = new LazyChildLogger(parent.logger, { reqId: 'r-2' }, { level: 'warn' });
    assert.equal(lazy.level, 'warn');
    lazy.info('dropped');
    lazy.child({ step: 'x' }).error('kept');
    assert.equal(parent.lines.length, 1);
    assert.equal(parent.lines[0]?.reqId, 'r-2');
    assert.equal(parent.lines[0]?.step, 'x');
  });
});
