import { availableParallelism } from 'node:os';
import type { Algorithm } from '@node-rs/argon2';
import { Argon2Threads } from './argon2-threads.js';

/** OWASP's argon2id recommendation: 19 MiB of memory, 2 iterations, 1 lane. */
// `Algorithm` is an ambient const enum (not importable as a value here); 2 is its Argon2id member.
const ARGON2_OPTIONS = {
  algorithm: 2 as Algorithm,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
} as const;

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 128;

/** argon2 runs on threads of its own, one per core unless configured (see argon2-threads.ts for why). */
const argon2 = new Argon2Threads(availableParallelism());

/**
 * How many argon2 computations may run at once in this process (`PASSWORD_HASH_CONCURRENCY`; the composition
 * root sets it from the configuration, shared out between cluster workers).
 */
export function setPasswordHashConcurrency(limit: number): void {
  argon2.setLimit(limit);
}

/** Hashes a password with argon2id; the result embeds its salt and parameters. */
export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, ARGON2_OPTIONS);
}

// Verified against when the account does not exist, so "no such user" costs the same time as "wrong password".
let dummyHash: Promise<string> | undefined;

/**
 * Checks a password against a stored hash. With no hash (unknown account, or a tenant owner without a password)
 * it still spends the time of one verification and answers false, so timing does not reveal which accounts exist.
 *
 * @example
 * if (!(await verifyPassword(user?.password_hash ?? null, password))) throw new AppError('INVALID_CREDENTIALS');
 */
export async function verifyPassword(storedHash: string | null, password: string): Promise<boolean> {
  if (storedHash === null) {
    dummyHash ??= hashPassword('not-a-real-password-only-for-timing');
    await argon2.verify(await dummyHash, password).catch(() => false);
    return false;
  }
  try {
    return await argon2.verify(storedHash, password);
  } catch {
    return false;
  }
}
