import type { FastifyInstance } from 'fastify';

/**
 * `count` active organizations of one owner, provisioned through the app's own provisioner (the HTTP path costs
 * two argon2 hashes and an email per owner, which these tests do not need). Slugs are `<prefix>-<n>`.
 */
export async function provisionFleet(
  app: FastifyInstance,
  count: number,
  prefix: string,
): Promise<{ id: number; slug: string; dbName: string }[]> {
  const owner = await app.core.db
    .insertInto('core_users')
    .values({ email: `${prefix}-owner@example.com`, password_hash: 'x', is_owner: true, is_verified: true })
    .returning('id')
    .executeTakeFirstOrThrow();
  const fleet: { id: number; slug: string; dbName: string }[] = [];
  for (let i = 0; i < count; i += 5) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(5, count - i) }, async (_, j) => {
        const slug = `${prefix}-${i + j + 1}`;
        const { id } = await app.core.db
          .insertInto('organizations')
          .values({ name: slug, slug, owner_id: owner.id })
          .returning('id')
          .executeTakeFirstOrThrow();
        const org = await app.services.provisioner.provision(id);
        return { id, slug, dbName: org.tenant_db_name as string };
      }),
    );
    fleet.push(...batch);
  }
  return fleet;
}
