import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

const TIMEOUT_MS = 1_000;
/** Generous: the old behaviour took 30 s and more; the fix cuts within 1.25× the setting. */
const CUT_WITHIN_MS = 3 * TIMEOUT_MS;

let t: TestApp;
let port: number;
before(async () => {
  t = await createTestApp({ REQUEST_TIMEOUT_MS: String(TIMEOUT_MS) });
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  const address = t.app.server.address();
  port = typeof address === 'object' && address ? address.port : 0;
});
after(() => t.close());

interface RawExchange {
  /** Everything the server sent before the connection ended. */
  response: string;
  /** Milliseconds from the last byte sent until the server closed the connection (or `giveUpMs`). */
  closedAfterMs: number;
  closedByServer: boolean;
}

/** Sends `data` on a raw socket, then waits (at most `giveUpMs`) for the server to close the connection. */
function rawExchange(data: string, giveUpMs = CUT_WITHIN_MS + 5_000): Promise<RawExchange> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let response = '';
    let sentAt = 0;
    const giveUp = setTimeout(() => {
      socket.destroy();
      resolve({ response, closedAfterMs: Date.now() - sentAt, closedByServer: false });
    }, giveUpMs);
    socket.on('data', (chunk: Buffer) => (response += chunk.toString('utf8')));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ECONNRESET') reject(error);
    });
    socket.on('close', () => {
      clearTimeout(giveUp);
      resolve({ response, closedAfterMs: Date.now() - sentAt, closedByServer: true });
    });
    socket.write(data, () => (sentAt = Date.now()));
  });
}

/** Status and parsed JSON body of a raw HTTP/1.1 answer. */
function parse(response: string): { status: number; contentType: string; body: unknown } {
  const [head = '', body = ''] = response.split('\r\n\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
  const contentType = /^content-type:\s*(.+)$/im.exec(head)?.[1]?.trim() ?? '';
  return { status, contentType, body: JSON.parse(body) as unknown };
}

/** The connection was cut in time, with a 408 in the documented shape if anything was written at all. */
function assertCut(exchange: RawExchange, what: string): void {
  assert.ok(exchange.closedByServer, `${what}: still open after ${exchange.closedAfterMs} ms`);
  assert.ok(exchange.closedAfterMs < CUT_WITHIN_MS, `${what}: cut after ${exchange.closedAfterMs} ms`);
  if (exchange.response === '') return;
  const { status, body } = parse(exchange.response);
  assert.equal(status, 408, `${what}: ${exchange.response}`);
  assert.deepEqual(body, { detail: 'The request was not received in time', code: 'REQUEST_TIMEOUT' });
}

describe('REQUEST_TIMEOUT_MS holds for slow clients (raw sockets)', () => {
  it('partial headers are cut within the setting, not after Node’s 30 s check interval', async () => {
    const exchange = await rawExchange('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: abc');
    assertCut(exchange, 'partial headers');
  });

  it('a partial body is cut within the setting', async () => {
    const exchange = await rawExchange(
      'POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
        'Content-Length: 200\r\n\r\n{"email":"slow@example.com",',
    );
    assertCut(exchange, 'partial body');
  });

  it('a kept-alive connection that starts a second request and stalls is cut too', async () => {
    const exchange = await rawExchange(
      'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a',
    );
    assert.ok(exchange.closedByServer, `still open after ${exchange.closedAfterMs} ms`);
    assert.ok(exchange.closedAfterMs < CUT_WITHIN_MS, `cut after ${exchange.closedAfterMs} ms`);
    assert.match(exchange.response, /^HTTP\/1\.1 200 /, 'the first request was answered');
  });
});

describe('errors of the HTTP layer use the documented shape', () => {
  it('headers over 16 kB are 431 HEADERS_TOO_LARGE as {detail, code}', async () => {
    const exchange = await rawExchange(
      `GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    const { status, contentType, body } = parse(exchange.response);
    assert.equal(status, 431, exchange.response);
    assert.match(contentType, /^application\/json/);
    assert.deepEqual(body, { detail: 'Request headers are too large', code: 'HEADERS_TOO_LARGE' });
  });

  it('an unparsable request is 400 BAD_REQUEST as {detail, code}', async () => {
    for (const garbage of ['NOT HTTP AT ALL\r\n\r\n', 'GET / HTTP/1.1\r\nBad Header Line\r\n\r\n']) {
      const exchange = await rawExchange(garbage);
      const { status, body } = parse(exchange.response);
      assert.equal(status, 400, exchange.response);
      assert.deepEqual(body, { detail: 'Malformed request', code: 'BAD_REQUEST' });
    }
  });
});
