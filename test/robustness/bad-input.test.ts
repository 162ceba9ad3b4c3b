import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { recordErrorAnswers, undocumentedAnswers, type ErrorAnswer } from '../helpers/documented-errors.js';
import { errorShapeProblem } from '../helpers/error-shape.js';
import { call, ownerWithOrganization, verifiedCoreUser, type Tokens } from '../helpers/flows.js';
import { resigned, unsigned } from '../helpers/forged-tokens.js';
import { fuzzCases, withHeaderDefects, type BaseRequest, type FuzzCase } from '../helpers/fuzz-cases.js';
import { FUZZ_SEED, replayHint, Rng, SOAK, SOAK_TIMEOUT } from '../helpers/fuzz-random.js';
import { member } from '../helpers/isolation-world.js';
import {
  contextRecorder,
  describeRoutes,
  routeTable,
  type JsonSchema,
  type RouteInfo,
} from '../helpers/route-table.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * Malformed requests for every route in the server's route table, generated from each route's OpenAPI schemas
 * and sampled with a seeded PRNG (FUZZ_SEED; SOAK=1 sends every generated case, several times over). The server
 * must answer every one without a 5xx, every error in the documented shape, never echo a secret, and still be
 * healthy afterwards.
 */

const FILE = 'test/robustness/bad-input.test.ts';
/** Cases per kind of defect (a field, a header, the URL...), route and plane in a normal run; a soak run sends all. */
const CASES_PER_KIND = 4;
const SLOW_MS = 10_000;

let t: TestApp;
let routes: RouteInfo[];
const recorder = contextRecorder();
let org: { id: number; slug: string };
let ownerCore: string;
let strangerCore: string;
let ownerTenant: Tokens;
let memberId: number;
let errorAnswers: ErrorAnswer[] = [];

before(async () => {
  t = await createTestApp(
    {},
    {
      beforeReady: (app) => {
        recorder.install(app);
        errorAnswers = recordErrorAnswers(app);
      },
    },
  );
  routes = await describeRoutes(t.app, recorder);
  const world = await ownerWithOrganization(t.app, 'fuzz-owner@example.com', 'Fuzz', 'fuzz');
  org = world.org;
  ownerCore = world.owner.tokens.access_token;
  ownerTenant = world.tenantTokens;
  strangerCore = (await verifiedCoreUser(t.app, 'fuzz-stranger@example.com', { isOwner: true })).tokens
    .access_token;
  memberId = (await member(t.app, 'fuzz', 'fuzz-member@example.com')).id;
});
after(() => t?.close());

let unique = 0;

/** A valid value for a field, chosen so the request gets as deep into the server as it can without harm. */
function validValue(name: string, schema: JsonSchema): unknown {
  if (/email|username/.test(name)) return `fuzz-${++unique}@example.com`;
  if (name === 'password' || name === 'current_password') return 'fuzz password 1';
  if (name === 'slug') return org.slug; // taken: 409 after the insert is tried, so no tenant is provisioned
  if (name === 'name') return 'Fuzz Org';
  if (name === 'role') return 'member';
  if (name === 'q') return 'fuzz';
  if (schema.type === 'boolean') return name === 'is_active' || name === 'allow_signup';
  if (schema.enum) return schema.enum[0];
  if (schema.format === 'date-time') return '2026-01-01T00:00:00.000Z';
  if (schema.type === 'integer' || schema.type === 'number') return schema.minimum ?? 5;
  return 'not-a-real-token';
}

function baseFor(route: RouteInfo, plane: 'core' | 'tenant' | 'ops'): BaseRequest {
  const key = `${route.method} ${route.url}`;
  const headers: Record<string, string> = {};
  if (plane === 'tenant') headers['x-tenant'] = org.slug;
  if (route.secured)
    headers.authorization = `Bearer ${plane === 'tenant' ? ownerTenant.access_token : ownerCore}`;
  // Deleting: a stranger's token on organizations (404, nothing to lose); a user id that does not exist.
  if (key === 'DELETE /api/organizations/:id') headers.authorization = `Bearer ${strangerCore}`;
  const params: Record<string, string> = {};
  for (const name of Object.keys(route.params)) {
    if (route.url.startsWith('/api/organizations')) params[name] = String(org.id);
    else params[name] = route.method === 'DELETE' ? '999999' : String(memberId);
  }
  const query: Record<string, string> = {};
  for (const [name, { schema }] of Object.entries(route.query))
    if (name !== 'cursor') query[name] = String(validValue(name, schema));
  let body: Record<string, unknown> | undefined;
  if (route.body?.properties) {
    body = Object.fromEntries(
      Object.entries(route.body.properties).map(([name, schema]) => [name, validValue(name, schema)]),
    );
    // A core account changes only its password here, and only with the current one (a wrong one: 401).
    if (key === 'PATCH /api/users/me' && plane === 'core')
      body = { password: 'fuzz password 2', current_password: 'wrong password' };
  }
  return { route, plane, params, query, headers, body };
}

/**
 * A few cases of every kind of defect, so each run covers every field, header and parameter of every route,
 * whatever the seed picks within them. The kind is the label up to its arrow ("body email", "x-tenant").
 */
function stratified(rng: Rng, cases: FuzzCase[], perKind: number): FuzzCase[] {
  const kinds = new Map<string, FuzzCase[]>();
  for (const c of cases) {
    const kind = c.label.includes(' ← ')
      ? (c.label.split(' ← ')[0] as string)
      : (c.label.split(' ')[0] as string);
    kinds.set(kind, [...(kinds.get(kind) ?? []), c]);
  }
  return [...kinds.values()].flatMap((group) => rng.sample(group, perKind));
}

