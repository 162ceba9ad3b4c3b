import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { namedPlugin } from '../../src/http/plugins/named-plugin.js';

describe('namedPlugin', () => {
  it('applies to the instance it is registered on, and refuses to load before its dependencies', async () => {
    const first = namedPlugin(
      async (app) => {
        app.decorate('marker', 'set');
      },
      { name: 'test-first' },
    );
    const second = namedPlugin(async () => undefined, { name: 'test-second', dependencies: ['test-first'] });

    const refused = Fastify();
    await assert.rejects(async () => {
      await refused.register(second);
    }, /test-first/);

    const app = Fastify();
    await app.register(first);
    await app.register(second);
    assert.equal(app.hasDecorator('marker'), true);
    assert.equal(app.hasPlugin('test-second'), true);
    await app.close();
  });
});
