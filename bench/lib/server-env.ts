const SERVER_ENV = /^[A-Z][A-Z0-9_]*=/;

/**
 * `--server-env NAME=VALUE` pairs as variables (everything after the first `=` is the value); null when one of
 * them is not of that shape (the caller prints its usage).
 */
export function parseServerEnv(pairs: readonly string[]): Record<string, string> | null {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    if (!SERVER_ENV.test(pair)) return null;
    const at = pair.indexOf('=');
    env[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return env;
}
