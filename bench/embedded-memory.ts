/**
 * Embedded-engine memory benchmark: starts the real server (`src/main.ts`) with zero configuration (only a
 * temporary DATA_DIR and a port on 127.0.0.1; PGlite, default settings), reads the server process's resident
 * memory at ready, then signs up an owner through the HTTP API, creates N organizations and sends each tenant
 * one request, reading the memory again after each.
 *
 *   npx tsx bench/embedded-memory.ts [--tenants 4] [--settle 2] [--idle S] [--max-seconds 300]
 *                                    [--server-env NAME=VALUE ...]
 *
 * `--idle S` adds a last sample after S more seconds without tenant requests (a readiness probe every second, as
 * a load balancer would send): with `--server-env TENANT_IDLE_TIMEOUT_SECONDS=…` below S, what closing idle tenant
 * databases gives back.
 *
 * The server is `node <flags> --import tsx src/main.ts` with the flags of `npm start` (package.json), as `npm start`
 * runs it, so its pid is the process that holds the memory. The temporary directory and the server are removed
 * on every exit.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseMessage } from '../test/helpers/smtp-listener.js';
import { guardRun, onCleanup, runMain, throwIfAborted } from './lib/cleanup.js';
import { scrapeMetrics } from './lib/metrics.js';
import { processMemory, processTree, type ProcessMemory } from './lib/process-memory.js';
import { fixed, table } from './lib/report.js';
import { parseServerEnv } from './lib/server-env.js';
import { freePort, startServer, type ServerProcess } from './lib/server-process.js';
import { npmStartNodeFlags } from './lib/start-flags.js';

const { values } = parseArgs({
  options: {
    tenants: { type: 'string', default: '4' },
    settle: { type: 'string', default: '2' },
    idle: { type: 'string', default: '0' },
    'max-seconds': { type: 'string', default: '300' },
    'server-env': { type: 'string', multiple: true, default: [] },
  },
});
const tenants = Number(values.tenants);
const settleMs = Number(values.settle) * 1000;
const idleSeconds = Number(values.idle);
const maxSeconds = Number(values['max-seconds']);
const serverEnv = parseServerEnv(values['server-env']);
if (
  !(Number.isInteger(tenants) && tenants >= 1) ||
  !(settleMs >= 0) ||
  !(Number.isInteger(idleSeconds) && idleSeconds >= 0) ||
  !(maxSeconds >= 1) ||
  serverEnv === null
) {
  process.stderr.write(
    'usage: npx tsx bench/embedded-memory.ts [--tenants N] [--settle S] [--idle S] [--max-seconds S] [--server-env NAME=VALUE ...]\n',
  );
  process.exit(2);
}

const EMAIL = 'memory-owner@example.com';
const PASSWORD = 'correct horse battery staple';
const out = (line: string) => process.stdout.write(`${line}\n`);
const MiB = 1024 * 1024;

interface Sample {
  step: string;
  memory: ProcessMemory;
  /** V8 heap in use and memory outside it (ArrayBuffers, WebAssembly memories are not in it), from /metrics. */
  heapUsed: number | null;
  external: number | null;
  openTenants: number | null;
}

