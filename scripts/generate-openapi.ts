// Writes docs/openapi.json and clients/typescript/src/schema.d.ts from the server's routes.
// Usage: npm run openapi            (regenerate)
//        npm run openapi -- --check (exit 1 when a committed file is stale; the test suite checks the same)
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { openApiArtifacts, staleArtifacts } from './openapi-artifacts.js';

const check = process.argv.includes('--check');
// A throw-away embedded database: the document depends on the routes only, never on data or configuration.
const dataDir = mkdtempSync(join(tmpdir(), 'tenantry-openapi-'));
try {
  const config = loadConfig({
    NODE_ENV: 'test',
    DATA_DIR: dataDir,
    SECRET_KEY: randomBytes(32).toString('hex'),
    LOG_LEVEL: 'silent',
  });
  const app = await buildApp(config, { logger: false, reconcile: false });
  let document: object;
  try {
    await app.ready();
    document = (await app.inject({ method: 'GET', url: '/openapi.json' })).json<object>();
  } finally {
    await app.close();
  }
  const artifacts = await openApiArtifacts(document);
  if (check) {
    const stale = await staleArtifacts(artifacts);
    for (const file of stale) console.error(`stale: ${relative(process.cwd(), file)} (run npm run openapi)`);
    process.exitCode = stale.length > 0 ? 1 : 0;
  } else {
    for (const { file, content } of artifacts) {
      await writeFile(file, content);
      console.log(`wrote ${relative(process.cwd(), file)}`);
    }
  }
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
