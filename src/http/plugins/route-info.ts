import { addRouteHook, type RouteInfo } from '../route-info.js';
import { namedPlugin } from './named-plugin.js';

/** The name plugins reading `request.routeInfo` list in their dependencies. */
export const ROUTE_INFO = 'tenantry-route-info';

/**
 * Gives every request its route's RouteInfo through one tiny hook per route. Why not `request.routeOptions`: in
 * Fastify 5 that is a getter building a fresh dozen-field object on every read, and three hooks read it on every
 * request. Register on the root instance before any route.
 */
export const routeInfo = namedPlugin(
  async (app) => {
    app.decorateRequest('routeInfo', null);
    app.addHook('onRoute', (route) => {
      const info: RouteInfo = Object.freeze({ url: route.url, context: route.config?.context ?? null });
      addRouteHook(
        route,
        (request, _reply, done) => {
          request.routeInfo = info;
          done();
        },
        'first',
      );
    });
  },
  { name: ROUTE_INFO },
);
