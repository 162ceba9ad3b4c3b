import { PGlite } from '@electric-sql/pglite';
import { readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const rss = () => Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024);
const gc = () => { (globalThis as { gc?: () => void }).gc?.(); };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mode = process.argv[2] ?? 'default';
const n = Number(process.argv[3] ?? 3);
const opts: Record<string, unknown> = {};
if (mode.includes('sb')) opts.startParams = [...PGlite.defaultStartParams ?? [], '-c', 'shared_buffers=16MB'];
const im = /im(\d+)/.exec(mode); if (im) opts.initialMemory = Number(im[1]) * 1024 * 1024;
console.log('mode', mode, JSON.stringify(opts));
const base = mkdtempSync(join(tmpdir(), 'pgprobe-'));
gc(); await sleep(200);
console.log('start', rss());
const dirs: string[] = [];
for (let i = 0; i < n; i++) { const d = join(base, String(i)); dirs.push(d); const p = await PGlite.create({ dataDir: d }); await p.close(); }
gc(); await sleep(500); gc();
console.log('after initdb+close x', n, rss());
const open: PGlite[] = [];
for (let i = 0; i < n; i++) {
  const p = await PGlite.create({ dataDir: dirs[i], ...opts });
  await p.query('select 1');
  open.push(p);
  gc(); await sleep(300);
  console.log('open', i + 1, rss());
}
const show = await open[0]!.query<{ name: string; setting: string; unit: string | null }>(
  "select name, setting, unit from pg_settings where name in ('shared_buffers','work_mem','wal_buffers','temp_buffers','maintenance_work_mem','max_connections','effective_cache_size','min_dynamic_shared_memory','huge_pages')");
console.log(show.rows.map((r) => `${r.name}=${r.setting}${r.unit ?? ''}`).join(' '));
for (const p of open) await p.close();
open.length = 0;
gc(); await sleep(500); gc(); await sleep(500);
console.log('closed all', rss());
