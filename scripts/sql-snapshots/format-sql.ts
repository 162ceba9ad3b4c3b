/** Clauses that start a line of their own (matched as whole words, longest first). */
const CLAUSES = [
  'delete from',
  'on conflict',
  'for update',
  'for share',
  'group by',
  'order by',
  'union all',
  'inner join',
  'left join',
  'returning',
  'values',
  'select',
  'having',
  'offset',
  'union',
  'where',
  'limit',
  'from',
  'join',
  'set',
].map((clause) => clause.split(' '));

const TOKEN = /\s+|'(?:[^']|'')*'|"(?:[^"]|"")*"|\$\d+|[A-Za-z_][A-Za-z0-9_]*|::|<>|<=|>=|!=|\|\||./gs;

function tokenize(sql: string): string[] {
  const tokens: string[] = [];
  for (const match of sql.matchAll(TOKEN)) {
    const token = /^\s+$/.test(match[0]) ? ' ' : match[0];
    if (token === ' ' && (tokens.length === 0 || tokens.at(-1) === ' ' || tokens.at(-1) === '(')) continue;
    if (token === ')' && tokens.at(-1) === ' ') tokens.pop();
    tokens.push(token);
  }
  if (tokens.at(-1) === ' ') tokens.pop();
  return tokens;
}

/** The words of the clause starting at `index` (spaces between its words skipped), or undefined. */
function clauseAt(tokens: readonly string[], index: number): number | undefined {
  for (const words of CLAUSES) {
    let at = index;
    let matched = true;
    for (const [n, word] of words.entries()) {
      if (n > 0 && tokens[at] === ' ') at++;
      if (tokens[at]?.toLowerCase() !== word) {
        matched = false;
        break;
      }
      at++;
    }
    if (matched) return at - index;
  }
  return undefined;
}

/**
 * Lays a statement out one clause per line, each `and`/`or` of a clause on a line of its own, subqueries
 * indented; the words themselves are kept as the compiler wrote them. Deterministic: the same SQL always
 * comes out the same.
 *
 * @example
 * formatSql('select * from "t" where "a" = $1 and "b" = $2');
 * // select *\nfrom "t"\nwhere "a" = $1\n  and "b" = $2
 */
export function formatSql(sql: string): string {
  const tokens = tokenize(sql);
  /** Open parentheses; a subquery's remembers the indentation its clauses get (two more than where it opened). */
  const parens: (number | null)[] = [];
  const clauseIndent = () => parens.findLast((indent) => indent !== null) ?? 0;
  const atClauseLevel = () => parens.length === 0 || parens.at(-1) !== null;
  let out = '';
  const lineIndent = () => {
    const line = out.slice(out.lastIndexOf('\n') + 1);
    return line.length - line.trimStart().length;
  };
  const newline = (indent: number) => {
    out = out.trimEnd() + '\n' + ' '.repeat(indent);
  };
  for (let index = 0; index < tokens.length; index++) {
    const token = tokens[index] ?? '';
    if (token === '(') {
      const next = tokens[index + 1] === ' ' ? tokens[index + 2] : tokens[index + 1];
      parens.push(next?.toLowerCase() === 'select' ? lineIndent() + 2 : null);
      out += token;
      if (parens.at(-1) !== null) newline(clauseIndent());
      continue;
    }
    if (token === ')') {
      const indent = parens.pop();
      if (indent !== null && indent !== undefined) newline(indent - 2);
      out += token;
      continue;
    }
    const lineStart = out.trim() === '' || /\n\s*$/.test(out);
    if (atClauseLevel()) {
      const clause = clauseAt(tokens, index);
      if (clause !== undefined) {
        if (!lineStart) newline(clauseIndent());
        out += tokens.slice(index, index + clause).join('');
        index += clause - 1;
        continue;
      }
      if (!lineStart && (token.toLowerCase() === 'and' || token.toLowerCase() === 'or')) {
        newline(clauseIndent() + 2);
        out += token;
        continue;
      }
    }
    out += token;
  }
  return out
    .split('\n')
    .flatMap((line) => wrapList(line.trimEnd()))
    .join('\n');
}

/** Lines longer than this are split after the commas of their outermost list (columns, a `set`), one item a line. */
const MAX_LINE = 110;

function wrapList(line: string): string[] {
  if (line.length <= MAX_LINE) return [line];
  const indent = line.length - line.trimStart().length;
  /** Per comma: its depth and where the parenthesis around it opened (-1: none). */
  const commas: { depth: number; at: number; open: number }[] = [];
  const opens: number[] = [];
  const closes = new Map<number, number>();
  for (const match of line.matchAll(/'(?:[^']|'')*'|"(?:[^"]|"")*"|[(),]/g)) {
    if (match[0] === '(') opens.push(match.index);
    else if (match[0] === ')') closes.set(opens.pop() ?? -1, match.index);
    else if (match[0] === ',')
      commas.push({ depth: opens.length, at: match.index + 1, open: opens.at(-1) ?? -1 });
  }
  const [first] = [...commas].sort((a, b) => a.depth - b.depth || a.at - b.at);
  if (!first) return [line];
  const cuts = commas.filter((comma) => comma.open === first.open).map((comma) => comma.at);
  if (first.open === -1) {
    return [0, ...cuts].map((start, index) => {
      const item = line.slice(start, cuts[index] ?? line.length).trim();
      return index === 0 ? ' '.repeat(indent) + item : ' '.repeat(indent + 2) + item;
    });
  }
  // A parenthesised list (an insert's columns): one item a line between the parentheses.
  const close = closes.get(first.open) ?? line.length;
  const items = [first.open + 1, ...cuts].map((start, index) =>
    line.slice(start, cuts[index] ?? close).trim(),
  );
  return [
    line.slice(0, first.open + 1).trimEnd(),
    ...items.map((item) => ' '.repeat(indent + 2) + item),
    ' '.repeat(indent) + line.slice(close).trim(),
  ];
}
