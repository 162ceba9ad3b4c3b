import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import openapiTS, { astToString } from 'openapi-typescript';

/** Files generated from the server's OpenAPI document; committed, and checked against the server in the tests. */
export const OPENAPI_FILE = fileURLToPath(new URL('../docs/openapi.json', import.meta.url));
export const CLIENT_SCHEMA_FILE = fileURLToPath(
  new URL('../clients/typescript/src/schema.d.ts', import.meta.url),
);

const SCHEMA_HEADER =
  '// Generated from docs/openapi.json by `npm run openapi` (openapi-typescript). Do not edit by hand.\n\n';

export interface Artifact {
  file: string;
  content: string;
}

/**
 * The committed artifacts for one OpenAPI document: the document itself (2-space JSON) and the TypeScript types
 * of the client package.
 *
 * @example
 * const files = await openApiArtifacts((await app.inject({ url: '/openapi.json' })).json());
 */
export async function openApiArtifacts(document: object): Promise<Artifact[]> {
  const types = astToString(await openapiTS(document as Parameters<typeof openapiTS>[0]));
  return [
    { file: OPENAPI_FILE, content: `${JSON.stringify(document, null, 2)}\n` },
    { file: CLIENT_SCHEMA_FILE, content: SCHEMA_HEADER + types },
  ];
}

/** The artifacts whose committed copy differs from `expected` (missing counts as different). */
export async function staleArtifacts(expected: Artifact[]): Promise<string[]> {
  const stale: string[] = [];
  for (const { file, content } of expected) {
    const committed = await readFile(file, 'utf8').catch(() => null);
    if (committed !== content) stale.push(file);
  }
  return stale;
}
