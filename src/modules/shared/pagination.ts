import { Type } from 'typebox';
import { AppError } from '../../errors.js';

export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
  cursor: Type.Optional(Type.String({ maxLength: 64, description: 'Opaque; from the previous page' })),
};

/** Cursors are opaque to clients; inside they are the last id seen, so pages stay stable under inserts. */
export function encodeCursor(lastId: number): string {
  return Buffer.from(`id:${lastId}`).toString('base64url');
}

export function decodeCursor(cursor: string | undefined): number {
  if (cursor === undefined || cursor === '') return 0;
  const match = /^id:([0-9]{1,10})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match) {
    throw new AppError('VALIDATION_ERROR', 'Invalid querystring: /cursor is not a cursor from this API', {
      errors: [{ path: '/cursor', message: 'is not a cursor from this API' }],
    });
  }
  return Number(match[1]);
}

/** `{items, next_cursor}` from a page fetched with limit + 1 rows. */
export function toPage<T extends { id: number }, V>(rows: T[], limit: number, view: (row: T) => V) {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items: items.map(view), next_cursor: rows.length > limit && last ? encodeCursor(last.id) : null };
}
