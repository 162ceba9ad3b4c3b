import { isolationSuite } from '../helpers/isolation-suite.js';

// Every tenant a schema of the same shared database: every attack is on a neighbour in the same database, where
// only the schema binding and PostgreSQL's role checks stand between them.
isolationSuite({
  label: 'shared, one shared database',
  defaultPlacement: 'shared',
  kinds: { a: 'shared', b: 'shared', c: 'shared', d: 'shared' },
});
