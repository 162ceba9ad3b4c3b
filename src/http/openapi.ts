import type { SwaggerTransform } from '@fastify/swagger';
import type { RouteOptions } from 'fastify';
import { ERRORS, type ErrorCode } from '../errors.js';
import { ErrorResponseOf } from './schemas.js';

/**
 * The OpenAPI document, finished: what @fastify/swagger builds from the routes' TypeBox schemas, plus
 *
 * - the error answers every /api route shares, by its plane, authentication and body (`documentRoute`), so a
 *   route's own schema lists only the codes its handler and services throw;
 * - named component schemas: every schema with a `title` becomes `#/components/schemas/<title>` (two different
 *   schemas with one title are a bug and throw), errors are `Error` narrowed to each answer's codes;
 * - examples (components, and one per error code), response descriptions, tags, servers and license.
 *
 * `npm run openapi` writes the result to docs/openapi.json (linted by Redocly in `npm run lint`) and the typed
 * client's types; a test fails when either is stale.
 */

type Json = Record<string, unknown>;
type RouteSchema = NonNullable<RouteOptions['schema']> & Json;

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The error codes every /api route can answer, from what its plane, guard and body make possible. */
export function sharedErrors(
  method: string,
  context: 'core' | 'tenant' | 'both' | undefined,
  schema: RouteSchema,
): Partial<Record<number, ErrorCode[]>> {
  const errors: Partial<Record<number, ErrorCode[]>> = {};
  const add = (status: number, ...codes: ErrorCode[]) => {
    errors[status] = [...(errors[status] ?? []), ...codes];
  };
  // A malformed URL (percent-encoding, an over-long path parameter); every request counts for RATE_LIMIT;
  // a database that does not answer.
  add(400, 'BAD_REQUEST');
  add(429, 'RATE_LIMITED');
  add(503, 'SERVICE_UNAVAILABLE');
  if (context === 'core') add(400, 'TENANT_NOT_ALLOWED');
  else {
    add(400, 'TENANT_INVALID', 'TENANT_CONFLICT');
    if (context === 'tenant') add(400, 'TENANT_REQUIRED');
    add(403, 'TENANT_SUSPENDED');
    add(404, 'TENANT_NOT_FOUND');
    add(503, 'TENANT_NOT_READY');
  }
  if (Array.isArray(schema.security) && schema.security.length > 0)
    add(401, 'NOT_AUTHENTICATED', 'TOKEN_INVALID');
  if (BODY_METHODS.has(method)) {
    add(400, 'INVALID_JSON');
    add(413, 'PAYLOAD_TOO_LARGE');
    add(415, 'UNSUPPORTED_MEDIA_TYPE');
  }
  if (schema.body || schema.params || schema.querystring) add(422, 'VALIDATION_ERROR');
  return errors;
}

function codesOf(response: unknown): ErrorCode[] {
  const code = (response as { properties?: { code?: { enum?: ErrorCode[] } } } | undefined)?.properties?.code;
  return code?.enum ?? [];
}

/**
 * @fastify/swagger's per-route `transform`: adds the shared error answers of /api routes to a copy of the route's
 * schema (the route itself, and so its serializers, stay as they are).
 *
 * @example
 * await app.register(swagger, { openapi: {...}, transform: documentRoute });
 */
export const documentRoute: SwaggerTransform = ({ schema, url, route }) => {
  if (!schema || (schema as Json).hide || !url.startsWith('/api/')) return { schema, url };
  const method = Array.isArray(route.method) ? String(route.method[0]) : String(route.method);
  const shared = sharedErrors(method, route.config?.context, schema as RouteSchema);
  const response: Json = { ...(schema.response as Json | undefined) };
  for (const [status, codes] of Object.entries(shared)) {
    const merged = new Set([...codesOf(response[status]), ...(codes ?? [])]);
    response[status] = ErrorResponseOf([...merged].sort());
  }
  return { schema: { ...schema, response }, url };
};

const SCHEMAS = '#/components/schemas/';
const ref = (name: string) => ({ $ref: `${SCHEMAS}${name}` });

const STATUS_TEXT: Record<string, string> = {
  '200': 'OK',
  '201': 'Created',
  '202': 'Accepted: recorded, handled in the background',
  '204': 'Done; no content',
  '400': 'Bad request: a malformed header, URL or JSON body',
  '401': 'Missing, invalid or expired credentials (`WWW-Authenticate: Bearer`)',
  '403': 'Not allowed (for this caller, or in this state)',
  '404': 'Not found (also for what the caller may not see)',
  '409': 'Conflict with the current state',
  '413': 'Request body larger than `BODY_LIMIT`',
  '415': 'Content type other than JSON',
  '422': 'The request does not match the schema; `errors` says where',
  '429': 'Rate limited; `Retry-After` says when to try again',
  '503':
    'A dependency (a database) is unavailable, or the organization is still being provisioned; see `Retry-After`',
};

