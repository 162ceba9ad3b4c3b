import { Type } from 'typebox';

/** Schemas of a tenant's users (validation, TypeScript types and the OpenAPI document from one source). */

export const TenantRole = Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member')], {
  title: 'TenantRole',
});

export const TenantUser = Type.Object(
  {
    id: Type.Integer(),
    email: Type.String({ description: 'Stored lower-case; unique within the tenant' }),
    role: TenantRole,
    is_active: Type.Boolean({ description: 'An inactive user cannot log in or use its tokens' }),
    created_at: Type.String({ format: 'date-time' }),
  },
  { title: 'TenantUser', description: "A user inside one organization's database" },
);