/** Tokens signed with the server's own key but with claims no issued token has, and unsigned ones. */
async function forgedTokens(app: FastifyInstance): Promise<string[]> {
  const key = app.config.secretKey;
  const base = ownerTenant.access_token;
  const odd: Record<string, unknown>[] = [
    { sub: '1 OR 1=1' },
    { sub: '../../1' },
    { sub: '0' },
    { sub: '99999999999' },
    { sub: 1 },
    { tid: '1' },
    { tid: 1.5 },
    { tid: -1 },
    { tid: 2 ** 53 },
    { tid: 99999999999 },
    { role: 'superuser' },
    { aud: ['tenant', 'core'] },
    { iss: 'someone-else' },
    { exp: 'never' },
    { jti: null },
  ];
  return [
    unsigned(base),
    'eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.',
    ...(await Promise.all(odd.map((changes) => resigned(base, key, { changes: changes })))),
  ];
}

/** Secrets no answer may contain, whatever it is asked. */
function leaks(app: FastifyInstance, body: string): string | null {
  for (const [what, marker] of [
    ['the signing key', app.config.secretKey],
    ['/etc/passwd', 'root:x:0:0'],
    ['package.json', '"devDependencies"'],
    ['a password hash', '$argon2'],
  ] as const)
    if (body.includes(marker)) return what;
  return null;
}

describe(`bad input, every route (FUZZ_SEED=${FUZZ_SEED}${SOAK ? ', soak' : ''})`, () => {
  it(
    'answers every malformed request without a 5xx, in the documented error shape',
    { timeout: SOAK_TIMEOUT },
    async () => {
      const rng = new Rng(FUZZ_SEED);
      const table = routeTable(t.app);
      const forged = await forgedTokens(t.app);
      const failures = new Map<string, string>();
      let sent = 0;
      let slowest = { ms: 0, where: '' };
      const statuses = new Map<number, number>();
      const rounds = SOAK ? 3 : 1;
      for (let round = 0; round < rounds; round++) {
        for (const route of routes) {
          const planes: ('core' | 'tenant' | 'ops')[] =
            route.context === 'both' ? ['core', 'tenant'] : [route.context];
          const servedMethods = table.filter((r) => r.url === route.url).map((r) => r.method);
          const cases: FuzzCase[] = [];
          for (const plane of planes) {
            const base = baseFor(route, plane);
            const all = fuzzCases(base, { servedMethods, forgedTokens: forged });
            // Soak: every case, then rounds where each also carries another case's header defects.
            if (!SOAK) cases.push(...stratified(rng, all, CASES_PER_KIND));
            else if (round === 0) cases.push(...all);
            else cases.push(...all.map((c) => withHeaderDefects(base, c, rng.pick(all))));
          }
          for (const c of cases) {
            const started = performance.now();
            let res;
            try {
              res = await t.app.inject({
                method: c.method as 'GET',
                url: c.url,
                headers: c.headers,
                ...(c.payload === undefined ? {} : { payload: c.payload }),
              });
            } catch (error) {
              failures.set(
                `${route.method} ${route.url} ${c.label}`,
                `inject threw: ${(error as Error).message}`,
              );
              continue;
            }
            const took = performance.now() - started;
            if (took > slowest.ms)
              slowest = { ms: took, where: `${c.method} ${c.url.slice(0, 60)} [${c.label}]` };
            sent++;
            statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
            const where = `${route.method} ${route.url} [${c.label}] ${c.method} ${c.url.slice(0, 80)}`;
            const problem =
              (res.statusCode >= 500 ? `status ${res.statusCode}` : null) ??
              (res.statusCode >= 400 ? errorShapeProblem(res, c.method) : null) ??
              (leaks(t.app, res.body) ? `leaks ${leaks(t.app, res.body)}` : null) ??
              (took > SLOW_MS ? `took ${Math.round(took)} ms` : null);
            if (problem) failures.set(where, `${problem}: ${res.statusCode} ${res.body.slice(0, 200)}`);
          }
        }
      }
      console.log(
        `bad input: ${routes.length} routes, ${sent} requests, statuses ${JSON.stringify(Object.fromEntries(statuses))}, ` +
          `slowest ${Math.round(slowest.ms)} ms (${slowest.where}), seed ${FUZZ_SEED}`,
      );
      const report = [...failures].slice(0, 40).map(([where, what]) => `${where}\n      → ${what}`);
      assert.equal(
        failures.size,
        0,
        `${failures.size} bad answers (${replayHint(FILE)}):\n${report.join('\n')}`,
      );
    },
  );

  it('answered only error codes the OpenAPI document lists for the route and status', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json<
      Parameters<typeof undocumentedAnswers>[0]
    >();
    assert.ok(errorAnswers.length > 100, `recorded ${errorAnswers.length} error answers`);
    assert.deepEqual(undocumentedAnswers(doc, errorAnswers), []);
  });

  it('is still healthy afterwards: probes, a full sign-up and login, no connection left checked out', async () => {
    assert.equal((await t.app.inject({ method: 'GET', url: '/health' })).statusCode, 200);
    assert.equal((await t.app.inject({ method: 'GET', url: '/health/ready' })).statusCode, 200);
    const fresh = await member(t.app, 'fuzz', 'after-the-storm@example.com');
    const me = await call(t.app, 'GET', '/api/users/me', {
      tenant: org.id,
      token: fresh.tokens.access_token,
    });
    assert.equal(me.statusCode, 200, me.body);
    const owner = await call(t.app, 'GET', '/api/organizations', { token: ownerCore });
    assert.equal(owner.statusCode, 200, owner.body);
    const stats = t.app.services.connections.stats();
    assert.equal(stats.inUse, 0);
    assert.equal(stats.waiters, 0);
  });
});
