import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config.js';
import { corsOriginMatchers, wildcardOrigin } from '../../src/http/cors-origins.js';
import { canonicalHostname, isDomainName } from '../../src/tenancy/routing/hostnames.js';
import { hostTarget, type HostRouting } from '../../src/tenancy/routing/host-target.js';

const ROUTING: HostRouting = { baseDomain: 'example.com', reservedHosts: new Set(['api.example.com']) };

describe('hostTarget', () => {
  it('maps <slug>.<base> to the slug, case-insensitively', () => {
    assert.deepEqual(hostTarget('acme.example.com', ROUTING), { kind: 'slug', slug: 'acme' });
    assert.deepEqual(hostTarget('ACME.Example.Com', ROUTING), { kind: 'slug', slug: 'acme' });
    assert.deepEqual(hostTarget('acme.example.com.', ROUTING), { kind: 'slug', slug: 'acme' });
  });

  it('selects nothing for the base domain, deeper names, non-slugs, the server’s host and non-domains', () => {
    for (const host of [
      'example.com',
      'a.acme.example.com',
      '1acme.example.com',
      'a.example.com', // slugs have two characters at least
      'api.example.com',
      'localhost',
      '127.0.0.1',
      '[::1]',
      '',
      'acme..example.com',
      'ac_me.example.com',
      'évil.io',
    ])
      assert.equal(hostTarget(host, ROUTING), null, host);
  });

  it('treats any other domain as a custom domain to look up, with or without a base domain', () => {
    assert.deepEqual(hostTarget('Shop.Acme.io', ROUTING), { kind: 'domain', domain: 'shop.acme.io' });
    assert.deepEqual(hostTarget('evil-example.com', ROUTING), { kind: 'domain', domain: 'evil-example.com' });
    const none: HostRouting = { baseDomain: null, reservedHosts: new Set() };
    assert.deepEqual(hostTarget('acme.example.com', none), { kind: 'domain', domain: 'acme.example.com' });
  });

  it('canonicalizes host names and tells domains from bare names and addresses', () => {
    assert.equal(canonicalHostname('Shop.ACME.io.'), 'shop.acme.io');
    assert.equal(canonicalHostname(`${'a'.repeat(63)}.io`), `${'a'.repeat(63)}.io`);
    assert.equal(canonicalHostname(`${'a'.repeat(64)}.io`), null);
    assert.equal(canonicalHostname(`${'a.'.repeat(127)}io`), null); // 256 characters
    assert.equal(canonicalHostname('-a.io'), null);
    assert.equal(isDomainName('shop.acme.io'), true);
    assert.equal(isDomainName('localhost'), false);
    assert.equal(isDomainName('10.0.0.1'), false);
  });
});

describe('CORS_ORIGINS wildcard entries', () => {
  it('match one or more labels under the host, with that scheme and port only', () => {
    const pattern = wildcardOrigin('https://*.example.com');
    assert.ok(pattern);
    for (const origin of ['https://acme.example.com', 'https://a.b.example.com', 'https://ACME.example.com'])
      assert.equal(pattern.test(origin), true, origin);
    for (const origin of [
      'https://example.com',
      'https://evil-example.com',
      'https://acme.evil-example.com',
      'https://example.com.evil.io',
      'https://acmeexample.com',
      'http://acme.example.com',
      'https://acme.example.com:8443',
      'https://acme.example.com/',
      'https://.example.com',
      'https://acme.example.comx',
      'null',
    ])
      assert.equal(pattern.test(origin), false, origin);
    const withPort = wildcardOrigin('http://*.localhost:5173');
    assert.equal(withPort?.test('http://acme.localhost:5173'), true);
    assert.equal(withPort?.test('http://acme.localhost'), false);
  });

  it('leaves exact entries and * as they are, and refuses malformed wildcards', () => {
    assert.equal(wildcardOrigin('*'), null);
    assert.equal(wildcardOrigin('https://app.example.com'), null);
    const matchers = corsOriginMatchers(['https://app.example.com', 'https://*.example.com']);
    assert.equal(matchers[0], 'https://app.example.com');
    assert.ok(matchers[1] instanceof RegExp);
    for (const entry of [
      'https://a*.example.com',
      'https://*.*.example.com',
      '*.example.com',
      'https://*',
      'ftp://*.example.com',
    ])
      assert.throws(() => wildcardOrigin(entry), /not a wildcard origin/, entry);
  });
});

describe('TENANT_BASE_DOMAIN and CORS_ORIGINS in the configuration', () => {
  function load(env: Record<string, string>) {
    const dir = mkdtempSync(join(tmpdir(), 'tenantry-host-config-'));
    try {
      return loadConfig({ DATA_DIR: dir, SECRET_KEY: 'k'.repeat(40), ...env });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  function problems(env: Record<string, string>): readonly string[] {
    try {
      load(env);
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      return error.problems;
    }
    assert.fail('expected a ConfigError');
  }

  it('takes a host name, lower-cased; unset is null', () => {
    assert.equal(load({}).tenantBaseDomain, null);
    assert.equal(load({ TENANT_BASE_DOMAIN: 'Example.COM' }).tenantBaseDomain, 'example.com');
    assert.equal(load({ TENANT_BASE_DOMAIN: 'localhost' }).tenantBaseDomain, 'localhost');
  });

  it('refuses a URL, a port, a trailing dot or a malformed name', () => {
    for (const value of [
      'https://example.com',
      'example.com:8000',
      'example.com.',
      'exa mple.com',
      '*.example.com',
    ])
      assert.match(problems({ TENANT_BASE_DOMAIN: value }).join('\n'), /TENANT_BASE_DOMAIN/, value);
  });

  it('refuses malformed wildcard origins in CORS_ORIGINS', () => {
    assert.match(problems({ CORS_ORIGINS: 'https://*example.com' }).join('\n'), /CORS_ORIGINS/);
    assert.deepEqual(load({ CORS_ORIGINS: 'https://*.example.com,*' }).corsOrigins, [
      'https://*.example.com',
      '*',
    ]);
  });
});
