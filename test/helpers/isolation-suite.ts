import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { decodeJwt } from 'jose';
import type { PlacementKind } from '../../src/db/core-schema.js';
import { createTestApp, type TestApp } from './test-app.js';
import { call } from './flows.js';
import { SOAK } from './fuzz-random.js';
import { expired, resigned, strangerKey, unsigned, withAlteredClaims } from './forged-tokens.js';
import { idVariants, slugVariants } from './header-variants.js';
import { buildWorld, WORLD_BASE_DOMAIN, type World, type WorldTenant } from './isolation-world.js';
import {
  concreteUrl,
  contextRecorder,
  describeRoutes,
  type JsonSchema,
  type RouteInfo,
} from './route-table.js';
import { snapshotTenant, type TenantSnapshot } from './tenant-snapshot.js';

/** Which placement each tenant of the world has, and the server's default. */
export interface IsolationSuiteOptions {
  label: string;
  defaultPlacement: PlacementKind;
  kinds: Record<'a' | 'b' | 'c' | 'd', PlacementKind>;
}

/**
 * Proof of tenant isolation, route by route. Every route the server has is enumerated from its own route table
 * and classified by its `config.context`; every tenant route is then attacked from the wrong tenant, the core
 * plane, with forged, expired and orphaned tokens and with look-alike X-TENANT values. Every attempt must get
 * the documented refusal, must not show the victim's data, and, read back from the databases themselves, must
 * not have changed anything.
 */
