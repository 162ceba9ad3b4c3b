/**
 * Hostile values for the bad-input suite. Each list aims at one way a server breaks: the type system, the
 * parser, the database (SQL text, NUL bytes, integer ranges), the file system, the router, the encoders.
 */

/** Strings for every string field, header and parameter. */
export const STRING_PAYLOADS: readonly string[] = [
  // SQL
  "' OR '1'='1",
  "'; DROP TABLE tenant_users; --",
  '1; SELECT pg_sleep(10); --',
  "' UNION SELECT password_hash FROM core_users --",
  "%' OR 1=1 --",
  '\\',
  '"',
  "'",
  '$1',
  "E'\\x00'",
  "; COPY core_users TO PROGRAM 'id'",
  // Path traversal
  '../../../../etc/passwd',
  '..%2f..%2f..%2fetc%2fpasswd',
  '..\\..\\..\\windows\\win.ini',
  '%2e%2e%2f%2e%2e%2f',
  '/dev/zero',
  'file:///etc/passwd',
  // Bytes PostgreSQL and JSON care about
  'a\u0000b',
  '\u0000',
  'line\r\nInjected: header',
  '\ud800',
  '\udfff\ud800',
  '\u202eevil',
  '\ufeff',
  '\u200b',
  '😀'.repeat(20),
  'e\u0301',
  // Templates, formats, lookups
  '%s%s%s%n',
  '{{7*7}}',
  '${jndi:ldap://127.0.0.1/a}',
  '<script>alert(1)</script>',
  '__proto__',
  'constructor',
  'null',
  'undefined',
  'NaN',
  '-0',
  '1e309',
  ' ',
  '',
];

/** Emails that pass a loose shape check but carry a payload. */
export const EMAIL_PAYLOADS: readonly string[] = [
  "x'--@example.com",
  "a' OR '1'='1@example.com",
  '"; DROP TABLE core_users; --"@example.com',
  'a\u0000b@example.com',
  '../../etc/passwd@example.com',
  'a@example.com\u0000',
  'ａ@example.com',
  'a@exa\u200bmple.com',
  `${'a'.repeat(64)}@${'b'.repeat(180)}.com`,
  'a@b.c',
  'A@EXAMPLE.COM ',
  '%00@example.com',
];

/** Values of the wrong JSON type for any field. */
export const WRONG_TYPES: readonly unknown[] = [
  123,
  -1,
  0,
  1.5,
  1e308,
  2 ** 53 + 1,
  true,
  false,
  null,
  [],
  ['a', 'b'],
  [null],
  {},
  { $ne: null },
  { toString: 'x' },
  'string',
  '1',
  'true',
];

/** Path parameters a route declares as ids. None may coerce to a small positive integer (a real row). */
export const BAD_IDS: readonly string[] = [
  'abc',
  '-1',
  '0',
  '1.5',
  '2147483648',
  '99999999999999999999',
  '1e400',
  'NaN',
  'Infinity',
  'null',
  '[]',
  '%00',
  '%20',
  '%ff',
  '%zz',
  '%2e%2e',
  '..%2f..%2f..%2fetc%2fpasswd',
  '1%27%20OR%20%271%27%3D%271',
  'x'.repeat(101),
  '%F0%9F%98%80',
];

/** Query values for integer parameters. */
export const BAD_INTEGERS: readonly string[] = [
  'abc',
  '-1',
  '0',
  '101',
  '1.5',
  '1e2',
  '9999999999999999999999',
  '',
  '%00',
  '%zz',
  'NaN',
  '0x10',
];

/** Content types a JSON route must refuse (415) or at worst parse safely. */
export const CONTENT_TYPES: readonly string[] = [
  'text/plain',
  'application/xml',
  'multipart/form-data; boundary=x',
  'application/x-www-form-urlencoded',
  'application/json; charset=latin1',
  'application/json; charset=utf-16le',
  'application/json-patch+json',
  'APPLICATION/JSON',
  'application/json;;;',
  'application/json; charset="',
  '*/*',
  'a/b/c',
  'json',
  '',
  `application/${'x'.repeat(5000)}`,
];

/** HTTP methods beyond the ones a route serves. */
export const METHODS: readonly string[] = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
  'OPTIONS',
  'TRACE',
  'PROPFIND',
  'SEARCH',
  'LOCK',
  'PURGE',
  'COPY',
  'QUERY',
  'CONNECT',
];

/** Ways to bend a URL's path. */
export function bentUrls(url: string): string[] {
  const [path = '', query] = url.split('?');
  const q = query === undefined ? '' : `?${query}`;
  return [
    `${path}/..${q}`,
    `${path}/../..${q}`,
    `${path}/%2e%2e/%2e%2e/etc/passwd${q}`,
    `${path}%2f..%2f..%2fetc%2fpasswd${q}`,
    `${path}/..%2f..%2f..%2fpackage.json${q}`,
    `${path}\\..\\..\\${q}`,
    `${path}//${q}`,
    `/${path}${q}`,
    `${path}/${q}`,
    `${path}%00${q}`,
    `${path}%${q}`,
    `${path}%zz${q}`,
    `${path}%ff${q}`,
    `${path};jsessionid=1${q}`,
    `${path}#fragment`,
    path.toUpperCase() + q,
    `${path}/${'a'.repeat(3000)}${q}`,
    `${path}?${'a=1&'.repeat(2000)}`,
    `${path}?__proto__[admin]=1&constructor[prototype][admin]=1`,
  ];
}

/** A JSON array nested `depth` levels deep. */
export const deepArray = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;

/** A JSON object nested `depth` levels deep, with `inner` at the bottom. */
export const deepObject = (depth: number, inner = '1'): string =>
  `${'{"a":'.repeat(depth)}${inner}${'}'.repeat(depth)}`;

/** Byte sequences that are not UTF-8: lone continuation, overlong "/", a surrogate, 0xFF, a cut-off sequence. */
export const INVALID_UTF8: readonly Buffer[] = [
  Buffer.from([0x80]),
  Buffer.from([0xc0, 0xaf]),
  Buffer.from([0xed, 0xa0, 0x80]),
  Buffer.from([0xff, 0xfe]),
  Buffer.from([0xe2, 0x82]),
  Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80]),
];
