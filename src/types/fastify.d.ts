import type { Config } from '../config.js';
import type { CoreDb } from '../db/core-database.js';
import type { Services } from '../services.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The validated, frozen configuration this app was built with. */
    config: Config;
    /** The core (control-plane) database. */
    core: CoreDb;
    /** The app's services (auth, tenancy, mail), built once from the configuration. */
    services: Services;
  }
}
