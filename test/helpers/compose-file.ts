import { readFileSync } from 'node:fs';

/**
 * The `environment:` mapping of one service of a docker-compose.yml, read without a YAML library: the
 * block-style subset the project's compose file uses (two-space indentation, `KEY: value` pairs, optional
 * quotes, comments). Anything else inside the block throws, so the test never silently misreads the file.
 */
export function composeEnvironment(file: string, service: string): Record<string, string> {
  const lines = readFileSync(file, 'utf8').split('\n');
  const at = (indent: number, key: string, from: number, to: number) => {
    for (let i = from; i < to; i++) if (lines[i] === `${' '.repeat(indent)}${key}:`) return i;
    throw new Error(`${file}: no "${key}:" at indentation ${indent}`);
  };
  const blockEnd = (start: number, indent: number) => {
    let end = start + 1;
    while (end < lines.length) {
      const line = lines[end] as string;
      if (line.trim() !== '' && !line.trim().startsWith('#') && line.search(/\S/) <= indent) break;
      end += 1;
    }
    return end;
  };
  const services = at(0, 'services', 0, lines.length);
  const app = at(2, service, services + 1, blockEnd(services, 0));
  const environment = at(4, 'environment', app + 1, blockEnd(app, 2));
  const env: Record<string, string> = {};
  for (let i = environment + 1; i < blockEnd(environment, 4); i++) {
    const line = (lines[i] as string).trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([A-Z][A-Z0-9_]*): ?(.*)$/.exec(line);
    if (!match) throw new Error(`${file}:${i + 1}: not a KEY: value pair: ${line}`);
    let value = (match[2] as string).trim();
    if (/^(['"]).*\1$/.test(value)) value = value.slice(1, -1);
    env[match[1] as string] = value;
  }
  return env;
}

/**
 * Compose's variable interpolation as `docker compose` applies it from the shell or `.env`: `${VAR}`,
 * `${VAR:-default}` (default when unset or empty) and `${VAR:?message}` (an error when unset or empty).
 */
export function interpolate(value: string, variables: Record<string, string | undefined>): string {
  return value.replace(
    /\$\{([A-Z_][A-Z0-9_]*)(?:(:-|:\?)([^}]*))?\}/g,
    (_, name: string, op?: string, arg?: string) => {
      const given = variables[name];
      if (given !== undefined && given !== '') return given;
      if (op === ':-') return arg ?? '';
      if (op === ':?') throw new Error(`${name}: ${arg ?? 'required'}`);
      return '';
    },
  );
}
