import { AppError } from '../errors.js';

// Deliberately simple: one @, no spaces, a dot in the domain. Deliverability is proven by the verification email.
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const MAX_EMAIL_LENGTH = 254;

/**
 * Trims and lower-cases an email (the contract compares emails case-insensitively and stores them lower-case),
 * answering 422 for something that is not an address.
 */
export function normalizeEmail(raw: string, path = '/email'): string {
  const email = raw.trim().toLowerCase();
  if (email.length > MAX_EMAIL_LENGTH || !EMAIL.test(email)) {
    throw new AppError('VALIDATION_ERROR', `Invalid body: ${path} must be an email address`, {
      errors: [{ path, message: 'must be an email address' }],
    });
  }
  return email;
}
