import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RouteContext } from '../../src/http/route-context.js';

/** JSON Schema as it appears in the OpenAPI document (only what the suites read). */
export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  format?: string;
  pattern?: string;
  default?: unknown;
}

/** One route of the server, as the suites see it. */
export interface RouteInfo {
  method: string;
  /** Fastify's pattern, e.g. `/api/users/:id`. */
  url: string;
  /**
   * `ops` for routes outside /api (no tenant context: X-TENANT is ignored); otherwise the route's own
   * `config.context`, read from the running server.
   */
  context: RouteContext | 'ops';
  /** The OpenAPI operation says it needs a bearer token. */
  secured: boolean;
  /** The JSON body schema (absent: the route takes no body). */
  body?: JsonSchema;
  /** Query parameters by name. */
  query: Record<string, { schema: JsonSchema; required: boolean }>;
  /** Path parameters by name. */
  params: Record<string, JsonSchema>;
  /** Media types the route consumes. */
  consumes: string[];
  /** Statuses the OpenAPI document lists for the route. */
  statuses: number[];
}

interface OpenApiOperation {
  security?: unknown[];
  parameters?: { in: string; name: string; required?: boolean; schema: JsonSchema }[];
  requestBody?: { content?: Record<string, { schema: JsonSchema }> };
  responses?: Record<string, unknown>;
}
type OpenApiDocument = {
  paths: Record<string, Record<string, OpenApiOperation>>;
  components?: { schemas?: Record<string, JsonSchema> };
};

/** The schema with every `#/components/schemas/…` reference replaced by what it names (the suites read values). */
export function dereference(schema: unknown, doc: OpenApiDocument): JsonSchema {
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (typeof node !== 'object' || node === null) return node;
    const ref = (node as { $ref?: unknown }).$ref;
    if (typeof ref === 'string') {
      const name = ref.replace('#/components/schemas/', '');
      const target = doc.components?.schemas?.[name];
      if (!target) throw new Error(`unresolved $ref ${ref}`);
      return walk(target);
    }
    return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, walk(value)]));
  };
  return walk(schema) as JsonSchema;
}

/**
 * Every (method, url) of the router, parsed from `printRoutes()`: the server's own route table, hidden routes
 * (docs assets) and automatic HEAD routes included. Each tree line is `<indent>├── <segment> (<METHODS>)`
 * with four columns per level; a route's url is its ancestors' segments joined.
 */
export function routeTable(app: FastifyInstance): { method: string; url: string }[] {
  const routes: { method: string; url: string }[] = [];
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^([│ ]*)[├└]── (.+?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!match) continue;
    const depth = (match[1] as string).length / 4;
    stack.length = depth;
    stack.push(match[2] as string);
    const url = stack.join('');
    for (const method of match[3]?.split(', ') ?? []) routes.push({ method, url });
  }
  if (routes.length === 0) throw new Error(`could not parse the route table:\n${app.printRoutes()}`);
  return routes;
}

/**
 * Records which route answered each request, and its `config.context`, by request id. Install it in
 * createTestApp's `beforeReady`: routes are registered inside buildApp, before an onRoute hook could be added,
 * but root hooks added before `ready()` still run for every route. Both hooks record, so a route whose
 * onRequest guard throws, and a route that hands over to the not-found handler, are both seen.
 */
export function contextRecorder() {
  const seen = new Map<string, { route: string | undefined; context: RouteContext | undefined }>();
  const record = async (request: FastifyRequest) => {
    if (seen.has(request.id) && request.routeOptions.url === undefined) return;
    seen.set(request.id, {
      route:
        request.routeOptions.url === undefined ? undefined : `${request.method} ${request.routeOptions.url}`,
      context: request.routeOptions.config.context,
    });
  };
  return {
    install(app: FastifyInstance): void {
      app.addHook('onRequest', record);
      app.addHook('onResponse', record);
    },
    seen,
  };
}

/** `/api/users/:id` → `/api/users/{id}` (the OpenAPI spelling). */
function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/** A URL that matches the pattern (every parameter `1`, a wildcard `probe`). */
export function concreteUrl(url: string, params: Record<string, string | number> = {}): string {
  return url
    .replace(/:([A-Za-z0-9_]+)/g, (_, name: string) => encodeURIComponent(String(params[name] ?? 1)))
    .replace(/\*$/, 'probe');
}

/**
 * The server's routes with what the suites need to attack them: the route table, each route's `config.context`
 * (read by sending every route one anonymous request and recording which route answered), and its schemas from
 * /openapi.json. Fails for a route it cannot classify: an /api route without a context, a route outside /api
 * with one, or an /api route missing from the OpenAPI document. So a new route is covered, or fails the suite,
 * without anyone editing the suites.
 */
export async function describeRoutes(
  app: FastifyInstance,
  recorder: ReturnType<typeof contextRecorder>,
): Promise<RouteInfo[]> {
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json<OpenApiDocument>();
  const problems: string[] = [];
  const routes: RouteInfo[] = [];
  for (const { method, url } of routeTable(app)) {
    const key = `${method} ${url}`;
    // Anonymous and without a body: answered by a guard or the validator, never a change of state.
    const id = `route-probe-${routes.length}-${problems.length}`;
    const res = await app.inject({
      method: method as 'GET',
      url: concreteUrl(url),
      headers: { 'x-request-id': id },
    });
    const answered = recorder.seen.get(id);
    const isApi = url.startsWith('/api/') || url === '/api';
    // Outside /api any answer will do (plugins' own routes report their urls their own way); inside, the probe
    // must have reached this very route, or its context would be someone else's.
    if (!answered || (isApi && answered.route !== key)) {
      problems.push(
        `${key}: a request to ${concreteUrl(url)} was answered by ${answered?.route} (${res.statusCode})`,
      );
      continue;
    }
    const context = answered.context;
    if (isApi && context !== 'core' && context !== 'tenant' && context !== 'both') {
      problems.push(`${key}: an /api route without config.context ('core' | 'tenant' | 'both')`);
      continue;
    }
    if (!isApi && context !== undefined) {
      problems.push(`${key}: config.context ${String(context)} outside /api, where nothing enforces it`);
      continue;
    }
    // Automatic HEAD routes share their GET route's operation.
    const operation = doc.paths[openApiPath(url)]?.[(method === 'HEAD' ? 'GET' : method).toLowerCase()];
    if (isApi && !operation) {
      problems.push(`${key}: missing from /openapi.json`);
      continue;
    }
    const parameters = operation?.parameters ?? [];
    const content = operation?.requestBody?.content ?? {};
    const json = content['application/json']?.schema && dereference(content['application/json'].schema, doc);
    routes.push({
      method,
      url,
      context: isApi ? (context as RouteContext) : 'ops',
      secured: (operation?.security?.length ?? 0) > 0,
      ...(json && method !== 'HEAD' ? { body: json } : {}),
      query: Object.fromEntries(
        parameters
          .filter((p) => p.in === 'query')
          .map((p) => [p.name, { schema: dereference(p.schema, doc), required: p.required === true }]),
      ),
      params: Object.fromEntries(
        parameters.filter((p) => p.in === 'path').map((p) => [p.name, dereference(p.schema, doc)]),
      ),
      consumes: Object.keys(content),
      statuses: Object.keys(operation?.responses ?? {}).map(Number),
    });
  }
  if (problems.length > 0) throw new Error(`routes the suites cannot classify:\n  ${problems.join('\n  ')}`);
  return routes;
}