export function isolationSuite(options: IsolationSuiteOptions): void {
  let t: TestApp;
  let w: World;
  let routes: RouteInfo[];
  const recorder = contextRecorder();

  before(async () => {
    t = await createTestApp(
      { TENANT_PLACEMENT: options.defaultPlacement, TENANT_BASE_DOMAIN: WORLD_BASE_DOMAIN },
      { beforeReady: (app) => recorder.install(app) },
    );
    routes = await describeRoutes(t.app, recorder);
    w = await buildWorld(t.app, options.kinds);
  });
  after(() => t?.close());

  type Victim = 'a' | 'b' | 'd';
  interface Expect {
    status: number;
    code?: string;
  }
  interface Attack {
    label: string;
    tenant: string | number | undefined;
    token: string | undefined;
    victim: Victim;
    expect: Expect;
    /** The Host the request is sent to (tenant subdomains, custom domains); app.inject's default otherwise. */
    host?: string;
  }

  const TOKEN_INVALID: Expect = { status: 401, code: 'TOKEN_INVALID' };
  const TENANT_INVALID: Expect = { status: 400, code: 'TENANT_INVALID' };
  const TENANT_NOT_FOUND: Expect = { status: 404, code: 'TENANT_NOT_FOUND' };
  const TENANT_CONFLICT: Expect = { status: 400, code: 'TENANT_CONFLICT' };

  /** Attacks on routes that need a tenant token: whoever presents what, the answer is a refusal. */
  async function tokenAttacks(app: FastifyInstance): Promise<Attack[]> {
    const { a, b, c, d, bGone } = w;
    const key = app.config.secretKey;
    return [
      {
        label: "A's owner token, B's id",
        tenant: b.id,
        token: a.ownerToken,
        victim: 'b',
        expect: TOKEN_INVALID,
      },
      {
        label: "A's owner token, B's slug",
        tenant: b.slug,
        token: a.ownerToken,
        victim: 'b',
        expect: TOKEN_INVALID,
      },
      {
        label: "A's member token, B's id",
        tenant: b.id,
        token: a.member.tokens.access_token,
        victim: 'b',
        expect: TOKEN_INVALID,
      },
      {
        label: "B's owner token, A's id",
        tenant: a.id,
        token: b.ownerToken,
        victim: 'a',
        expect: TOKEN_INVALID,
      },
      {
        label: "B's owner token, A's slug",
        tenant: a.slug,
        token: b.ownerToken,
        victim: 'a',
        expect: TOKEN_INVALID,
      },
      // The same person's core token: owning B in the core plane is not being a user inside B.
      {
        label: "B's owner core token, B's id",
        tenant: b.id,
        token: b.ownerCoreToken,
        victim: 'b',
        expect: TOKEN_INVALID,
      },
      {
        label: "A's owner core token, B's slug",
        tenant: b.slug,
        token: a.ownerCoreToken,
        victim: 'b',
        expect: TOKEN_INVALID,
      },
      {
        label: 'no token, B',
        tenant: b.id,
        token: undefined,
        victim: 'b',
        expect: { status: 401, code: 'NOT_AUTHENTICATED' },
      },
      {
        label: "A's member token with tid altered to B (signature kept)",
        tenant: b.id,
        token: withAlteredClaims(a.member.tokens.access_token, { tid: b.id }),
        victim: 'b',
        expect: TOKEN_INVALID,
      },
      {
        label: "B's owner token with role altered to owner on a member (signature kept)",
        tenant: b.id,
        token: withAlteredClaims(b.member.tokens.access_token, { role: 'owner', sub: String(b.ownerUserId) }),
        victim: 'b',
        expect: TOKEN_INVALID,
      },
      {
        label: "B's owner claims, alg none",
        tenant: b.id,
        token: unsigned(b.ownerToken),
        victim: 'b',
        expect: TOKEN_INVALID,
      },
      {
        label: "B's owner claims, signed with another key",
        tenant: b.id,
        token: await resigned(b.ownerToken, strangerKey()),
        victim: 'b',
        expect: TOKEN_INVALID,
      },
      {
        label: "B's owner claims, server key but HS512 (algorithm pinned to HS256)",
        tenant: b.id,
        token: await resigned(b.ownerToken, key, { alg: 'HS512' }),
        victim: 'b',
        expect: TOKEN_INVALID,
      },
      {
        label: "B's owner token, expired",
        tenant: b.id,
        token: await expired(b.ownerToken, key),
        victim: 'b',
        expect: TOKEN_INVALID,
      },
      {
        label: "a deleted user's token, its own tenant B",
        tenant: b.slug,
        token: bGone.tokens.access_token,
        victim: 'b',
        expect: TOKEN_INVALID,
      },
      {
        label: "the deleted organization C's owner token, B",
        tenant: b.id,
        token: c.ownerToken,
        victim: 'b',
        expect: TOKEN_INVALID,
      },
      {
        label: "the deleted organization C's token, C's old slug (now D's)",
        tenant: c.slug,
        token: c.ownerToken,
        victim: 'd',
        expect: TOKEN_INVALID,
      },
      {
        label: "the deleted organization C's member token, D's id",
        tenant: d.id,
        token: c.member.tokens.access_token,
        victim: 'd',
        expect: TOKEN_INVALID,
      },
      ...hostAttacks(),
      ...headerAttacks(),
    ];
  }

  /** The same from the host: another tenant's subdomain or custom domain, alone or against X-TENANT. */
  function hostAttacks(): Attack[] {
    const { a, b, c, d } = w;
    const bDomain = b.domain as string;
    const aDomain = a.domain as string;
    return [
      { label: "A's owner token, B's subdomain", host: b.subdomain, tenant: undefined, token: a.ownerToken },
      { label: "A's owner token, B's custom domain", host: bDomain, tenant: undefined, token: a.ownerToken },
      {
        label: "A's member token, B's custom domain (upper case, port)",
        host: `${bDomain.toUpperCase()}:8443`,
        tenant: undefined,
        token: a.member.tokens.access_token,
      },
      {
        label: "B's owner core token, B's custom domain",
        host: bDomain,
        tenant: undefined,
        token: b.ownerCoreToken,
      },
      {
        label: "A's owner token, B's custom domain, X-TENANT A (same org as the token)",
        host: bDomain,
        tenant: a.id,
        token: a.ownerToken,
        expect: TENANT_CONFLICT,
      },
      {
        label: "A's owner token, A's custom domain, X-TENANT B",
        host: aDomain,
        tenant: b.slug,
        token: a.ownerToken,
        expect: TENANT_CONFLICT,
      },
      {
        label: "B's own owner token, A's subdomain, X-TENANT B",
        host: a.subdomain,
        tenant: b.id,
        token: b.ownerToken,
        expect: TENANT_CONFLICT,
      },
      {
        label: "the deleted organization C's token, C's old subdomain (now D's)",
        host: d.subdomain,
        tenant: undefined,
        token: c.ownerToken,
        victim: 'd' as const,
      },
    ].map((attack): Attack => ({ victim: 'b', expect: TOKEN_INVALID, ...attack }));
  }

  /**
   * X-TENANT values that must never resolve to a live tenant, sent with the victim's own valid token: if one
   * resolved to the victim, the request would succeed.
   */
  function headerAttacks(): Attack[] {
    const { b, c } = w;
    return [
      {
        label: "deleted organization C's id, C's own token",
        tenant: c.id,
        token: c.ownerToken,
        victim: 'b',
        expect: TENANT_NOT_FOUND,
      },
      {
        label: "deleted organization C's id, B's token",
        tenant: c.id,
        token: b.ownerToken,
        victim: 'b',
        expect: TENANT_NOT_FOUND,
      },
      ...[...idVariants(b.id), ...slugVariants(b.slug)].map((value): Attack => ({
        label: `X-TENANT ${JSON.stringify(value)} with B's token`,
        tenant: value,
        token: b.ownerToken,
        victim: 'b',
        expect: TENANT_INVALID,
      })),
    ];
  }

  /** A valid value for a schema: what a hijacker would send if the guard let it through. */
  function hijackValue(name: string, schema: JsonSchema): unknown {
    if (schema.anyOf) return hijackValue(name, schema.anyOf[0] as JsonSchema);
    if (schema.const !== undefined) return schema.const;
    if (schema.enum) return schema.enum[0];
    if (schema.type === 'boolean') return false;
    if (schema.type === 'integer' || schema.type === 'number') return schema.minimum ?? 1;
    if (/email|username/.test(name)) return 'hijacked@example.com';
    return 'hijacked-value-1';
  }

  function hijackBody(schema: JsonSchema | undefined): Record<string, unknown> | undefined {
    if (!schema?.properties) return undefined;
    return Object.fromEntries(
      Object.entries(schema.properties).map(([name, property]) => [name, hijackValue(name, property)]),
    );
  }

  function withQuery(url: string, query: Record<string, string> | undefined): string {
    return query ? `${url}?${new URLSearchParams(query).toString()}` : url;
  }

  function victimOf(victim: Victim): WorldTenant {
    return w[victim];
  }

  /** Emails, invited emails and tokens of a tenant: none may appear in an answer to an attacker. */
  function secretsOf(tenant: WorldTenant, snapshot: TenantSnapshot): string[] {
    return [
      ...snapshot.users.map((u) => u.email),
      ...snapshot.invitations.map((i) => i.email),
      tenant.member.invitationToken,
      tenant.member.tokens.refresh_token,
      tenant.member.tokens.access_token,
      tenant.ownerToken,
    ];
  }

  function describeFailure(label: string, route: RouteInfo, res: LightMyRequestResponse): string {
    return `${route.method} ${route.url} [${label}] → ${res.statusCode} ${res.body.slice(0, 300)}`;
  }

  /**
   * Public tenant routes authenticate with what the body (or query) carries, not a bearer token. Each must be
   * listed here with the credentials an attacker from another tenant would bring, and the documented answer; an
   * unlisted one fails the suite.
   */
  const INVITATION_TOKEN_INVALID: Expect = { status: 404, code: 'TOKEN_INVALID' };
  const PUBLIC_TENANT_ROUTES: Record<
    string,
    (from: WorldTenant) => {
      body?: Record<string, unknown>;
      query?: Record<string, string>;
      expect: Expect | 'created-member';
    }
  > = {
    // An invitation token of another tenant (or a revoked one at home) finds nothing: the same 404 as any
    // unknown token, and no invited email in the answer.
    'GET /api/invitations/lookup': (from) => ({
      query: { token: from.member.invitationToken },
      expect: INVITATION_TOKEN_INVALID,
    }),
    'HEAD /api/invitations/lookup': (from) => ({
      query: { token: from.member.invitationToken },
      expect: INVITATION_TOKEN_INVALID,
    }),
    'POST /api/invitations/accept': (from) => ({
      body: { token: from.member.invitationToken, password: 'attacker password' },
      expect: INVITATION_TOKEN_INVALID,
    }),
    'POST /api/auth/login': (from) => ({
      body: { email: from.member.email, password: from.member.password },
      expect: { status: 401, code: 'INVALID_CREDENTIALS' },
    }),
    'POST /api/auth/refresh': (from) => ({
      body: { refresh_token: from.member.tokens.refresh_token },
      expect: { status: 401, code: 'REFRESH_TOKEN_INVALID' },
    }),
    // 204 whatever the token (logout is no oracle); that it changed nothing is checked in the databases.
    'POST /api/auth/logout': (from) => ({
      body: { refresh_token: from.member.tokens.refresh_token },
      expect: { status: 204 },
    }),
    // Sign-up is public: the attacker's own token and is_owner must not matter, the user lands in the tenant
    // named by the header as a plain member, and nothing else changes.
    'POST /api/auth/register': (from) => ({
      body: { email: from.member.email, password: 'attacker password', is_owner: true },
      expect: 'created-member',
    }),
  };

  describe(`tenant isolation, every route from the route table (${options.label})`, () => {
    let attacks = 0;
    let covered = 0;
    const registered: { victim: Victim; email: string }[] = [];
    let before: Record<Victim, TenantSnapshot>;
    let coreBefore: unknown[];

    const coreDomains = () =>
      t.app.core.db.selectFrom('organization_domains').selectAll().orderBy('domain').execute();
    let domainsBefore: unknown[];
    const coreOrganizations = () =>
      t.app.core.db
        .selectFrom('organizations')
        .select(['id', 'name', 'slug', 'status', 'allow_signup', 'owner_id', 'tenant_db_name', 'deleted_at'])
        .orderBy('id')
        .execute();

    it('classifies every route (core, tenant, both, or outside /api)', () => {
      const count = (context: RouteInfo['context']) => routes.filter((r) => r.context === context).length;
      for (const context of ['core', 'tenant', 'both', 'ops'] as const)
        assert.ok(count(context) > 0, context);
      // Spot checks that the classification reads the routes' real config.
      const find = (method: string, url: string) => routes.find((r) => r.method === method && r.url === url);
      assert.equal(find('GET', '/api/users')?.context, 'tenant');
      assert.equal(find('GET', '/api/users/me')?.context, 'both');
      assert.equal(find('POST', '/api/organizations')?.context, 'core');
      assert.equal(find('POST', '/api/organizations/:id/domains')?.context, 'core');
      assert.equal(find('DELETE', '/api/organizations/:id/domains/:domain')?.secured, true);
      assert.equal(find('GET', '/health')?.context, 'ops');
      assert.equal(find('GET', '/api/audit-events')?.context, 'both');
      assert.equal(find('GET', '/api/users/me')?.secured, true);
      assert.equal(find('POST', '/api/auth/login')?.secured, false);
    });

    it('snapshots every tenant database before the attacks', async () => {
      before = {
        a: await snapshotTenant(t.app, w.a.placement),
        b: await snapshotTenant(t.app, w.b.placement),
        d: await snapshotTenant(t.app, w.d.placement),
      };
      coreBefore = await coreOrganizations();
      domainsBefore = await coreDomains();
      // The reads reach the right databases: each holds its own owner, and no one else's.
      for (const victim of ['a', 'b', 'd'] as const) {
        const emails = before[victim].users.map((u) => u.email);
        assert.ok(emails.includes(victimOf(victim).ownerEmail), `${victim}: ${emails.join(', ')}`);
        for (const other of ['a', 'b', 'd'] as const) {
          if (other !== victim) assert.ok(!emails.includes(victimOf(other).ownerEmail));
        }
      }
    });

    it('refuses every attack on every secured tenant route with the documented status', async () => {
      const failures: string[] = [];
      const all = await tokenAttacks(t.app);
      const attackOnce = async (route: RouteInfo, attack: Attack) => {
        const victim = victimOf(attack.victim);
        // Path ids name real users of the victim (ids coincide across tenants, so also of the attacker).
        const url = concreteUrl(route.url, { id: victim.member.id });
        const body = hijackBody(route.body);
        const res = await call(t.app, route.method, url, {
          ...(attack.tenant === undefined ? {} : { tenant: attack.tenant }),
          ...(attack.token ? { token: attack.token } : {}),
          ...(attack.host ? { headers: { host: attack.host } } : {}),
          ...(body ? { body } : {}),
        });
        attacks++;
        const code = route.method === 'HEAD' ? undefined : res.json<{ code?: string }>().code;
        if (
          res.statusCode !== attack.expect.status ||
          (attack.expect.code && code && code !== attack.expect.code)
        )
          failures.push(
            `${describeFailure(attack.label, route, res)} (expected ${JSON.stringify(attack.expect)})`,
          );
        if (route.method !== 'HEAD' && Object.keys(res.json<object>()).sort().join() !== 'code,detail')
          failures.push(`${describeFailure(attack.label, route, res)}: not a bare error`);
        for (const secret of secretsOf(victim, before[attack.victim]))
          if (res.body.includes(secret)) failures.push(`${describeFailure(attack.label, route, res)}: leaks`);
      };
      const secured = routes.filter((r) => r.context !== 'core' && r.context !== 'ops' && r.secured);
      covered += secured.length;
      // Soak: the whole battery again and again, each route's attacks all at once (races in the guards).
      for (let round = 0; round < (SOAK ? 10 : 1); round++) {
        for (const route of secured) {
          if (SOAK) await Promise.all(all.map((attack) => attackOnce(route, attack)));
          else for (const attack of all) await attackOnce(route, attack);
        }
      }
      assert.deepEqual(failures, []);
    });

    it('refuses credentials from another tenant on every public tenant route', async () => {
      const failures: string[] = [];
      const publicRoutes = routes.filter((r) => r.context !== 'core' && r.context !== 'ops' && !r.secured);
      type Where = { tenant: string | number } | { host: string };
      const pairs: [WorldTenant, Victim, Where][] = [
        [w.a, 'b', { tenant: w.b.id }],
        [w.a, 'b', { tenant: w.b.slug }],
        [w.b, 'a', { tenant: w.a.id }],
        [w.c, 'd', { tenant: w.c.slug }], // the deleted C's credentials at its old slug, now D's
        [{ ...w.b, member: w.bGone }, 'b', { tenant: w.b.id }], // a deleted user's credentials in its own tenant
        // The same by host: the other tenant's subdomain and custom domain, C's old subdomain (now D's).
        [w.a, 'b', { host: w.b.subdomain }],
        [w.a, 'b', { host: w.b.domain as string }],
        [w.b, 'a', { host: w.a.domain as string }],
        [w.c, 'd', { host: w.d.subdomain }],
      ];
      let n = 0;
      for (const route of publicRoutes) {
        const plan = PUBLIC_TENANT_ROUTES[`${route.method} ${route.url}`];
        if (!plan) {
          failures.push(`${route.method} ${route.url}: public tenant route with no isolation plan`);
          continue;
        }
        covered++;
        for (const [from, victim, where] of pairs) {
          const { body, query, expect } = plan(from);
          if (expect === 'created-member' && body) body.email = `cross-${++n}-${String(body.email)}`;
          // The attacker's own bearer token rides along: it must not change anything either.
          const res = await call(t.app, route.method, withQuery(route.url, query), {
            ...('tenant' in where ? { tenant: where.tenant } : { headers: { host: where.host } }),
            token: from.ownerToken,
            ...(body ? { body } : {}),
          });
          attacks++;
          const label = `${String(from.slug)}'s credentials at ${'tenant' in where ? String(where.tenant) : where.host}`;
          if (expect === 'created-member') {
            const user = res.json<{ role?: string; email?: string }>();
            if (res.statusCode !== 201 || user.role !== 'member')
              failures.push(`${describeFailure(label, route, res)} (expected 201 member)`);
            else registered.push({ victim, email: String(body?.email) });
          } else if (
            res.statusCode !== expect.status ||
            (expect.code && route.method !== 'HEAD' && res.json<{ code: string }>().code !== expect.code)
          ) {
            failures.push(`${describeFailure(label, route, res)} (expected ${JSON.stringify(expect)})`);
          }
          for (const secret of secretsOf(victimOf(victim), before[victim]))
            if (res.body.includes(secret)) failures.push(`${describeFailure(label, route, res)}: leaks`);
        }
        for (const attack of headerAttacks()) {
          const { body, query } = plan(w.a);
          const res = await call(t.app, route.method, withQuery(route.url, query), {
            tenant: attack.tenant as string,
            ...(attack.token ? { token: attack.token } : {}),
            ...(body ? { body: { ...body, email: 'never-registered@example.com' } } : {}),
          });
          attacks++;
          if (
            res.statusCode !== attack.expect.status ||
            (route.method !== 'HEAD' && res.json<{ code: string }>().code !== attack.expect.code)
          )
            failures.push(
              `${describeFailure(attack.label, route, res)} (expected ${JSON.stringify(attack.expect)})`,
            );
        }
      }
      assert.deepEqual(failures, []);
    });

    it("never lets one organization's custom domain or subdomain reach another's database", async () => {
      const { a, b, c, d } = w;
      const failures: string[] = [];
      const expectAt = async (
        label: string,
        host: string,
        method: 'GET' | 'POST',
        url: string,
        options: { token?: string; body?: unknown },
        status: number,
        code?: string,
      ) => {
        const res = await call(t.app, method, url, { ...options, headers: { host } });
        attacks++;
        if (res.statusCode !== status || (code && res.json<{ code?: string }>().code !== code))
          failures.push(
            `${method} ${url} at ${host} [${label}] → ${res.statusCode} ${res.body.slice(0, 200)}`,
          );
        for (const victim of ['a', 'b', 'd'] as const)
          for (const secret of secretsOf(victimOf(victim), before[victim]))
            if (status >= 400 && res.body.includes(secret)) failures.push(`${label}: leaks`);
        return res;
      };
      // The deleted C's domain selects nothing: not D (which took C's slug), not anyone. A tenant route asks for
      // a tenant; a route of both planes runs in the core, where tenant tokens are refused.
      const cDomain = c.domain as string;
      for (const token of [c.ownerToken, d.ownerToken, b.ownerToken]) {
        await expectAt("C's old domain", cDomain, 'GET', '/api/users', { token }, 400, 'TENANT_REQUIRED');
        await expectAt("C's old domain", cDomain, 'GET', '/api/users/me', { token }, 401, 'TOKEN_INVALID');
      }
      // Each domain reaches its own organization only: the owner is itself there, and sees its own users only.
      for (const tenant of [a, b]) {
        for (const host of [tenant.domain as string, tenant.subdomain]) {
          const me = await expectAt(
            'own host',
            host,
            'GET',
            '/api/users/me',
            { token: tenant.ownerToken },
            200,
          );
          if (me.json<{ email?: string }>().email !== tenant.ownerEmail)
            failures.push(`${host}: not its owner`);
        }
      }
      // A sign-up through A's domain lands in A's database (the final read-back checks that, and only that).
      const email = `by-domain-${Date.now()}@example.com`;
      const signup = await expectAt(
        "sign-up at A's domain",
        a.domain as string,
        'POST',
        '/api/auth/register',
        { body: { email, password: 'attacker password' } },
        201,
      );
      if (signup.statusCode === 201) registered.push({ victim: 'a', email });
      // Another owner can neither take A's domain nor make A's subdomain a domain of theirs.
      for (const [domain, status] of [
        [a.domain as string, 409],
        [a.subdomain, 422],
      ] as const) {
        const res = await call(t.app, 'POST', `/api/organizations/${b.id}/domains`, {
          token: b.ownerCoreToken,
          body: { domain },
        });
        attacks++;
        if (res.statusCode !== status) failures.push(`B attaching ${domain} → ${res.statusCode} ${res.body}`);
      }
      assert.deepEqual(failures, []);
    });

    it('keeps core routes out of reach of tenant tokens and of other owners', async () => {
      const failures: string[] = [];
      const check = (label: string, route: RouteInfo, res: LightMyRequestResponse, expect: Expect) => {
        attacks++;
        const code = route.method === 'HEAD' ? undefined : res.json<{ code?: string }>().code;
        if (res.statusCode !== expect.status || (code && expect.code && code !== expect.code))
          failures.push(`${describeFailure(label, route, res)} (expected ${JSON.stringify(expect)})`);
        for (const secret of [w.b.ownerToken, w.b.member.email, ...before.b.users.map((u) => u.email)])
          if (res.body.includes(secret)) failures.push(`${describeFailure(label, route, res)}: leaks`);
      };
      for (const route of routes.filter((r) => r.context === 'core' || r.context === 'both')) {
        if (!route.secured) continue;
        covered += route.context === 'core' ? 1 : 0;
        const url = concreteUrl(route.url, { id: w.b.id });
        const body = hijackBody(route.body);
        const send = (tenant: string | number | undefined, token: string) =>
          call(t.app, route.method, url, {
            token,
            ...(tenant === undefined ? {} : { tenant }),
            ...(body ? { body } : {}),
          });
        // A tenant token is never a core credential, not even the owner's own.
        check(
          "B's owner tenant token, core plane",
          route,
          await send(undefined, w.b.ownerToken),
          TOKEN_INVALID,
        );
        check(
          "B's alg-none tenant token",
          route,
          await send(undefined, unsigned(w.b.ownerToken)),
          TOKEN_INVALID,
        );
        if (route.context !== 'core') continue;
        check('X-TENANT on a core-only route', route, await send(w.b.id, w.b.ownerCoreToken), {
          status: 400,
          code: 'TENANT_NOT_ALLOWED',
        });
        // Another owner's organization is "not found", whatever the action.
        if (route.url.includes(':id'))
          check("A's owner on B's organization", route, await send(undefined, w.a.ownerCoreToken), {
            status: 404,
            code: 'NOT_FOUND',
          });
      }
      const listed = await call(t.app, 'GET', '/api/organizations', { token: w.a.ownerCoreToken });
      assert.deepEqual(
        listed.json<{ items: { id: number }[] }>().items.map((o) => o.id),
        [w.a.id],
      );
      assert.deepEqual(failures, []);
    });

    it("keeps each tenant's audit events to itself, and each owner's core events to that owner", async () => {
      interface Event {
        action: string;
        request_id: string | null;
        target: { type: string; id: number } | null;
      }
      const read = async (tenant: WorldTenant | null, token: string): Promise<Event[]> => {
        const events: Event[] = [];
        let cursor: string | null = null;
        do {
          const res = await call(
            t.app,
            'GET',
            `/api/audit-events?limit=100${cursor ? `&cursor=${cursor}` : ''}`,
            {
              token,
              ...(tenant ? { tenant: tenant.id } : {}),
            },
          );
          assert.equal(res.statusCode, 200, res.body);
          const page = res.json<{ items: Event[]; next_cursor: string | null }>();
          events.push(...page.items);
          cursor = page.next_cursor;
        } while (cursor);
        return events;
      };
      const tenantEvents = {
        a: await read(w.a, w.a.ownerToken),
        b: await read(w.b, w.b.ownerToken),
        d: await read(w.d, w.d.ownerToken),
      };
      // The attacks above left failed logins in the victims' logs; each request is in one tenant's log only.
      assert.ok(tenantEvents.b.some((e) => e.action === 'auth.login.failed'));
      for (const victim of ['a', 'b', 'd'] as const) {
        const mine = new Set(tenantEvents[victim].map((e) => e.request_id));
        for (const other of ['a', 'b', 'd'] as const)
          if (other !== victim)
            assert.deepEqual(
              tenantEvents[other].filter((e) => mine.has(e.request_id)),
              [],
              `${victim}'s events in ${other}'s log`,
            );
      }
      // The members (not admins) of a tenant read nothing of it.
      const member = await call(t.app, 'GET', '/api/audit-events', {
        tenant: w.b.id,
        token: w.b.member.tokens.access_token,
      });
      assert.equal(member.statusCode, 403, member.body);
      // In the core, an owner reads only their own account's and organizations' events.
      for (const tenant of [w.a, w.b, w.d]) {
        const ownerId = Number(decodeJwt(tenant.ownerCoreToken).sub);
        const events = await read(null, tenant.ownerCoreToken);
        assert.ok(events.length > 0, tenant.slug);
        for (const event of events)
          assert.ok(
            (event.target?.type === 'account' && event.target.id === ownerId) ||
              (event.target?.type === 'organization' && event.target.id === tenant.id),
            `${tenant.slug}'s owner reads ${JSON.stringify(event)}`,
          );
      }
    });

    it('changed nothing in any tenant database, or in the core (read back directly)', async () => {
      for (const victim of ['a', 'b', 'd'] as const) {
        const now = await snapshotTenant(t.app, victimOf(victim).placement);
        const mine = new Set(registered.filter((r) => r.victim === victim).map((r) => r.email));
        const added = now.users.filter((u) => !before[victim].users.some((v) => v.id === u.id));
        // Only the public sign-ups, each as a member, each in the tenant the header named.
        assert.deepEqual(added.map((u) => u.email).sort(), [...mine].sort(), victim);
        assert.ok(added.every((u) => u.role === 'member' && u.core_user_id === null));
        assert.deepEqual(
          now.users.filter((u) => !mine.has(u.email)),
          before[victim].users,
          `users of ${victim}`,
        );
        assert.deepEqual(now.refreshTokens, before[victim].refreshTokens, `refresh tokens of ${victim}`);
        assert.deepEqual(now.invitations, before[victim].invitations, `invitations of ${victim}`);
      }
      assert.deepEqual(await coreOrganizations(), coreBefore);
      assert.deepEqual(await coreDomains(), domainsBefore);
      assert.ok(registered.length > 0, 'the sign-up plan ran');
    });

    it('left every victim able to work normally afterwards', async () => {
      // The refresh tokens presented in the wrong places are still good at home.
      for (const tenant of [w.a, w.b]) {
        const res = await call(t.app, 'POST', '/api/auth/refresh', {
          tenant: tenant.slug,
          body: { refresh_token: tenant.member.tokens.refresh_token },
        });
        assert.equal(res.statusCode, 200, res.body);
        const me = await call(t.app, 'GET', '/api/users/me', { tenant: tenant.id, token: tenant.ownerToken });
        assert.equal(me.json<{ email: string }>().email, tenant.ownerEmail);
        // The invitation tokens presented elsewhere still work at home.
        const token = encodeURIComponent(tenant.member.invitationToken);
        const invitation = await call(t.app, 'GET', `/api/invitations/lookup?token=${token}`, {
          tenant: tenant.slug,
        });
        assert.equal(invitation.statusCode, 200, invitation.body);
      }
      console.log(
        `isolation (${options.label}): ${routes.length} routes in the table, ${covered} tenant/core routes attacked, ${attacks} attacks`,
      );
    });
  });
}
