import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { call, ownerWithOrganization } from '../helpers/flows.js';
import { find, parsePrometheusText, total, type Sample } from '../helpers/prometheus-text.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

const TOKEN = randomBytes(24).toString('hex');

describe('GET /metrics', () => {
  let t: TestApp;
  let samples: Sample[];
  let types: Map<string, string>;
  let org: { id: number };

  before(async () => {
    t = await createTestApp({ METRICS_TOKEN: TOKEN });
    // Traffic to observe: a plain route, an unknown URL, a parameterized route twice, a provisioning and a
    // tenant request (which opens a tenant connection).
    await call(t.app, 'GET', '/health');
    await call(t.app, 'GET', '/no/such/page-7731');
    await call(t.app, 'GET', '/api/organizations/424242');
    await call(t.app, 'GET', '/api/organizations/424243');
    const owned = await ownerWithOrganization(t.app, 'metrics-owner@example.com', 'Metrics Org');
    org = owned.org;
    const me = await call(t.app, 'GET', '/api/users/me', {
      token: owned.tenantTokens.access_token,
      tenant: org.id,
    });
    assert.equal(me.statusCode, 200, me.body);

    const res = await call(t.app, 'GET', '/metrics', { token: TOKEN });
    assert.equal(res.statusCode, 200, res.body);
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    ({ samples, types } = parsePrometheusText(res.body));
  });
  after(() => t.close());

  it('needs the METRICS_TOKEN bearer token when one is configured', async () => {
    const missing = await call(t.app, 'GET', '/metrics');
    assert.equal(missing.statusCode, 401);
    assert.equal(missing.json<{ code: string }>().code, 'NOT_AUTHENTICATED');
    const wrong = await call(t.app, 'GET', '/metrics', { token: `${TOKEN.slice(0, -1)}x` });
    assert.equal(wrong.statusCode, 401);
    assert.equal(wrong.json<{ code: string }>().code, 'TOKEN_INVALID');
    const basic = await call(t.app, 'GET', '/metrics', { headers: { authorization: `Basic ${TOKEN}` } });
    assert.equal(basic.statusCode, 401);
    assert.doesNotMatch(missing.body + wrong.body, /tenantry_http/);
  });

  it('parses as Prometheus text, with a declared type for every metric', () => {
    // parsePrometheusText already threw on any malformed line; here: samples exist and are typed.
    assert.ok(samples.length > 50);
    for (const sample of samples) {
      const base = sample.name.replace(/_(bucket|sum|count)$/, '');
      assert.ok(types.has(sample.name) || types.has(base), `${sample.name} has a # TYPE line`);
    }
  });

  it('counts requests and their latency by route pattern and status, never by raw URL or tenant', () => {
    assert.equal(types.get('tenantry_http_requests_total'), 'counter');
    assert.equal(types.get('tenantry_http_request_duration_seconds'), 'histogram');
    const byRoute = { method: 'GET', route: '/api/organizations/:id', status_code: '401' };
    assert.equal(total(samples, 'tenantry_http_requests_total', byRoute), 2);
    assert.equal(total(samples, 'tenantry_http_request_duration_seconds_count', byRoute), 2);
    assert.equal(find(samples, 'tenantry_http_request_duration_seconds_bucket', byRoute).length, 12);
    assert.equal(total(samples, 'tenantry_http_requests_total', { route: '/health', status_code: '200' }), 1);
    assert.equal(
      total(samples, 'tenantry_http_requests_total', { route: 'unmatched', status_code: '404' }),
      1,
    );
    assert.equal(
      total(samples, 'tenantry_http_requests_total', { route: '/api/users/me', status_code: '200' }),
      1,
    );
    const labelValues = samples.flatMap((sample) => Object.values(sample.labels));
    for (const raw of ['424242', '424243', 'page-7731']) {
      assert.ok(!labelValues.some((value) => value.includes(raw)), `no label holds the raw URL part ${raw}`);
    }
    const labelNames = new Set(samples.flatMap((sample) => Object.keys(sample.labels)));
    assert.ok(![...labelNames].some((name) => /tenant|user/.test(name)), `labels: ${[...labelNames].join()}`);
  });

  it('reports the connection manager as it is at scrape time', () => {
    const stats = t.app.services.connections.stats();
    assert.ok(stats.connections >= 1, 'the tenant request left a connection open');
    const value = (name: string) => {
      const [sample] = find(samples, name);
      assert.ok(sample, `${name} is exposed`);
      return sample.value;
    };
    assert.equal(value('tenantry_tenant_databases_open'), stats.openTenants);
    assert.equal(value('tenantry_tenant_connections'), stats.connections);
    assert.equal(value('tenantry_tenant_connections_in_use'), stats.inUse);
    assert.equal(value('tenantry_tenant_connections_idle'), stats.idle);
    assert.equal(value('tenantry_tenant_connection_waiters'), stats.waiters);
    assert.equal(value('tenantry_tenant_connection_evictions_total'), stats.evictions);
    assert.equal(value('tenantry_tenant_connection_timeouts_total'), stats.timeouts);
    assert.equal(value('tenantry_tenant_connections_opened_total'), stats.opened);
    assert.equal(value('tenantry_tenant_connections_max'), t.config.tenantConnections.maxConnections);
    assert.equal(types.get('tenantry_tenant_connection_evictions_total'), 'counter');
    assert.equal(types.get('tenantry_tenant_connections'), 'gauge');
  });

  it('times provisioning runs by outcome', () => {
    assert.equal(types.get('tenantry_tenant_provisioning_duration_seconds'), 'histogram');
    const count = total(samples, 'tenantry_tenant_provisioning_duration_seconds_count', {
      outcome: 'success',
    });
    assert.equal(count, 1);
    assert.ok(
      total(samples, 'tenantry_tenant_provisioning_duration_seconds_sum', { outcome: 'success' }) > 0,
    );
  });

  it('includes event-loop lag and the default process metrics', () => {
    for (const name of [
      'nodejs_eventloop_lag_seconds',
      'nodejs_eventloop_lag_p99_seconds',
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_heap_size_used_bytes',
    ]) {
      assert.equal(find(samples, name).length, 1, name);
    }
  });

  it('keeps a registry per app: a second app in the same process starts from zero', async () => {
    const other = await createTestApp();
    try {
      // No METRICS_TOKEN on this one: open.
      const res = await call(other.app, 'GET', '/metrics');
      assert.equal(res.statusCode, 200);
      const { samples: fresh } = parsePrometheusText(res.body);
      assert.equal(total(fresh, 'tenantry_http_requests_total'), 0);
      assert.equal(total(fresh, 'tenantry_tenant_provisioning_duration_seconds_count'), 0);
      assert.equal(find(fresh, 'nodejs_eventloop_lag_seconds').length, 1);
    } finally {
      await other.close();
    }
  });
});
