// The CLI's entry point: `bin/tenantry.mjs` (what `npx tenantry` and `npm run cli` run) imports it.
import { run } from './program.js';

process.exit(await run(process.argv.slice(2)));
