#!/usr/bin/env node
// The tenantry CLI. In a checkout (src/ beside bin/) it always runs the TypeScript source through tsx, so a
// `dist/` left by an earlier `npm run build` can never be run stale. Only a packaged install without src/ (the
// Docker image copies dist/ and bin/, not src/) runs the compiled dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const source = new URL('../src/cli/index.ts', import.meta.url);
const compiled = new URL('../dist/cli/index.js', import.meta.url);

if (existsSync(source)) {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write(
      `tenantry: this checkout has ${fileURLToPath(source)} but tsx is not installed; run \`npm ci\` first.\n`,
    );
    process.exit(2);
  }
  register();
  await import(source.href);
} else if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  process.stderr.write(
    'tenantry: neither src/cli/index.ts nor dist/cli/index.js is here; run `npm run build`.\n',
  );
  process.exit(2);
}
