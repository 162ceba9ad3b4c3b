import type { TenantServerState } from '../../db/core-schema.js';
import type { ServerAddress } from '../placement/placement.js';

export type { TenantServerState };

/** The name of the zero-configuration server: TENANT_DATABASE_URL, the core's server, or the embedded engine. */
export const DEFAULT_SERVER = 'default';

/** Server names: short, lower-case, safe in logs and on a command line. */
export const SERVER_NAME = /^[a-z][a-z0-9_-]{0,39}$/;

/** One tenant server of the registry. */
export interface TenantServer {
  readonly name: string;
  readonly address: ServerAddress;
  /** Connection URL with credentials (null for the embedded engine). Never print, log or return it. */
  readonly url: string | null;
  /** Relative capacity: the placement policy gives a server of weight 2 twice the tenants of one of weight 1. */
  readonly weight: number;
  /** `draining`: keeps its tenants, receives no new ones. */
  readonly state: TenantServerState;
  readonly createdAt: Date;
}
