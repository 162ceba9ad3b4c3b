import {
  BAD_IDS,
  BAD_INTEGERS,
  bentUrls,
  CONTENT_TYPES,
  deepArray,
  deepObject,
  EMAIL_PAYLOADS,
  INVALID_UTF8,
  METHODS,
  STRING_PAYLOADS,
  WRONG_TYPES,
} from './fuzz-inputs.js';
import type { JsonSchema, RouteInfo } from './route-table.js';

/** A valid request to one route: what every case below breaks in exactly one place. */
export interface BaseRequest {
  route: RouteInfo;
  /** `tenant` or `core` for the plane the request runs in. */
  plane: string;
  params: Record<string, string>;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: Record<string, unknown> | undefined;
}

/** One generated request. */
export interface FuzzCase {
  label: string;
  method: string;
  url: string;
  headers: Record<string, string | string[]>;
  payload?: string | Buffer;
}

const JSON_TYPE = 'application/json';

/** Percent-encodes the UTF-8 bytes of any string, lone surrogates included (encodeURIComponent throws on those). */
export function percentEncode(value: string): string {
  return [...Buffer.from(value, 'utf8')]
    .map((byte) =>
      /[A-Za-z0-9\-_.~]/.test(String.fromCharCode(byte))
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`,
    )
    .join('');
}

function buildUrl(
  base: BaseRequest,
  params = base.params,
  query: Record<string, string> | string = base.query,
) {
  const path = base.route.url
    .replace(/:([A-Za-z0-9_]+)/g, (_, name: string) => params[name] ?? '1')
    .replace(/\*$/, 'static/index.html');
  const search =
    typeof query === 'string'
      ? query
      : Object.entries(query)
          .map(([k, v]) => `${percentEncode(k)}=${percentEncode(v)}`)
          .join('&');
  return search ? `${path}?${search}` : path;
}

/** The base request, with parts replaced. */
export function render(
  base: BaseRequest,
  label: string,
  changes: {
    method?: string;
    url?: string;
    headers?: Record<string, string | string[] | undefined>;
    payload?: string | Buffer | null;
    body?: unknown;
  } = {},
): FuzzCase {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries({ ...base.headers, ...changes.headers }))
    if (value !== undefined) headers[name] = value;
  let payload: string | Buffer | undefined;
  if (changes.payload !== undefined) payload = changes.payload ?? undefined;
  else if ('body' in changes) payload = JSON.stringify(changes.body);
  else if (base.body !== undefined) payload = JSON.stringify(base.body);
  if (
    payload !== undefined &&
    headers['content-type'] === undefined &&
    !('content-type' in (changes.headers ?? {}))
  )
    headers['content-type'] = JSON_TYPE;
  return {
    label,
    method: changes.method ?? base.route.method,
    url: changes.url ?? buildUrl(base),
    headers,
    ...(payload === undefined ? {} : { payload }),
  };
}

const isString = (schema: JsonSchema) =>
  schema.type === 'string' || (schema.anyOf?.every((s) => typeof s.const === 'string') ?? false);
const isEmailField = (name: string) => /email|username/.test(name);

/** The JSON text of `body` with `bytes` spliced into the string value of `field`. */
function withRawBytes(body: Record<string, unknown>, field: string, bytes: Buffer): Buffer {
  const marker = '\u0001MARK\u0001';
  const text = JSON.stringify({ ...body, [field]: `a${marker}@example.com` });
  const [before, after] = text.split(JSON.stringify(marker).slice(1, -1));
  return Buffer.concat([Buffer.from(before ?? ''), bytes, Buffer.from(after ?? '')]);
}

function bodyCases(base: BaseRequest): FuzzCase[] {
  const schema = base.route.body;
  const body = base.body;
  if (!schema?.properties || !body) return [];
  const cases: FuzzCase[] = [];
  const fields = Object.entries(schema.properties);
  for (const [field, property] of fields) {
    for (const value of WRONG_TYPES)
      cases.push(
        render(base, `body ${field} ← ${JSON.stringify(value)}`, { body: { ...body, [field]: value } }),
      );
    if (isString(property)) {
      const payloads = isEmailField(field) ? [...EMAIL_PAYLOADS, ...STRING_PAYLOADS] : STRING_PAYLOADS;
      for (const value of payloads)
        cases.push(
          render(base, `body ${field} ← ${JSON.stringify(value)}`, { body: { ...body, [field]: value } }),
        );
      cases.push(
        render(base, `body ${field} ← 100k chars`, { body: { ...body, [field]: 'x'.repeat(100_000) } }),
        render(base, `body ${field} ← 50k emoji`, { body: { ...body, [field]: '😀'.repeat(50_000) } }),
      );
      for (const bytes of INVALID_UTF8)
        cases.push(
          render(base, `body ${field} ← invalid UTF-8 ${bytes.toString('hex')}`, {
            payload: withRawBytes(body, field, bytes),
          }),
        );
    }
    cases.push(
      render(base, `body ${field} ← array nested 5000 deep`, {
        payload: JSON.stringify({ ...body, [field]: null }).replace('null', deepArray(5000)),
      }),
    );
    if (schema.required?.includes(field)) {
      const { [field]: _dropped, ...rest } = body;
      cases.push(render(base, `body without ${field}`, { body: rest }));
    }
  }
  const text = JSON.stringify(body);
  cases.push(
    render(base, 'body {}', { body: {} }),
    render(base, 'body null', { payload: 'null' }),
    render(base, 'body []', { payload: '[]' }),
    render(base, 'body "string"', { payload: '"x"' }),
    render(base, 'body 1', { payload: '1' }),
    render(base, 'body empty', { payload: '' }),
    render(base, 'body truncated', { payload: text.slice(0, -1) }),
    render(base, 'body trailing garbage', { payload: `${text}}` }),
    render(base, 'body twice', { payload: `${text}${text}` }),
    render(base, 'body with comments', { payload: `/* c */${text}` }),
    render(base, 'body single-quoted', { payload: text.replace(/"/g, "'") }),
    render(base, 'body with BOM', { payload: `\ufeff${text}` }),
    render(base, 'body UTF-16LE', { payload: Buffer.from(text, 'utf16le') }),
    render(base, 'body with extra fields', {
      body: {
        ...body,
        is_owner: true,
        role: 'owner',
        id: 1,
        tid: 2,
        is_verified: true,
        [`k${'x'.repeat(1000)}`]: 1,
      },
    }),
    render(base, 'body with 5000 extra fields', {
      body: { ...body, ...Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`f${i}`, i])) },
    }),
    render(base, 'body with __proto__', { payload: `{"__proto__":{"is_owner":true},${text.slice(1)}` }),
    render(base, 'body with constructor.prototype', {
      payload: `{"constructor":{"prototype":{"is_owner":true}},${text.slice(1)}`,
    }),
    render(base, 'body nested 100000 deep', { payload: deepObject(100_000) }),
    render(base, 'body nested 20000 deep, __proto__ at the bottom', {
      payload: deepObject(20_000, '{"__proto__":1}'),
    }),
    render(base, 'body over BODY_LIMIT', { body: { ...body, pad: 'x'.repeat(1_100_000) } }),
    render(base, 'content-length larger than the body', {
      headers: { 'content-length': String(text.length + 10) },
    }),
    render(base, 'content-length smaller than the body', { headers: { 'content-length': '2' } }),
    render(base, 'no content-type', { headers: { 'content-type': undefined } }),
    render(base, 'form-encoded body', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams(
        Object.entries(body).map(([k, v]): [string, string] => [k, String(v)]),
      ).toString(),
    }),
    ...CONTENT_TYPES.map((type) =>
      render(base, `content-type ${type.slice(0, 40)}`, { headers: { 'content-type': type } }),
    ),
  );
  return cases;
}

function queryCases(base: BaseRequest): FuzzCase[] {
  const cases: FuzzCase[] = [];
  for (const [name, { schema }] of Object.entries(base.route.query)) {
    const values = schema.type === 'integer' ? [...BAD_INTEGERS, ...STRING_PAYLOADS] : STRING_PAYLOADS;
    for (const value of [...values, 'x'.repeat(10_000)])
      cases.push(
        render(base, `query ${name} ← ${JSON.stringify(value.slice(0, 40))}`, {
          url: buildUrl(base, base.params, { ...base.query, [name]: value }),
        }),
      );
    cases.push(
      render(base, `query ${name} twice`, {
        url: `${buildUrl(base)}${Object.keys(base.query).length ? '&' : '?'}${name}=1&${name}=2`,
      }),
      render(base, `query ${name}[]`, { url: buildUrl(base, base.params, `${name}[]=1&${name}[x]=2`) }),
      render(base, `query ${name} badly escaped`, { url: buildUrl(base, base.params, `${name}=%zz%`) }),
    );
    if (base.route.query[name]?.required) {
      const { [name]: _dropped, ...rest } = base.query;
      cases.push(render(base, `query without ${name}`, { url: buildUrl(base, base.params, rest) }));
    }
  }
  cases.push(
    render(base, 'query with unknown and polluting keys', {
      url: buildUrl(
        base,
        base.params,
        `${new URLSearchParams(base.query).toString()}&zzz=1&__proto__[admin]=1`,
      ),
    }),
  );
  return cases;
}

function paramCases(base: BaseRequest): FuzzCase[] {
  return Object.keys(base.route.params).flatMap((name) =>
    [...BAD_IDS, ...STRING_PAYLOADS.map(percentEncode)].map((value) =>
      render(base, `param ${name} ← ${value.slice(0, 40)}`, {
        url: buildUrl(base, { ...base.params, [name]: value }),
      }),
    ),
  );
}

function headerCases(base: BaseRequest, forgedTokens: readonly string[]): FuzzCase[] {
  // Header values travel as latin1; anything else is what a client's UTF-8 bytes look like to the server.
  const wire = (value: string) => Buffer.from(value, 'utf8').toString('latin1');
  const values = STRING_PAYLOADS.map(wire).filter((v) => !/[\r\n]/.test(v));
  const cases: FuzzCase[] = [];
  for (const value of [...values, 'x'.repeat(10_000), '1'.repeat(400)]) {
    const short = JSON.stringify(value.slice(0, 40));
    cases.push(
      render(base, `x-tenant ← ${short}`, { headers: { 'x-tenant': value } }),
      render(base, `authorization ← Bearer ${short}`, { headers: { authorization: `Bearer ${value}` } }),
      render(base, `authorization ← ${short}`, { headers: { authorization: value } }),
      render(base, `x-request-id ← ${short}`, { headers: { 'x-request-id': value } }),
      render(base, `accept ← ${short}`, { headers: { accept: value } }),
      render(base, `x-forwarded-for ← ${short}`, { headers: { 'x-forwarded-for': value } }),
    );
  }
  for (const token of forgedTokens)
    cases.push(
      render(base, `authorization ← forged ${token.slice(0, 30)}…`, {
        headers: { authorization: `Bearer ${token}` },
      }),
    );
  cases.push(
    render(base, 'x-tenant twice', { headers: { 'x-tenant': ['1', '2'] } }),
    render(base, 'authorization twice', { headers: { authorization: ['Bearer a', 'Bearer b'] } }),
    render(base, 'authorization Basic', { headers: { authorization: 'Basic YWRtaW46YWRtaW4=' } }),
    render(base, 'authorization Bearer with no token', { headers: { authorization: 'Bearer ' } }),
    render(base, 'authorization three dots', { headers: { authorization: 'Bearer a.b.c.d' } }),
    render(base, 'authorization 100k', { headers: { authorization: `Bearer ${'a'.repeat(100_000)}` } }),
    render(base, 'cookie garbage', { headers: { cookie: "session=' OR 1=1; __proto__=x" } }),
    render(base, 'transfer-encoding chunked', { headers: { 'transfer-encoding': 'chunked' } }),
  );
  return cases;
}

function urlCases(base: BaseRequest, servedMethods: readonly string[]): FuzzCase[] {
  const url = buildUrl(base);
  return [
    ...bentUrls(url).map((bent) => render(base, `url ${bent.slice(0, 60)}`, { url: bent })),
    ...METHODS.filter((m) => !servedMethods.includes(m)).map((method) =>
      render(base, `method ${method}`, { method }),
    ),
  ];
}

/**
 * Every malformed variant of a base request, one defect each: body fields of wrong types, missing, extra,
 * huge, deep, badly encoded or carrying payloads; wrong content types and lengths; bad query and path
 * parameters; hostile headers and forged tokens; bent URLs and methods the path does not serve.
 */
export function fuzzCases(
  base: BaseRequest,
  options: { servedMethods: readonly string[]; forgedTokens: readonly string[] },
): FuzzCase[] {
  return [
    ...bodyCases(base),
    ...queryCases(base),
    ...paramCases(base),
    ...headerCases(base, options.forgedTokens),
    ...urlCases(base, options.servedMethods),
  ];
}

/** Case `a` with the headers `b` changed from the base request added: two defects at once. */
export function withHeaderDefects(base: BaseRequest, a: FuzzCase, b: FuzzCase): FuzzCase {
  const changed = Object.entries(b.headers).filter(
    ([name, value]) => name !== 'content-type' && base.headers[name] !== value,
  );
  if (changed.length === 0) return a;
  return {
    ...a,
    label: `${a.label} + ${b.label}`,
    headers: { ...a.headers, ...Object.fromEntries(changed) },
  };
}
