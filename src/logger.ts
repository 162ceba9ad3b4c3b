import type { FastifyServerOptions } from 'fastify';
import pino from 'pino';
import type { Config } from './config.js';

/**
 * Paths pino replaces with `[redacted]` wherever a log call passes them: credentials must never reach the logs,
 * even when someone logs a whole request, its headers or a parsed body by mistake.
 */
export const REDACTED_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'body.password',
  'body.current_password',
  'body.token',
  'body.refresh_token',
  '*.password',
  '*.current_password',
  '*.password_hash',
  '*.token',
  '*.access_token',
  '*.refresh_token',
  '*.secretKey',
];

/** How log lines are written: one JSON object per line, or human-readable through pino-pretty. */
export type LogFormat = 'json' | 'pretty';

/**
 * The pino options of the server: the configured level, redaction of credentials, and pino-pretty for
 * `LOG_FORMAT=pretty` (`npm run dev`). JSON stays the default because log collectors parse it.
 *
 * @example
 * const app = await buildApp(config, { logger: loggerOptions(config, 'pretty') });
 */
export function loggerOptions(
  config: Pick<Config, 'logLevel'>,
  format: LogFormat = 'json',
): Exclude<FastifyServerOptions['logger'], boolean | undefined> {
  const redact = { paths: [...REDACTED_PATHS], censor: '[redacted]' };
  if (format === 'pretty') {
    return {
      level: config.logLevel,
      redact,
      transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l' } },
    };
  }
  return { level: config.logLevel, redact };
}

/** `LOG_FORMAT` from the environment: `pretty` or anything else (JSON). */
export function logFormat(env: Record<string, string | undefined> = process.env): LogFormat {
  return env.LOG_FORMAT === 'pretty' ? 'pretty' : 'json';
}

/** How long a log line may wait in the stdout buffer. */
const LOG_FLUSH_MS = 250;

/**
 * The server's stdout for JSON logs, buffered: lines are gathered up to 4 KiB per write and flushed at least every
 * LOG_FLUSH_MS, and at exit (pino flushes its destinations synchronously then). One write per log line was the
 * largest cost of a request at production defaults on a machine with slow system calls (measured: ~100 µs of the
 * server's CPU per request at `LOG_LEVEL=info`). The price: a process killed outright loses its last 250 ms of
 * log lines.
 *
 * @example
 * const app = await buildApp(config, { logger: { ...loggerOptions(config), stream: bufferedStdout() } });
 */
export function bufferedStdout(): pino.DestinationStream {
  return pino.destination({ dest: 1, minLength: 4096, sync: false, periodicFlush: LOG_FLUSH_MS });
}
