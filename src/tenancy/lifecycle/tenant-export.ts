import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';
import type { Kysely, Transaction } from 'kysely';
import type { TenantDatabase } from '../../db/tenant-schema.js';
import {
  clearTables,
  readRows,
  readSequences,
  tenantTables,
  writeRows,
  writeSequences,
  type JsonRow,
  type SequenceState,
  type TableShape,
} from './tenant-copy.js';

/**
 * The export file: JSON Lines, one portable file per tenant, the same on both engines.
 *
 *   {"format":"tenantry-tenant-export","formatVersion":1,"schemaVersion":"…","tables":[{name,columns}],…}
 *   {"table":"tenant_users","rows":[{…}, …]}            one line per batch of rows, tables in load order
 *   {"sequences":[{name,lastValue,isCalled}],"rows":N}  last: sequence states and the row count (a check that
 *                                                       the file is whole)
 *
 * Rows are PostgreSQL's own JSON rendering of each row (tenant-copy.ts).
 */
export const EXPORT_FORMAT = 'tenantry-tenant-export';
export const EXPORT_FORMAT_VERSION = 1;

export interface ExportHeader {
  format: typeof EXPORT_FORMAT;
  formatVersion: number;
  /** The latest tenant migration applied to the exported tenant: an import recreates the schema up to it. */
  schemaVersion: string;
  engine: 'pglite' | 'postgres';
  exportedAt: string;
  organization: { id: number; slug: string; name: string };
  tables: TableShape[];
}

interface RowsLine {
  table: string;
  rows: JsonRow[];
}

interface EndLine {
  sequences: SequenceState[];
  rows: number;
}

/** A file that is not a whole export of this format. */
export class ExportFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExportFileError';
  }
}

async function writeLine(out: Writable, value: unknown): Promise<void> {
  if (!out.write(`${JSON.stringify(value)}\n`)) await once(out, 'drain');
}

/**
 * Writes every row and sequence of a tenant to `file`, read in one repeatable-read snapshot (writes running
 * meanwhile are either wholly in the file or not at all). Returns the number of rows written.
 */
export async function exportTenant(
  db: Kysely<TenantDatabase>,
  file: string,
  meta: Omit<ExportHeader, 'format' | 'formatVersion' | 'tables' | 'exportedAt'>,
): Promise<number> {
  const out = createWriteStream(file, { flags: 'wx' });
  try {
    const rows = await db
      .transaction()
      .setIsolationLevel('repeatable read')
      .execute(async (trx) => {
        const tables = await tenantTables(trx);
        const header: ExportHeader = {
          format: EXPORT_FORMAT,
          formatVersion: EXPORT_FORMAT_VERSION,
          ...meta,
          exportedAt: new Date().toISOString(),
          tables,
        };
        await writeLine(out, header);
        let count = 0;
        for (const table of tables) {
          for await (const batch of readRows(trx, table)) {
            await writeLine(out, { table: table.name, rows: batch } satisfies RowsLine);
            count += batch.length;
          }
        }
        await writeLine(out, { sequences: await readSequences(trx), rows: count } satisfies EndLine);
        return count;
      });
    out.end();
    await once(out, 'finish');
    return rows;
  } catch (error) {
    out.destroy();
    throw error;
  }
}

function lines(file: string): AsyncIterable<string> {
  return createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
}

/** The header of an export file (its first line), checked for the format. */
export async function readExportHeader(file: string): Promise<ExportHeader> {
  for await (const line of lines(file)) return parseHeader(line);
  throw new ExportFileError(`${file} is empty`);
}

function parseHeader(line: string): ExportHeader {
  let header: Partial<ExportHeader>;
  try {
    header = JSON.parse(line) as Partial<ExportHeader>;
  } catch {
    throw new ExportFileError('Not a Tenantry tenant export (the first line is not JSON)');
  }
  if (
    header.format !== EXPORT_FORMAT ||
    typeof header.schemaVersion !== 'string' ||
    !Array.isArray(header.tables)
  )
    throw new ExportFileError('Not a Tenantry tenant export');
  if (header.formatVersion !== EXPORT_FORMAT_VERSION)
    throw new ExportFileError(
      `Export format version ${String(header.formatVersion)} is not supported (this build reads ${EXPORT_FORMAT_VERSION})`,
    );
  return header as ExportHeader;
}

/**
 * Loads an export into a tenant whose schema is at the export's schema version, replacing its rows, in the
 * given transaction (all or nothing). The file's tables must be the target's, column for column. Returns the
 * number of rows loaded.
 */
export async function loadExport(trx: Transaction<TenantDatabase>, file: string): Promise<number> {
  const targetTables = new Map((await tenantTables(trx)).map((t) => [t.name, t]));
  let header: ExportHeader | null = null;
  let loaded = 0;
  let end: EndLine | null = null;
  for await (const line of lines(file)) {
    if (line === '') continue;
    if (!header) {
      header = parseHeader(line);
      for (const table of header.tables) {
        const target = targetTables.get(table.name);
        if (!target || target.columns.join(',') !== table.columns.join(','))
          throw new ExportFileError(`Table ${table.name} of the export does not match this schema`);
      }
      await clearTables(trx, [...targetTables.values()]);
      continue;
    }
    if (end) throw new ExportFileError('Lines after the end of the export');
    const parsed = JSON.parse(line) as Partial<RowsLine & EndLine>;
    if (typeof parsed.table === 'string' && Array.isArray(parsed.rows)) {
      const table = header.tables.find((t) => t.name === parsed.table);
      if (!table) throw new ExportFileError(`Rows of an undeclared table ${parsed.table}`);
      await writeRows(trx, table, parsed.rows);
      loaded += parsed.rows.length;
    } else if (Array.isArray(parsed.sequences) && typeof parsed.rows === 'number') {
      end = { sequences: parsed.sequences, rows: parsed.rows };
    } else {
      throw new ExportFileError('An unknown line in the export');
    }
  }
  if (!header) throw new ExportFileError(`${file} is empty`);
  if (!end || end.rows !== loaded)
    throw new ExportFileError('The export is truncated (its end line is missing or counts other rows)');
  await writeSequences(trx, end.sequences);
  return loaded;
}
