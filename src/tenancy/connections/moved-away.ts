import { AppError } from '../../errors.js';

/**
 * What a request gets when the copy of its tenant it resolved is being dropped, or is gone, after a move: 503 +
 * Retry-After, since the next try resolves the tenant afresh and reaches its new copy.
 */
export function movedAway(cause?: unknown): AppError {
  return new AppError('SERVICE_UNAVAILABLE', 'Organization was just moved, try again', {
    headers: { 'retry-after': '1' },
    ...(cause === undefined ? {} : { cause }),
  });
}
