import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isPlainAddress } from '../../src/modules/shared/emails.js';
import { createMailTransport } from '../../src/mail/transports.js';
import { silentLogger } from '../helpers/core-fixtures.js';
import { call } from '../helpers/flows.js';
import { startSmtpListener, type SmtpListener } from '../helpers/smtp-listener.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/** Address-list syntax a mail library would read as another (or a second) recipient. */
const LIST_SYNTAX = [
  'x<evil@attacker.co>',
  'x <evil@attacker.co>',
  'victim@corp.com,',
  'victim@corp.com,evil@attacker.co',
  'victim@corp.com, evil@attacker.co',
  '"victim@corp.com"',
  '"victim@corp.com"@attacker.co',
  'victim@corp.com;x',
  'a(b)@c.co',
  'victim@corp.com (comment)',
  'group: victim@corp.com;',
  'victim@[127.0.0.1]',
  'victim@corp.com\r\nbcc: evil@attacker.co',
  'vict..im@corp.com',
  '.victim@corp.com',
  'victim@-corp.com',
  'victim@corp',
  'vïctim@corp.com',
];

let t: TestApp;
let smtp: SmtpListener;
before(async () => {
  t = await createTestApp();
  smtp = await startSmtpListener();
});
after(async () => {
  await smtp.close();
  await t.close();
});

describe('email addresses are plain addr-specs', () => {
  it('every route taking an email answers address-list syntax with 422', async () => {
    for (const email of LIST_SYNTAX) {
      for (const [url, body] of [
        ['/api/auth/register', { email, password: 'long enough password' }],
        ['/api/auth/password-reset', { email }],
        ['/api/auth/verify/resend', { email }],
        ['/api/auth/login', { email, password: 'x' }],
      ] as const) {
        const res = await call(t.app, 'POST', url, { body });
        assert.equal(res.statusCode, 422, `${url} ${JSON.stringify(email)}: ${res.body}`);
        assert.equal(res.json<{ code: string }>().code, 'VALIDATION_ERROR');
      }
    }
  });

  it('ordinary addresses, including the less common atext characters, are accepted and stored lower-case', async () => {
    for (const email of ["O'Brien+tag@Sub.Example.co.uk", 'a.b-c_d@x-y.example', '  spaced@example.com ']) {
      const res = await call(t.app, 'POST', '/api/auth/register', {
        body: { email, password: 'long enough password' },
      });
      assert.equal(res.statusCode, 201, `${email}: ${res.body}`);
      assert.equal(res.json<{ user: { email: string } }>().user.email, email.trim().toLowerCase());
    }
    assert.equal(isPlainAddress(`${'a'.repeat(65)}@example.com`), false, 'local part over 64');
  });
});

describe('mail goes to exactly the stored address', () => {
  it('a stored address in list syntax (from before validation) is never split into other recipients', async () => {
    const transport = createMailTransport({ ...t.config, smtpUrl: smtp.url }, silentLogger());
    try {
      let id = 1;
      for (const to of ['victim@corp.com, evil@attacker.co', '"victim@corp.com" <evil@attacker.co>']) {
        const before = smtp.messages.length;
        await transport
          .send({ id: id++, to, subject: 'Reset', text: 'secret link', html: null })
          .catch(() => {
            // A server refusing the odd mailbox is fine too: what matters is that nobody else got the mail.
          });
        for (const message of smtp.messages.slice(before)) {
          assert.equal(message.envelope.to.length, 1, `${to}: ${JSON.stringify(message.envelope.to)}`);
          assert.ok(!message.envelope.to.includes('evil@attacker.co'), JSON.stringify(message.envelope.to));
          assert.ok(!message.envelope.to.includes('victim@corp.com'), JSON.stringify(message.envelope.to));
        }
      }
      // A plain address is delivered unchanged.
      await transport.send({ id: id++, to: 'plain@example.com', subject: 'Hi', text: 'x', html: null });
      assert.deepEqual(smtp.messages.at(-1)?.envelope.to, ['plain@example.com']);
    } finally {
      transport.close();
    }
  });
});
