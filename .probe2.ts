import { PGlite } from '@electric-sql/pglite';
import { readFileSync, mkdtempSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const status = () => readFileSync('/proc/self/status', 'utf8');
const rss = () => Math.round(Number(/VmRSS:\s+(\d+)/.exec(status())![1]) / 1024);
const gc = () => { (globalThis as { gc?: () => void }).gc?.(); };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const settings = process.argv.slice(3);
const n = Number(process.argv[2]);
const base = '/tmp/pgmem/dirs';
const startParams = [...PGlite.defaultStartParams, ...settings.flatMap((s) => ['-c', s])];
const ext = () => Math.round(process.memoryUsage().external / 1048576);
if (!existsSync(join(base, String(n - 1)))) {
  for (let i = 0; i < n; i++) { const p = await PGlite.create({ dataDir: join(base, String(i)) }); await p.close(); }
  console.log('made dirs; rerun'); process.exit(0);
}
gc(); await sleep(200);
const r0 = rss();
const open: PGlite[] = [];
const line: number[] = [];
for (let i = 0; i < n; i++) {
  const p = await PGlite.create({ dataDir: join(base, String(i)), startParams });
  await p.query('select count(*) from pg_class');
  open.push(p);
  gc(); await sleep(300);
  line.push(rss());
}
const deltas = line.map((v, i) => v - (i === 0 ? r0 : line[i - 1]!));
const sb = (await open[0]!.query<{ s: string }>("select current_setting('shared_buffers') s")).rows[0]!.s;
for (const p of open) await p.close();
gc(); await sleep(500); gc(); await sleep(300);
console.log(`[${settings.join(' ')}] sb=${sb} start=${r0} deltas=${deltas.join(',')} ext=${ext()} closed=${rss()}`);