/** One JSON request to the server; throws on an unexpected status, with the body. */
async function api<T>(
  server: ServerProcess,
  method: string,
  path: string,
  expected: number,
  options: { body?: unknown; token?: string; tenant?: number } = {},
): Promise<T> {
  const headers: Record<string, string> = {};
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.tenant !== undefined) headers['x-tenant'] = String(options.tenant);
  const response = await fetch(`${server.baseUrl}${path}`, {
    method,
    headers,
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await response.text();
  if (response.status !== expected) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return (text === '' ? null : JSON.parse(text)) as T;
}

/**
 * The verification token the server emailed to `to`: the development outbox writes each mail as an `.eml` file
 * under DATA_DIR/mail, from a background sender, so the file is waited for.
 */
async function verificationToken(dataDir: string, to: string): Promise<string> {
  const dir = join(dataDir, 'mail');
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    throwIfAborted();
    const files = await readdir(dir).catch(() => [] as string[]);
    for (const file of files.filter((name) => name.endsWith('.eml'))) {
      const message = parseMessage(await readFile(join(dir, file), 'utf8'));
      if (!message.headers.to?.includes(to)) continue;
      const token = /\/api\/auth\/verify\?token=([A-Za-z0-9_-]+)/.exec(message.text ?? '')?.[1];
      if (token) return token;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no verification email to ${to} in ${dir} within 30 s`);
}

async function sample(server: ServerProcess, step: string): Promise<Sample> {
  // Memory of closed databases is returned once V8 collects their objects: give it a moment, like a real server.
  await new Promise((resolve) => setTimeout(resolve, settleMs));
  const metrics = await scrapeMetrics(server.baseUrl);
  const memory = await processMemory(server.pid);
  const result: Sample = {
    step,
    memory,
    heapUsed: metrics?.get('nodejs_heap_size_used_bytes') ?? null,
    external: metrics?.get('nodejs_external_memory_bytes') ?? null,
    openTenants: metrics?.get('tenantry_tenant_databases_open') ?? null,
  };
  out(`  ${step}: RSS ${fixed(memory.rss, 0)} MiB`);
  return result;
}

const mib = (bytes: number | null): string => (bytes === null ? '—' : fixed(bytes / MiB, 0));

function report(samples: readonly Sample[], tenantCount: number): void {
  const rows = samples.map((s, i) => {
    const previous = samples[i - 1];
    return [
      s.step,
      fixed(s.memory.rss, 0),
      previous ? fixed(s.memory.rss - previous.memory.rss, 0) : '',
      fixed(s.memory.anon, 0),
      fixed(s.memory.peak, 0),
      mib(s.heapUsed),
      mib(s.external),
      s.openTenants === null ? '—' : String(s.openTenants),
    ];
  });
  out('');
  out(
    table(
      ['step', 'RSS MiB', 'Δ MiB', 'anon MiB', 'peak MiB', 'heap used MiB', 'external MiB', 'open tenants'],
      rows,
    ),
  );
  const ready = samples[0] as Sample;
  const signedUp = samples[1] as Sample;
  const last = samples[tenantCount + 1] as Sample;
  const perTenant = (last.memory.rss - signedUp.memory.rss) / tenantCount;
  out('');
  out(`at ready: ${fixed(ready.memory.rss, 0)} MiB RSS`);
  out(`after ${tenantCount} tenants: ${fixed(last.memory.rss, 0)} MiB RSS`);
  out(`per tenant (mean increment after the owner signed up): ${fixed(perTenant, 0)} MiB`);
  out(
    `load average (1, 5, 15 min): ${loadavg()
      .map((n) => n.toFixed(2))
      .join(', ')}`,
  );
}

async function main(): Promise<void> {
  guardRun({ maxSeconds });
  const dataDir = mkdtempSync(join(tmpdir(), 'tenantry-memory-'));
  onCleanup('remove the data directory', async () => rmSync(dataDir, { recursive: true, force: true }));

  const started = performance.now();
  const server = await startServer({
    name: 'tenantry',
    script: 'src/main.ts',
    nodeArgs: npmStartNodeFlags(),
    env: { DATA_DIR: dataDir, ...serverEnv },
    port: await freePort(),
    readyPath: '/health/ready',
    timeoutMs: 120_000,
  });
  const tree = await processTree(server.pid);
  out(`server pid ${server.pid}: ${tree.command} (child processes: ${tree.children.length})`);
  out(
    `  ready after ${fixed((performance.now() - started) / 1000)} s (first start: creates the core and the template)`,
  );
  const samples = [await sample(server, 'ready')];

  await api(server, 'POST', '/api/auth/register', 201, {
    body: { email: EMAIL, password: PASSWORD, is_owner: true },
  });
  const token = await verificationToken(dataDir, EMAIL);
  await api(server, 'GET', `/api/auth/verify?token=${token}`, 200);
  const login = await api<{ access_token: string }>(server, 'POST', '/api/auth/login', 200, {
    body: { email: EMAIL, password: PASSWORD },
  });
  // Sign-up and login cost memory of their own (argon2id hashes with 19 MiB each, the mailer): measured apart, so
  // that the tenant increments are the tenants' alone.
  samples.push(await sample(server, 'owner signed up'));

  for (let i = 1; i <= tenants; i++) {
    throwIfAborted();
    const org = await api<{ id: number }>(server, 'POST', '/api/organizations', 201, {
      token: login.access_token,
      body: { name: `Memory ${i}` },
    });
    const tenantToken = await api<{ access_token: string }>(
      server,
      'POST',
      `/api/organizations/${org.id}/token`,
      200,
      { token: login.access_token },
    );
    await api(server, 'GET', '/api/users/me', 200, { token: tenantToken.access_token, tenant: org.id });
    samples.push(await sample(server, `tenant ${i}`));
  }
  if (idleSeconds > 0) {
    for (let second = 0; second < idleSeconds; second++) {
      throwIfAborted();
      await api(server, 'GET', '/health/ready', 200);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    samples.push(await sample(server, `idle ${idleSeconds} s`));
  }
  report(samples, tenants);
  await server.stop();
}

await runMain(main);
