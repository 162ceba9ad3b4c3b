/**
 * Audit events of the B2B routes: invitations (tenant events) and custom domains (core events of the
 * organization). Each is written in the transaction of its change (invitations) or before the answer (domains),
 * with the request's id, the client's address and the right actor.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { call, ownerWithOrganization, tokenFromOutbox } from '../helpers/flows.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

interface AuditEvent {
  action: string;
  actor: { plane: 'core' | 'tenant'; user_id: number } | null;
  target: { type: string; id: number } | null;
  request_id: string | null;
  ip: string | null;
  detail: Record<string, unknown>;
}

let t: TestApp;
let setup: Awaited<ReturnType<typeof ownerWithOrganization>>;
let ownerTenantUserId: number;
let seq = 0;

async function act(
  method: 'POST' | 'DELETE',
  url: string,
  options: { body?: unknown; token?: string; tenant?: string },
) {
  const requestId = `b2b-audit-${++seq}`;
  const res = await call(t.app, method, url, { ...options, headers: { 'x-request-id': requestId } });
  return { res, requestId };
}

async function events(query: string, auth: { token: string; tenant?: string }): Promise<AuditEvent[]> {
  const res = await call(t.app, 'GET', `/api/audit-events${query}`, auth);
  assert.equal(res.statusCode, 200, res.body);
  return res.json<{ items: AuditEvent[] }>().items;
}

before(async () => {
  t = await createTestApp();
  setup = await ownerWithOrganization(t.app, 'b2b-audit-owner@example.com', 'Audit B2B', 'audit-b2b');
  ownerTenantUserId = Number(decodeJwt(setup.tenantTokens.access_token).sub);
});
after(() => t?.close());

describe('audit events of invitations', () => {
  const tenant = 'audit-b2b';

  it('records sent, replaced, revoked, resent and accepted, each with its actor, target and request', async () => {
    const token = setup.tenantTokens.access_token;
    const first = await act('POST', '/api/invitations', {
      tenant,
      token,
      body: { email: 'invitee-one@example.com', role: 'member' },
    });
    assert.equal(first.res.statusCode, 201, first.res.body);
    const firstId = first.res.json<{ id: number }>().id;
    // A second invitation for the same email replaces (revokes) the first.
    const second = await act('POST', '/api/invitations', {
      tenant,
      token,
      body: { email: 'invitee-one@example.com', role: 'admin' },
    });
    assert.equal(second.res.statusCode, 201, second.res.body);
    const secondId = second.res.json<{ id: number }>().id;
    const resent = await act('POST', `/api/invitations/${secondId}/resend`, { tenant, token });
    assert.equal(resent.res.statusCode, 202, resent.res.body);

    const other = await act('POST', '/api/invitations', {
      tenant,
      token,
      body: { email: 'invitee-two@example.com', role: 'member' },
    });
    const otherId = other.res.json<{ id: number }>().id;
    const revoked = await act('DELETE', `/api/invitations/${otherId}`, { tenant, token });
    assert.equal(revoked.res.statusCode, 204, revoked.res.body);

    const link = await tokenFromOutbox(t.app, 'invitee-one@example.com', '/invitations/accept');
    const accepted = await act('POST', '/api/invitations/accept', {
      tenant,
      body: { token: link, password: 'invitee password one' },
    });
    assert.equal(accepted.res.statusCode, 201, accepted.res.body);
    const inviteeId = accepted.res.json<{ id: number }>().id;

    const owner = { plane: 'tenant', user_id: ownerTenantUserId };
    const got = (await events('?limit=100', { token, tenant })).filter((e) =>
      e.action.startsWith('invitation.'),
    );
    const summary = got.map((e) => [e.action, e.target?.id, e.actor, e.request_id, e.detail]).reverse();
    assert.deepEqual(summary, [
      ['invitation.sent', firstId, owner, first.requestId, { role: 'member' }],
      ['invitation.revoked', firstId, owner, second.requestId, { replaced_by: secondId }],
      ['invitation.sent', secondId, owner, second.requestId, { role: 'admin' }],
      ['invitation.sent', secondId, owner, resent.requestId, { role: 'admin', resent: true }],
      ['invitation.sent', otherId, owner, other.requestId, { role: 'member' }],
      ['invitation.revoked', otherId, owner, revoked.requestId, {}],
      [
        'invitation.accepted',
        secondId,
        { plane: 'tenant', user_id: inviteeId },
        accepted.requestId,
        { role: 'admin' },
      ],
    ]);
    assert.ok(got.every((e) => e.ip === '127.0.0.1' && e.target?.type === 'invitation'));
    // No event holds the emailed token.
    assert.ok(!JSON.stringify(got).includes(link));
  });

  it('writes nothing for an invitation refused before acting', async () => {
    const token = setup.tenantTokens.access_token;
    const before = await events('?action=invitation.sent', { token, tenant });
    const bad = await call(t.app, 'POST', '/api/invitations', {
      tenant,
      token,
      body: { email: 'not an email', role: 'member' },
    });
    assert.equal(bad.statusCode, 422);
    assert.deepEqual(await events('?action=invitation.sent', { token, tenant }), before);
  });
});

describe('audit events of custom domains', () => {
  it('records domain.added and domain.removed for the owner, in the core', async () => {
    const token = setup.owner.tokens.access_token;
    const url = `/api/organizations/${setup.org.id}/domains`;
    const added = await act('POST', url, { token, body: { domain: 'Shop.Audit-B2B.test' } });
    assert.equal(added.res.statusCode, 201, added.res.body);
    const removed = await act('DELETE', `${url}/shop.audit-b2b.test`, { token });
    assert.equal(removed.res.statusCode, 204, removed.res.body);
    const taken = await call(t.app, 'POST', url, { token, body: { domain: 'not a host name' } });
    assert.equal(taken.statusCode, 422);

    const got = (await events('?limit=100', { token })).filter((e) =>
      e.action.startsWith('organization.domain.'),
    );
    const actor = { plane: 'core', user_id: setup.owner.id };
    assert.deepEqual(
      got.map((e) => [e.action, e.target, e.actor, e.request_id, e.detail]),
      [
        [
          'organization.domain.removed',
          { type: 'organization', id: setup.org.id },
          actor,
          removed.requestId,
          { domain: 'shop.audit-b2b.test' },
        ],
        [
          'organization.domain.added',
          { type: 'organization', id: setup.org.id },
          actor,
          added.requestId,
          { domain: 'shop.audit-b2b.test' },
        ],
      ],
    );
  });
});
