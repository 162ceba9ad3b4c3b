import type { FastifyPluginAsync, FastifyPluginOptions } from 'fastify';

/** What Fastify checks when a named plugin is registered (the metadata `fastify-plugin` records). */
export interface PluginMeta {
  /** Shown in errors and `app.printPlugins()`; what other plugins list in `dependencies`. */
  name: string;
  /** Plugins that must be registered before this one (in this scope or an outer one). */
  dependencies?: string[];
  /** Decorators this plugin reads, which must exist when it is registered. */
  decorators?: { fastify?: string[]; request?: string[]; reply?: string[] };
}

/**
 * Makes `plugin` a named, unencapsulated Fastify plugin, as `fastify-plugin` does (the same three symbols Fastify
 * reads): its hooks, handlers and routes apply to the instance it is registered on, and Fastify refuses to
 * register it before its `dependencies` or without the `decorators` it reads.
 *
 * @example
 * export const workerIdentity = namedPlugin(async (app) => { ... }, { name: 'tenantry-worker-identity' });
 * await app.register(workerIdentity);
 */
export function namedPlugin<Options extends FastifyPluginOptions>(
  plugin: FastifyPluginAsync<Options>,
  meta: PluginMeta,
): FastifyPluginAsync<Options> {
  return Object.assign(plugin, {
    [Symbol.for('skip-override')]: true,
    [Symbol.for('fastify.display-name')]: meta.name,
    [Symbol.for('plugin-meta')]: meta,
  });
}
