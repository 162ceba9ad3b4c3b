import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { call, tokenFromOutbox } from '../helpers/flows.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
before(async () => {
  env = await createTestEnv();
});
after(() => env.cleanup());

/** The app on this file's databases, with its mail sender stopped: nothing is processed behind the test's back. */
async function appWithSenderStopped(): Promise<FastifyInstance> {
  const app = await buildApp(env.config, { logger: false });
  await app.ready();
  await app.services.mailer.stop();
  return app;
}

async function counts(app: FastifyInstance) {
  const count = async (table: 'email_tokens' | 'mail_outbox' | 'account_mail_requests') =>
    Number(
      (
        await app.core.db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  return {
    tokens: await count('email_tokens'),
    outbox: await count('mail_outbox'),
    requests: await count('account_mail_requests'),
  };
}

describe('password reset and verification resend do the same work for known and unknown addresses', () => {
  it('before answering 202 both only record a durable request; the sender looks the account up later', async () => {
    const app = await appWithSenderStopped();
    try {
      const registered = await call(app, 'POST', '/api/auth/register', {
        body: { email: 'known@example.com', password: 'a long enough password' },
      });
      assert.equal(registered.statusCode, 201);
      const start = await counts(app);

      for (const url of ['/api/auth/password-reset', '/api/auth/verify/resend']) {
        for (const email of ['known@example.com', 'unknown@example.com']) {
          const res = await call(app, 'POST', url, { body: { email } });
          assert.equal(res.statusCode, 202, `${url} ${email}: ${res.body}`);
          const now = await counts(app);
          // No token, no mail yet for either address: nothing in the request depends on the account existing.
          assert.equal(now.tokens, start.tokens, `${url} ${email}: tokens`);
          assert.equal(now.outbox, start.outbox, `${url} ${email}: outbox`);
        }
      }
      const requests = await app.core.db
        .selectFrom('account_mail_requests')
        .select(['kind', 'email'])
        .orderBy('id')
        .execute();
      assert.deepEqual(requests, [
        { kind: 'reset', email: 'known@example.com' },
        { kind: 'reset', email: 'unknown@example.com' },
        { kind: 'verify', email: 'known@example.com' },
        { kind: 'verify', email: 'unknown@example.com' },
      ]);

      // The sender turns them into mail for the known address only, and removes every request.
      await app.services.mailer.flush();
      const done = await counts(app);
      assert.equal(done.requests, 0);
      assert.equal(
        done.outbox,
        start.outbox + 2,
        'one reset and one verification mail, none for the unknown',
      );
      const resetToken = await tokenFromOutbox(app, 'known@example.com', '/reset-password');
      const confirmed = await call(app, 'POST', '/api/auth/password-reset/confirm', {
        body: { token: resetToken, password: 'another long password' },
      });
      assert.equal(confirmed.statusCode, 204, confirmed.body);
    } finally {
      await app.close();
    }
  });

  it('a request answered 202 survives the process ending before it was processed', async () => {
    const first = await appWithSenderStopped();
    try {
      const res = await call(first, 'POST', '/api/auth/password-reset', {
        body: { email: 'known@example.com' },
      });
      assert.equal(res.statusCode, 202);
    } finally {
      await first.close();
    }
    // A new process on the same databases: its sender finds the request at start and mails the link.
    const second = await buildApp(env.config, { logger: false });
    try {
      await second.ready();
      const token = await tokenFromOutbox(second, 'known@example.com', '/reset-password');
      const confirmed = await call(second, 'POST', '/api/auth/password-reset/confirm', {
        body: { token, password: 'a third long password' },
      });
      assert.equal(confirmed.statusCode, 204, confirmed.body);
      assert.equal((await counts(second)).requests, 0);
    } finally {
      await second.close();
    }
  });
});
