/**
 * Login throughput against the bare cost of its password check: `POST /api/auth/login` (a tenant user, JSON body)
 * against a loop of argon2id verifications at the same parameters in a process of its own, same run, interleaved.
 * Both use both cores: argon2 runs on a thread per core (src/auth/argon2-threads.ts) in the server and in the
 * bare loop alike. The bare loop also runs on libuv's thread pool (how the server ran argon2 before), for
 * reference. The target is at least 0.9 × the bare loop: a login should cost little beyond its verification.
 *
 *   npx tsx bench/login.ts [--duration 5] [--rounds 2] [--warmup 1] [--connections 8] [--max-seconds 300]
 *                          [--cpu-prof DIR] [--server-env NAME=VALUE ...]
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { describeMachine, prepareBenchRun } from './lib/bench-run.js';
import { guardRun, runMain } from './lib/cleanup.js';
import { createFleet, type FleetTenant } from './lib/fleet.js';
import { runLoad } from './lib/load.js';
import { urlForDatabase } from './lib/postgres.js';
import { fixed, mean, table } from './lib/report.js';
import { writeResults } from './lib/results.js';
import { parseServerEnv } from './lib/server-env.js';
import { freePort, REPO_ROOT, startServer } from './lib/server-process.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '2' },
    warmup: { type: 'string', default: '1' },
    connections: { type: 'string', default: '8' },
    'max-seconds': { type: 'string', default: '300' },
    'cpu-prof': { type: 'string' },
    'server-env': { type: 'string', multiple: true, default: [] },
    out: { type: 'string', default: 'bench/results' },
  },
});
const opts = {
  duration: Number(values.duration),
  rounds: Number(values.rounds),
  warmup: Number(values.warmup),
  connections: Number(values.connections),
  maxSeconds: Number(values['max-seconds']),
};
const serverEnv = parseServerEnv(values['server-env']);
if (
  serverEnv === null ||
  !Object.values(opts).every((n) => Number.isInteger(n) && n >= 0) ||
  opts.duration < 1 ||
  opts.rounds < 1
) {
  process.stderr.write(
    'usage: npx tsx bench/login.ts [--duration S] [--rounds R] [--warmup S] [--connections C] [--max-seconds S]\n' +
      '                          [--cpu-prof DIR] [--server-env NAME=VALUE ...]\n',
  );
  process.exit(2);
}
const out = (line = '') => process.stdout.write(`${line}\n`);
const EMAIL = 'bench-login@example.com';
const PASSWORD = 'bench-password-1234';

/** The bare loops: `threads` runs argon2 as the server does (the ratio's baseline), `libuv` as it did before. */
type BareRunner = 'threads' | 'libuv';

async function bareLoop(runner: BareRunner): Promise<number> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      '--import',
      'tsx',
      'bench/lib/argon2-loop.ts',
      '--seconds',
      String(opts.duration),
      '--warmup',
      String(opts.warmup),
      '--concurrency',
      String(opts.connections),
      '--runner',
      runner,
    ],
    { cwd: REPO_ROOT, timeout: (opts.duration + opts.warmup + 30) * 1000 },
  );
  return (JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { verifiesPerSecond: number })
    .verifiesPerSecond;
}

async function main(): Promise<void> {
  guardRun({ maxSeconds: opts.maxSeconds });
  const machine = describeMachine();
  const { coreName, dataDir, serverUrl } = await prepareBenchRun();
  out(
    `login throughput: ${machine}; ${opts.connections} logins in flight, ${opts.rounds} rounds × ${opts.duration} s`,
  );
  const env = {
    NODE_ENV: 'production',
    DATABASE_URL: urlForDatabase(serverUrl, coreName),
    SECRET_KEY: randomBytes(32).toString('hex'),
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    RATE_LIMIT: 'off',
    AUTH_RATE_LIMIT: 'off',
    ...serverEnv,
  };
  const fleet = await createFleet({ env, count: 1 });
  const tenant = fleet.tenants[0] as FleetTenant;
  const headers = { 'content-type': 'application/json', 'x-tenant': String(tenant.id) };
  const body = JSON.stringify({ email: EMAIL, password: PASSWORD });

  const logins: number[] = [];
  const bare: number[] = [];
  const bareLibuv: number[] = [];
  for (let round = 0; round < opts.rounds; round++) {
    const steps = ['login', 'bare', 'bare-libuv'] as const;
    for (const step of round % 2 === 0 ? steps : [...steps].reverse()) {
      if (step === 'bare') {
        bare.push(await bareLoop('threads'));
        out(`  round ${round + 1}  bare argon2id verify loop   ${fixed(bare.at(-1) ?? NaN, 1)} /s`);
        continue;
      }
      if (step === 'bare-libuv') {
        bareLibuv.push(await bareLoop('libuv'));
        out(`  round ${round + 1}  same, on libuv's pool       ${fixed(bareLibuv.at(-1) ?? NaN, 1)} /s`);
        continue;
      }
      const server = await startServer({
        name: 'tenantry',
        script: 'src/main.ts',
        env,
        port: await freePort(),
        readyPath: '/health/ready',
        nodeArgs: values['cpu-prof']
          ? ['--cpu-prof', '--cpu-prof-dir', join(values['cpu-prof'], `login-round${round + 1}`)]
          : [],
      });
      try {
        if (round === 0) {
          const registered = await fetch(`${server.baseUrl}/api/auth/register`, {
            method: 'POST',
            headers,
            body,
          });
          if (registered.status !== 201) throw new Error(`register answered ${registered.status}`);
        }
        const result = await runLoad({
          baseUrl: server.baseUrl,
          connections: opts.connections,
          warmupSeconds: opts.warmup,
          durationSeconds: opts.duration,
          method: 'POST',
          requests: [{ path: '/api/auth/login', headers, body }],
        });
        if (result.non2xx + result.errors > 0)
          throw new Error(`login errors: ${JSON.stringify(result.statusCodes)}`);
        logins.push(result.requestsPerSecond);
        out(
          `  round ${round + 1}  POST /api/auth/login         ${fixed(result.requestsPerSecond, 1)} /s  p99 ${result.p99Ms} ms`,
        );
      } finally {
        await server.stop();
      }
    }
  }
  const ratio = mean(logins) / mean(bare);
  const rows = [
    ['POST /api/auth/login (tenant user)', fixed(mean(logins), 1), fixed(ratio, 3)],
    ['bare argon2id verify loop, a thread per core', fixed(mean(bare), 1), '1.000'],
    [
      "bare loop on libuv's pool (4 threads)",
      fixed(mean(bareLibuv), 1),
      fixed(mean(bareLibuv) / mean(bare), 3),
    ],
  ];
  out();
  out(table(['what', 'per second', '× bare loop'], rows));
  const files = writeResults(resolve(values.out), 'login', {
    machine,
    settings: opts,
    loginsPerSecond: logins,
    bareVerifiesPerSecond: bare,
    bareLibuvVerifiesPerSecond: bareLibuv,
    ratio,
    markdown: `${machine}\n\n| what | per second | × bare loop |\n|---|---|---|\n${rows.map((r) => `| ${r.join(' | ')} |`).join('\n')}`,
  });
  out(`results: ${files.join(', ')}`);
}

await runMain(main);
