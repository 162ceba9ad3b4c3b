import { Type } from 'typebox';

/** Schemas of the core's accounts (validation, TypeScript types and the OpenAPI document from one source). */

export const CoreUser = Type.Object(
  {
    id: Type.Integer(),
    email: Type.String({ description: 'Stored lower-case' }),
    is_owner: Type.Boolean({ description: 'May create organizations' }),
    is_verified: Type.Boolean({ description: 'Confirmed through the emailed link; needed to log in' }),
    created_at: Type.String({ format: 'date-time' }),
  },
  { title: 'CoreUser', description: 'An account of the core (control plane)' },
);