/** Realistic examples of the named schemas, shown by Swagger UI and ReDoc and checked by Redocly. */
const EXAMPLES: Record<string, unknown> = {
  CoreUser: {
    id: 7,
    email: 'ada@example.com',
    is_owner: true,
    is_verified: true,
    created_at: '2026-03-02T09:15:27.000Z',
  },
  TenantUser: {
    id: 12,
    email: 'grace@example.com',
    role: 'member',
    is_active: true,
    created_at: '2026-03-02T10:01:44.000Z',
  },
  TokenResponse: {
    access_token:
      'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJ0ZW5hbnRyeSIsImF1ZCI6ImNvcmUiLCJzdWIiOiI3In0.sVJ2Q0nq0oRZ4cGQhTQ6X2w0Nf0xq4O7o6v0ZqBqk1E',
    token_type: 'bearer',
    expires_in: 1800,
    refresh_token: 'kq3Vd8mZfO1tq2m6l9QmQy3bV1dU3e8gT0pY4cR7wHs',
  },
  Message: { message: 'Email verified successfully' },
  CoreRegistration: {
    user: {
      id: 7,
      email: 'ada@example.com',
      is_owner: true,
      is_verified: false,
      created_at: '2026-03-02T09:15:27.000Z',
    },
    message: 'Verification email sent',
  },
  Organization: {
    id: 42,
    organization_id: 42,
    name: 'Acme Corp',
    slug: 'acme',
    status: 'active',
    placement: 'dedicated',
    tenant_db_name: 'tenantry_tenant_42',
    owner_id: 7,
    allow_signup: true,
    created_at: '2026-03-02T09:20:03.000Z',
  },
  RegisterRequest: { email: 'ada@example.com', password: 'correct horse battery staple', is_owner: true },
  LoginRequest: { email: 'ada@example.com', password: 'correct horse battery staple' },
  EmailRequest: { email: 'ada@example.com' },
  VerifyEmailRequest: { token: 'Qm9vdHN0cmFwLXZlcmlmaWNhdGlvbi10b2tlbi0xMjM0' },
  RefreshTokenRequest: { refresh_token: 'kq3Vd8mZfO1tq2m6l9QmQy3bV1dU3e8gT0pY4cR7wHs' },
  PasswordResetConfirmRequest: {
    token: 'UmVzZXQtdG9rZW4tZnJvbS10aGUtZW1haWwtMTIzNDU2',
    password: 'a new long passphrase',
  },
  UpdateMeRequest: { password: 'a new long passphrase', current_password: 'correct horse battery staple' },
  UpdateTenantUserRequest: { role: 'admin' },
  CreateOrganizationRequest: { name: 'Acme Corp', slug: 'acme' },
  AddDomainRequest: { domain: 'shop.acme.io' },
  OrganizationDomain: { domain: 'shop.acme.io', created_at: '2026-03-02T09:31:12.000Z' },
  OrganizationDomainPage: {
    items: [{ domain: 'shop.acme.io', created_at: '2026-03-02T09:31:12.000Z' }],
    next_cursor: null,
  },
  UpdateOrganizationRequest: { allow_signup: false },
  Invitation: {
    id: 3,
    email: 'linus@example.com',
    role: 'admin',
    status: 'pending',
    invited_by: 1,
    expires_at: '2026-03-03T11:00:00.000Z',
    created_at: '2026-03-02T11:00:00.000Z',
  },
  InvitationPage: {
    items: [
      {
        id: 3,
        email: 'linus@example.com',
        role: 'admin',
        status: 'pending',
        invited_by: 1,
        expires_at: '2026-03-03T11:00:00.000Z',
        created_at: '2026-03-02T11:00:00.000Z',
      },
    ],
    next_cursor: null,
  },
  InvitationLookup: {
    organization: { name: 'Acme Corp', slug: 'acme' },
    email: 'linus@example.com',
    role: 'admin',
    expires_at: '2026-03-03T11:00:00.000Z',
  },
  CreateInvitationRequest: { email: 'linus@example.com', role: 'admin' },
  AcceptInvitationRequest: {
    token: 'SW52aXRhdGlvbi10b2tlbi1mcm9tLXRoZS1lbWFpbC0xMjM0',
    password: 'a long passphrase of mine',
  },
  AuditEvent: {
    id: 311,
    at: '2026-03-02T10:04:12.000Z',
    action: 'user.role.changed',
    actor: { plane: 'tenant', user_id: 1 },
    target: { type: 'user', id: 12 },
    request_id: '6f1c1f7e-2a4b-4f3e-9f51-0c8e3b7d2a10',
    ip: '203.0.113.7',
    detail: { from: 'member', to: 'admin' },
  },
  AuditEventPage: {
    items: [
      {
        id: 312,
        at: '2026-03-02T10:06:55.000Z',
        action: 'auth.login.failed',
        actor: null,
        target: { type: 'user', id: 12 },
        request_id: 'b0d3e1c4-5f6a-4b7c-8d9e-0f1a2b3c4d5e',
        ip: '198.51.100.23',
        detail: { reason: 'INVALID_CREDENTIALS' },
      },
    ],
    next_cursor: 'aWQ6MzEy',
  },
  ServiceInfo: { name: 'Tenantry', version: '0.1.0', docs: '/docs' },
  Health: { status: 'healthy' },
  Readiness: { status: 'ready', checks: { core_database: { status: 'ok', duration_ms: 2 } } },
};

