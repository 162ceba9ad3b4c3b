import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { run } from '../../src/cli/program.js';

// Help and usage errors end before any command opens a database: run in process, output captured.
async function cli(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await run(argv, { writeOut: (text) => (out += text), writeErr: (text) => (err += text) });
  return { code, out, err };
}

describe('the CLI program', () => {
  it('answers help requests with exit code 0, each command with its own help', async () => {
    for (const argv of [['--help'], ['help'], ['tenants', '--help'], ['migrate:down', '-h']]) {
      assert.equal((await cli(...argv)).code, 0, argv.join(' '));
    }
    const create = await cli('tenants', 'help', 'create');
    assert.equal(create.code, 0);
    assert.match(create.out, /^Usage: tenantry tenants create \[options\]/);
    assert.match(create.out, /--owner <email>/);
    assert.doesNotMatch(create.out, /--all|--scope|suspend/);
    const exec = await cli('tenants', 'exec', '--help');
    for (const part of [/--concurrency <n>/, /--statement-timeout <ms>/, /export default async function/])
      assert.match(exec.out, part);
  });

  it('prints the help of a bare group as bad usage (2)', async () => {
    const bare = await cli();
    assert.equal(bare.code, 2);
    assert.match(bare.err, /Commands:[\s\S]*migrate:status[\s\S]*provision:reconcile/);
    assert.equal((await cli('tenants')).code, 2);
  });

  it('reports bad usage in CLI words with exit code 2, suggesting what was meant', async () => {
    const cases: [string[], RegExp][] = [
      [['migrat'], /unknown command 'migrat'\n\(Did you mean migrate\?\)/],
      [['tenants', 'shwo', 'acme'], /Did you mean show\?/],
      [['migrate', '--dryrun'], /unknown option '--dryrun'\n\(Did you mean --dry-run\?\)/],
      [
        ['migrate', '--concurrency', 'abc'],
        /argument 'abc' is invalid\. must be a whole number from 1 to 9999/,
      ],
      [['migrate:down', '--scope', 'bogus'], /Allowed choices are core, tenant/],
      [['migration:new', '--scope', 'core'], /missing required argument 'name'/],
      [['tenants', 'exec'], /missing required argument 'file'/],
      [['tenants', 'show', 'a', 'b'], /too many arguments/],
      [['tenants', 'list', '--status', 'gone'], /Allowed choices are provisioning, active/],
    ];
    for (const [argv, message] of cases) {
      const result = await cli(...argv);
      assert.equal(result.code, 2, argv.join(' '));
      assert.match(result.err, message, argv.join(' '));
      assert.match(result.err, /add --help for usage/);
    }
  });
});
