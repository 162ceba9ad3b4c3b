/** Prints for people or, with --json, one JSON document for scripts. */
export interface Output {
  readonly json: boolean;
  /** A human line (suppressed with --json). */
  line(text: string): void;
  /** The command's result: JSON with --json, else the human rendering. */
  result(value: unknown, human: () => string): void;
  /** Progress of a long run: a redrawn bar on a terminal, a line every `every` items otherwise; silent with --json. */
  progress(done: number, total: number, detail?: string): void;
}

export function createOutput(json: boolean, stream: NodeJS.WriteStream = process.stdout): Output {
  const tty = Boolean(stream.isTTY) && !json;
  let lastLine = 0;
  return {
    json,
    line(text) {
      if (!json) stream.write(`${text}\n`);
    },
    result(value, human) {
      stream.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
    },
    progress(done, total, detail) {
      if (json || total === 0) return;
      if (tty) {
        const width = 30;
        const filled = Math.round((done / total) * width);
        stream.write(
          `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}${detail ? ` ${detail}` : ''}\x1b[K`,
        );
        if (done === total) stream.write('\n');
        return;
      }
      const every = Math.max(1, Math.ceil(total / 20));
      if (done === total || done - lastLine >= every) {
        lastLine = done;
        stream.write(`${done}/${total} tenants${detail ? ` (${detail})` : ''}\n`);
      }
    },
  };
}

/** A plain text table with aligned columns. */
export function table(rows: (string | number | null)[][]): string {
  const cells = rows.map((row) => row.map((cell) => (cell === null ? '-' : String(cell))));
  const widths = cells[0]?.map((_, i) => Math.max(...cells.map((row) => row[i]?.length ?? 0))) ?? [];
  return cells
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
