import type { Config } from './config.js';

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '0.0.0.0']);

/**
 * Settings that are fine on a laptop but unsafe or broken in production, where the server still starts (a
 * stop would turn a forgotten variable into an outage): one warning each, logged at start. Empty outside
 * production.
 *
 * @example
 * for (const warning of productionWarnings(config)) log.warn(warning);
 */
export function productionWarnings(
  config: Pick<Config, 'nodeEnv' | 'smtpUrl' | 'publicUrl' | 'metricsToken'>,
): string[] {
  if (config.nodeEnv !== 'production') return [];
  const warnings: string[] = [];
  if (!config.smtpUrl) {
    warnings.push(
      'SMTP_URL is not set: verification and password reset emails are only written as files under DATA_DIR/mail, never delivered',
    );
  }
  const host = new URL(config.publicUrl).hostname;
  if (LOCAL_HOSTS.has(host) || host.endsWith('.localhost') || host.startsWith('127.')) {
    warnings.push(
      `PUBLIC_URL is ${config.publicUrl}: links in emails point at the local machine; set it to the public address`,
    );
  }
  if (!config.metricsToken) {
    warnings.push(
      'METRICS_TOKEN is not set: /metrics is open to anyone who can reach the server; set a token of 16+ characters',
    );
  }
  return warnings;
}
