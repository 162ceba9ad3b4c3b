/**
 * Baseline for bench/tenant-throughput.ts: a plain Fastify + pg.Pool server on ONE database answering
 * `GET /users/:id` with the same primary-key select Tenantry runs for `GET /api/users/me`, serialized as JSON.
 * No authentication, no tenancy, no hooks: the floor Tenantry is compared against.
 *
 *   DATABASE_URL=postgres://… PORT=8001 npx tsx bench/baseline-server.ts
 *
 * Environment: DATABASE_URL (required), HOST (127.0.0.1), PORT (8001), POOL_SIZE (40, Tenantry's default
 * tenant connection budget).
 */
import Fastify from 'fastify';
import pg from 'pg';

interface UserRow {
  id: number;
  email: string;
  role: string;
  is_active: boolean;
  created_at: Date;
}

const USER_BY_ID = 'select id, email, role, is_active, created_at from tenant_users where id = $1';

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) {
  process.stderr.write('DATABASE_URL is required\n');
  process.exit(2);
}
const pool = new pg.Pool({
  connectionString: databaseUrl,
  max: Number(process.env.POOL_SIZE ?? 40),
  connectionTimeoutMillis: 5_000,
  application_name: 'tenantry-bench-baseline',
});
// An idle client losing its server would otherwise crash the process.
pool.on('error', () => undefined);

const app = Fastify({ logger: false });

app.get<{ Params: { id: number } }>(
  '/users/:id',
  {
    schema: {
      params: {
        type: 'object',
        properties: { id: { type: 'integer', minimum: 1, maximum: 2_147_483_647 } },
        required: ['id'],
      },
      response: {
        200: {
          type: 'object',
          properties: {
            id: { type: 'integer' },
            email: { type: 'string' },
            role: { type: 'string' },
            is_active: { type: 'boolean' },
            created_at: { type: 'string' },
          },
        },
      },
    },
  },
  async (request, reply) => {
    const { rows } = await pool.query<UserRow>(USER_BY_ID, [request.params.id]);
    const user = rows[0];
    if (!user) return reply.code(404).send({ detail: 'User not found', code: 'NOT_FOUND' });
    return { ...user, created_at: user.created_at.toISOString() };
  },
);

app.get('/health/ready', async () => {
  await pool.query('select 1');
  return { status: 'ready' };
});

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  const deadline = setTimeout(() => process.exit(1), 10_000);
  deadline.unref();
  app
    .close()
    .then(() => pool.end())
    .then(
      () => process.exit(0),
      () => process.exit(1),
    );
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

await app.listen({ host: process.env.HOST ?? '127.0.0.1', port: Number(process.env.PORT ?? 8001) });
