import type { FastifyPluginAsync, FastifyPluginOptions } from 'fastify';
import fp from 'fastify-plugin';

/** What Fastify checks when a named plugin is registered. */
export interface PluginMeta {
  /** Shown in errors and `app.printPlugins()`; what other plugins list in `dependencies`. */
  name: string;
  /** Plugins that must be registered before this one (in this scope or an outer one). */
  dependencies?: string[];
  /** Decorators this plugin reads, which must exist when it is registered. */
  decorators?: { fastify?: string[]; request?: string[]; reply?: string[] };
}

/**
 * Makes `plugin` a named, unencapsulated Fastify plugin (`fastify-plugin`): its hooks, handlers and routes apply to
 * the instance it is registered on, and Fastify refuses to register it before its `dependencies` or without the
 * `decorators` it reads. Every plugin of src/http/plugins is made with it, so each declares what it needs.
 *
 * @example
 * export const workerIdentity = namedPlugin(async (app) => { ... }, { name: 'tenantry-worker-identity' });
 * await app.register(workerIdentity);
 */
export function namedPlugin<Options extends FastifyPluginOptions>(
  plugin: FastifyPluginAsync<Options>,
  meta: PluginMeta,
): FastifyPluginAsync<Options> {
  return fp(plugin, { fastify: '5.x', ...meta });
}
