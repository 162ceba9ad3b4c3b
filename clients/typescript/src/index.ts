import createClient, { type Client, type Middleware } from 'openapi-fetch';
import type { components, operations, paths } from './schema.js';

export type { components, operations, paths };

/** The named schemas of the API (`Schemas['Organization']`, …). */
export type Schemas = components['schemas'];
export type CoreUser = Schemas['CoreUser'];
export type TenantUser = Schemas['TenantUser'];
export type Organization = Schemas['Organization'];
export type TokenResponse = Schemas['TokenResponse'];
export type ApiError = Schemas['Error'];
export type ErrorCode = Schemas['ErrorCode'];

/**
 * The API's paths with `X-TENANT` optional in the types: the client sends it from `tenant` (see
 * `createTenantryClient`), so calls need not repeat it. The server still answers 400 TENANT_REQUIRED when a
 * tenant-only route is called without one.
 */
type TenantHeaderOptional<Operation> = Operation extends { parameters: infer Params }
  ? Omit<Operation, 'parameters'> & {
      parameters: Omit<Params, 'header'> & { header?: { 'x-tenant'?: string } };
    }
  : Operation;
export type TenantryPaths = {
  [Path in keyof paths]: { [Method in keyof paths[Path]]: TenantHeaderOptional<paths[Path][Method]> };
};

/** Where the client keeps its tokens between calls. */
export interface TokenStore {
  get(): TokenResponse | null;
  set(tokens: TokenResponse | null): void;
}

/** Tokens in memory (the default). Give your own store to keep them elsewhere. */
export function memoryTokenStore(initial: TokenResponse | null = null): TokenStore {
  let tokens = initial;
  return {
    get: () => tokens,
    set: (next) => {
      tokens = next;
    },
  };
}

export interface TenantryClientOptions {
  /** The server, e.g. `http://localhost:8000`. */
  baseUrl: string;
  /** Organization id or slug: sent as `X-TENANT` on every request (tenant context). Absent: core context. */
  tenant?: string | number;
  /** Tokens to send and refresh (default: an empty memory store). */
  tokens?: TokenStore;
  /** A fetch of your own (tests, proxies). */
  fetch?: (input: Request) => Promise<Response>;
}

export interface TenantryClient extends Client<TenantryPaths> {
  /** The store this client sends its bearer token from and saves refreshed tokens to. */
  readonly tokens: TokenStore;
  /** The tenant this client sends as `X-TENANT`, if any. */
  readonly tenant: string | undefined;
}

const NO_BEARER = new Set(['/api/auth/login', '/api/auth/refresh', '/api/auth/register']);

/**
 * Sends `X-TENANT` on every request.
 *
 * @example
 * client.use(tenantHeader('acme'));
 */
export function tenantHeader(tenant: string | number): Middleware {
  return {
    onRequest({ request }) {
      if (!request.headers.has('x-tenant')) request.headers.set('x-tenant', String(tenant));
      return request;
    },
  };
}

/**
 * Sends the stored access token; on a 401 refreshes once with the stored refresh token (concurrent 401s share one
 * refresh; the rotated pair is stored) and replays the request. A failed refresh clears the store and the
 * original 401 is answered.
 *
 * @example
 * client.use(bearerAuth(store, { baseUrl, tenant: 'acme' }));
 */
export function bearerAuth(
  store: TokenStore,
  options: { baseUrl: string; tenant?: string | number; fetch?: (input: Request) => Promise<Response> },
): Middleware {
  const send = options.fetch ?? ((input: Request) => globalThis.fetch(input));
  const originals = new Map<string, Request>();
  let refreshing: Promise<TokenResponse | null> | null = null;

  const refresh = (refreshToken: string): Promise<TokenResponse | null> => {
    refreshing ??= (async () => {
      const headers = new Headers({ 'content-type': 'application/json' });
      if (options.tenant !== undefined) headers.set('x-tenant', String(options.tenant));
      const response = await send(
        new Request(`${options.baseUrl.replace(/\/$/, '')}/api/auth/refresh`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ refresh_token: refreshToken }),
        }),
      );
      const tokens = response.ok ? ((await response.json()) as TokenResponse) : null;
      store.set(tokens);
      return tokens;
    })().finally(() => {
      refreshing = null;
    });
    return refreshing;
  };

  return {
    onRequest({ request, schemaPath, id }) {
      if (NO_BEARER.has(schemaPath) || request.headers.has('authorization')) return request;
      const tokens = store.get();
      if (!tokens) return request;
      request.headers.set('authorization', `Bearer ${tokens.access_token}`);
      // Kept to replay after a refresh (a body can be read once).
      originals.set(id, request.clone());
      return request;
    },
    onError({ id }) {
      originals.delete(id);
    },
    async onResponse({ response, id }) {
      const original = originals.get(id);
      originals.delete(id);
      if (response.status !== 401 || !original) return response;
      // Only a token the server no longer takes (expired, revoked) is worth a refresh; a wrong current_password
      // (INVALID_CREDENTIALS) is not.
      const { code } = (await response
        .clone()
        .json()
        .catch(() => ({}))) as { code?: string };
      if (code !== 'TOKEN_INVALID') return response;
      const used = original.headers.get('authorization');
      const current = store.get();
      // Another request may have refreshed meanwhile: use its tokens rather than spending the refresh token.
      const tokens =
        current && `Bearer ${current.access_token}` !== used
          ? current
          : current
            ? await refresh(current.refresh_token)
            : null;
      if (!tokens) return response;
      const retry = new Request(original, { headers: new Headers(original.headers) });
      retry.headers.set('authorization', `Bearer ${tokens.access_token}`);
      return send(retry);
    },
  };
}

/**
 * A typed client for one plane: the core (no `tenant`) or one organization (`tenant`: id or slug).
 *
 * @example
 * const core = createTenantryClient({ baseUrl: 'http://localhost:8000' });
 * const { data, error } = await core.POST('/api/auth/login', { body: { email, password } });
 * if (data) core.tokens.set(data);
 * const acme = core.withTenant('acme'); // same server, X-TENANT: acme, its own tokens
 */
export function createTenantryClient(options: TenantryClientOptions): TenantryClient & {
  /** A client for another plane of the same server, with its own (empty unless given) token store. */
  withTenant(tenant: string | number, tokens?: TokenStore): ReturnType<typeof createTenantryClient>;
} {
  const tokens = options.tokens ?? memoryTokenStore();
  const client = createClient<TenantryPaths>({
    baseUrl: options.baseUrl,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  if (options.tenant !== undefined) client.use(tenantHeader(options.tenant));
  client.use(
    bearerAuth(tokens, {
      baseUrl: options.baseUrl,
      ...(options.tenant !== undefined ? { tenant: options.tenant } : {}),
      ...(options.fetch ? { fetch: options.fetch } : {}),
    }),
  );
  return Object.assign(client, {
    tokens,
    tenant: options.tenant === undefined ? undefined : String(options.tenant),
    withTenant: (tenant: string | number, tenantTokens?: TokenStore) =>
      createTenantryClient({
        ...options,
        tenant,
        tokens: tenantTokens ?? memoryTokenStore(),
      }),
  });
}
