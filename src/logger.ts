import type { FastifyServerOptions } from 'fastify';
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