/** Per-operation descriptions of success answers, where the status alone says too little. */
const SUCCESS_DESCRIPTIONS: Record<string, string> = {
  'register 201': 'Core: the new account (a verification link was emailed). Tenant: the new member.',
  'verifyEmail 200': 'Verified now, or already verified before',
  'verifyEmailByLink 200': 'Verified now, or already verified before',
  'login 200': 'Tokens for the plane of the request (core, or the tenant of `X-TENANT`)',
  'refreshTokens 200': 'New tokens; the refresh token sent is used up',
  'exchangeOwnerToken 200': "A tenant token for the owner's user inside the organization (role `owner`)",
  'createOrganization 201': 'Created, its tenant database migrated and holding the owner',
  'createInvitation 201': 'Invited: the link was emailed (never returned)',
  'resendInvitation 202': 'Emailed again with a new link and expiry; the previous link no longer works',
  'revokeInvitation 204': 'Revoked (or already revoked): its link no longer works',
  'lookupInvitation 200': 'The invitation can be accepted',
  'acceptInvitation 201': 'The new tenant user, with the invited role',
  'getReadiness 200': 'Ready: the core database answers',
  'getReadiness 503': 'Not ready: a check failed (`Retry-After`)',
};

/** Tags in the order the docs show them, with what each groups. */
export const TAGS = [
  {
    name: 'auth',
    description:
      'Accounts and tokens. The same paths serve the core (no `X-TENANT`) and a tenant (with `X-TENANT`): ' +
      'register, log in, refresh and log out. Email verification and password reset exist in the core only.',
  },
  {
    name: 'users',
    description:
      'The caller (`/api/users/me`, either plane) and, in a tenant, user administration for owners and admins.',
  },
  {
    name: 'organizations',
    description:
      'Organizations of a core owner, each with a database of its own; `POST /api/organizations/{id}/token` ' +
      'gives the owner a token inside it; custom domains route requests to it by host. Core only.',
  },
  {
    name: 'invitations',
    description:
      'Tenant only: owners and admins invite people by email with a role; the invitee looks the invitation up ' +
      'and accepts it with the emailed token, even when open sign-up is disabled.',
  },
  {
    name: 'audit',
    description:
      'The audit log: who did what, when. In a tenant, its owners and admins read its events; in the core, ' +
      'each user reads the events of their own organizations and account.',
  },
  { name: 'operations', description: 'Service information, liveness and readiness. `X-TENANT` is ignored.' },
];

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `anyOf` of single-value enums of one type (TypeBox's union of literals) as one enum. */
function collapseLiteralUnion(node: Json): Json {
  const members = node.anyOf;
  if (!Array.isArray(members) || members.length < 2) return node;
  const type = (members[0] as Json | undefined)?.type;
  const single = members.every(
    (m) =>
      isObject(m) &&
      m.type === type &&
      Array.isArray(m.enum) &&
      m.enum.length === 1 &&
      Object.keys(m).every((k) => k === 'type' || k === 'enum'),
  );
  if (!single) return node;
  const { anyOf: _anyOf, ...rest } = node;
  return { ...rest, type, enum: members.map((m) => ((m as Json).enum as unknown[])[0]) };
}

class ComponentRegistry {
  readonly schemas: Record<string, Json> = {};
  private readonly seen = new Map<string, string>();

  /** Walks a schema bottom-up: titled schemas become components and are replaced by a `$ref`. */
  name(node: unknown): unknown {
    if (Array.isArray(node)) return node.map((item) => this.name(item));
    if (!isObject(node)) return node;
    let out: Json = {};
    for (const [key, value] of Object.entries(node)) {
      // Examples and enums are values, not schemas.
      out[key] = key === 'example' || key === 'enum' || key === 'default' ? value : this.name(value);
    }
    out = collapseLiteralUnion(out);
    const title = out.title;
    if (typeof title !== 'string' || out.type === undefined) return out;
    if (title === 'Error') return this.error(out);
    this.register(title, out);
    return ref(title);
  }

  private register(title: string, schema: Json): void {
    const json = JSON.stringify(schema);
    const before = this.seen.get(title);
    if (before !== undefined && before !== json) {
      throw new Error(`OpenAPI: two different schemas are titled ${title}:\n${before}\n${json}`);
    }
    this.seen.set(title, json);
    this.schemas[title] = EXAMPLES[title] === undefined ? schema : { ...schema, example: EXAMPLES[title] };
  }

  /** One answer's error schema: the shared `Error`, its code narrowed to what this answer can say. */
  private error(schema: Json): Json {
    const codes = ((schema.properties as Json).code as Json).enum as ErrorCode[];
    if (!this.schemas.Error) {
      this.register('ErrorCode', {
        type: 'string',
        enum: Object.keys(ERRORS),
        description:
          'Stable error codes (match on them; `detail` is for people):\n\n' +
          Object.entries(ERRORS)
            .map(([code, { status, message }]) => `- \`${code}\` (${status}): ${message}`)
            .join('\n'),
      });
      const { properties, ...rest } = schema;
      this.register('Error', {
        ...rest,
        description: 'Every error answer',
        properties: { ...(properties as Json), code: ref('ErrorCode') },
        example: { detail: ERRORS.TENANT_NOT_FOUND.message, code: 'TENANT_NOT_FOUND' },
      });
    }
    return {
      allOf: [ref('Error'), { type: 'object', properties: { code: { type: 'string', enum: codes } } }],
    };
  }
}

function errorExample(code: ErrorCode): Json {
  const value: Json = { detail: ERRORS[code].message, code };
  if (code === 'VALIDATION_ERROR') {
    value.detail = 'Invalid body: /email must NOT have fewer than 3 characters';
    value.errors = [{ path: '/email', message: 'must NOT have fewer than 3 characters' }];
  }
  return { summary: ERRORS[code].message, value };
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/**
 * @fastify/swagger's `transformObject`: names schemas, adds examples and descriptions. Pure: the same routes
 * always give the same document.
 */
export function finishDocument(document: Json): Json {
  const registry = new ComponentRegistry();
  const paths = (document.paths ?? {}) as Record<string, Record<string, Json>>;
  const finishedPaths: Record<string, Record<string, Json>> = {};
  for (const [path, item] of Object.entries(paths)) {
    finishedPaths[path] = {};
    for (const [method, operation] of Object.entries(item)) {
      if (!METHODS.includes(method)) {
        finishedPaths[path][method] = operation;
        continue;
      }
      const op: Json = { ...operation };
      if (Array.isArray(op.parameters)) op.parameters = registry.name(op.parameters);
      const body = op.requestBody as Json | undefined;
      if (body) {
        const content = body.content as Record<string, Json>;
        op.requestBody = {
          ...body,
          required: true,
          content: Object.fromEntries(
            Object.entries(content).map(([type, media]) => [
              type,
              { ...media, schema: registry.name(media.schema) },
            ]),
          ),
        };
      }
      const responses: Json = {};
      for (const [status, raw] of Object.entries((op.responses ?? {}) as Record<string, Json>)) {
        const response: Json = { ...raw };
        const key = `${String(op.operationId)} ${status}`;
        if (SUCCESS_DESCRIPTIONS[key]) response.description = SUCCESS_DESCRIPTIONS[key];
        else if (response.description === 'Default Response' || Number(status) >= 400)
          response.description = STATUS_TEXT[status] ?? response.description;
        const content = response.content as Record<string, Json> | undefined;
        if (content) {
          response.content = Object.fromEntries(
            Object.entries(content).map(([type, media]) => {
              const schema = registry.name(media.schema) as Json;
              const codes = Number(status) >= 400 ? errorCodesOf(schema) : [];
              return [
                type,
                {
                  ...media,
                  schema,
                  ...(codes.length > 0
                    ? { examples: Object.fromEntries(codes.map((code) => [code, errorExample(code)])) }
                    : {}),
                },
              ];
            }),
          );
        }
        responses[status] = response;
      }
      op.responses = Object.fromEntries(Object.entries(responses).sort(([a], [b]) => a.localeCompare(b)));
      finishedPaths[path][method] = op;
    }
  }
  const components = (document.components ?? {}) as Json;
  return {
    ...document,
    tags: TAGS,
    paths: finishedPaths,
    components: {
      ...components,
      schemas: Object.fromEntries(Object.entries(registry.schemas).sort(([a], [b]) => a.localeCompare(b))),
    },
  };
}

function errorCodesOf(schema: Json): ErrorCode[] {
  const narrowed = (schema.allOf as Json[] | undefined)?.[1] as
    { properties?: { code?: { enum?: ErrorCode[] } } } | undefined;
  return narrowed?.properties?.code?.enum ?? [];
}
