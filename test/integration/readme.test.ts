import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { startLiveServer, type LiveServer } from '../helpers/live-server.js';
import { REPO_ROOT } from '../helpers/server-process.js';

// The README is the documentation users follow: its walkthrough is run as written, and its configuration table
// is compared with the variables the config reads. Nothing here keeps a second copy of either.
const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');

/** The ```sh blocks between the walkthrough markers, joined: the script a reader would paste. */
function walkthroughScript(markdown: string): string {
  const start = markdown.indexOf('<!-- walkthrough:start -->');
  const end = markdown.indexOf('<!-- walkthrough:end -->');
  assert.ok(start >= 0 && end > start, 'README.md has the walkthrough markers');
  const blocks = [...markdown.slice(start, end).matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
  assert.ok(blocks.length > 0, 'the walkthrough has sh blocks');
  return blocks.join('\n');
}

/** The variable names of the first column of the table under `## Configuration`. */
function configTableVariables(markdown: string): string[] {
  const section = markdown.slice(markdown.indexOf('\n## Configuration\n'));
  const body = section.slice(0, section.indexOf('\n## ', 1));
  const rows = body.split('\n').filter((line) => line.startsWith('| `'));
  return rows.flatMap((row) =>
    [...(row.split('|')[1] ?? '').matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1] as string),
  );
}

/**
 * Every environment variable `loadConfig` reads: those it asks for when called (a recording environment), and
 * those named in its source (variables it reads only on some paths, e.g. PostgreSQL-only ones).
 */
function configVariables(): Set<string> {
  const read = new Set<string>();
  const dataDir = mkdtempSync(join(tmpdir(), 'tenantry-readme-'));
  try {
    const base: Record<string, string> = { DATA_DIR: dataDir, SECRET_KEY: 'x'.repeat(64) };
    const recording = new Proxy(base, {
      get(target, key) {
        if (typeof key === 'string') read.add(key);
        return target[key as string];
      },
    });
    loadConfig(recording);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
  const source = readFileSync(join(REPO_ROOT, 'src/config.ts'), 'utf8');
  for (const match of source.matchAll(/read\.[a-zA-Z]+\(\s*'([A-Z][A-Z0-9_]*)'/g))
    read.add(match[1] as string);
  return read;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('README.md configuration table', () => {
  it('lists every variable the config reads, and only variables the server reads', () => {
    const documented = configTableVariables(README);
    const read = configVariables();
    assert.ok(read.size > 20, `read ${[...read].join(', ')}`);
    const missing = [...read].filter((name) => !documented.includes(name)).sort();
    assert.deepEqual(missing, [], 'variables src/config.ts reads that the README table lacks');
    // A row for a variable read elsewhere (LOG_FORMAT: the logger) is fine; one nothing reads is stale.
    const source = sourceFiles(join(REPO_ROOT, 'src'))
      .map((file) => readFileSync(file, 'utf8'))
      .join('\n');
    const stale = documented.filter((name) => !read.has(name) && !new RegExp(`\\b${name}\\b`).test(source));
    assert.deepEqual(stale, [], 'README table rows for variables nothing reads');
    assert.equal(new Set(documented).size, documented.length, 'each variable once');
  });
});

describe('README.md walkthrough, run as written against a server', () => {
  let server: LiveServer;
  before(async () => {
    server = await startLiveServer();
  });
  after(() => server?.stop());

  it('runs every command: the tenant member and user list, an invitation, a custom domain, the audit log', async () => {
    const script = walkthroughScript(README);
    const child = spawn('bash', ['-c', `set -euo pipefail\n${script}`], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', TENANTRY: server.baseUrl, OUTBOX: server.mailDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    clearTimeout(killer);
    assert.equal(code, 0, `the walkthrough failed (needs bash, curl and jq):\n${stderr}\n${stdout}`);

    // curl prints the answers of the steps that are not captured; each ends without a newline.
    const answers = stdout.split(/(?<=\})(?=\{)/).map((text) => JSON.parse(text) as Record<string, unknown>);
    assert.equal(answers.length, 11, stdout);
    const [
      registered,
      verified,
      member,
      me,
      users,
      invitation,
      invited,
      domain,
      byHost,
      tenantLogin,
      coreEvents,
    ] = answers as [
      { user: { email: string; is_owner: boolean; is_verified: boolean } },
      { message: string },
      { id: number; email: string; role: string },
      { email: string; role: string; is_active: boolean },
      { items: { email: string; role: string }[]; next_cursor: null },
      { organization: { name: string; slug: string }; email: string; role: string },
      { email: string; role: string; is_active: boolean },
      { domain: string; created_at: string },
      { email: string; role: string },
      { action: string; actor: { plane: string; user_id: number } },
      { actions: string[] },
    ];
    assert.deepEqual(
      [registered.user.email, registered.user.is_owner, registered.user.is_verified],
      ['ada@example.com', true, false],
    );
    assert.equal(verified.message, 'Email verified successfully');
    assert.deepEqual([member.email, member.role], ['grace@example.com', 'member']);
    assert.deepEqual([me.email, me.role, me.is_active], ['grace@example.com', 'member', true]);
    assert.deepEqual(users.items.map((u) => [u.email, u.role]).sort(), [
      ['ada@example.com', 'owner'],
      ['grace@example.com', 'member'],
    ]);
    assert.deepEqual(
      [invitation.organization, invitation.email, invitation.role],
      [{ name: 'Acme Corp', slug: 'acme' }, 'linus@example.com', 'admin'],
    );
    assert.deepEqual([invited.email, invited.role, invited.is_active], ['linus@example.com', 'admin', true]);
    // Step 10: a custom domain, then the tenant reached by the Host header alone.
    assert.equal(domain.domain, 'shop.acme.test');
    assert.deepEqual([byHost.email, byHost.role], ['grace@example.com', 'member']);
    // Step 11: the audit log, in the tenant and in the core.
    assert.deepEqual(tenantLogin, {
      action: 'auth.login.succeeded',
      actor: { plane: 'tenant', user_id: member.id },
    });
    assert.deepEqual(coreEvents.actions, [
      'organization.domain.added',
      'organization.created',
      'account.login.succeeded',
      'account.verified',
      'account.registered',
    ]);
  });
});
