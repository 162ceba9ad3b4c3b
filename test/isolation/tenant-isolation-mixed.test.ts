import { isolationSuite } from '../helpers/isolation-suite.js';

// A dedicated, B and D shared (neighbours in one shared database), C (deleted) shared: attacks from a dedicated
// tenant on shared ones and back, and between shared neighbours.
isolationSuite({
  label: 'mixed: A dedicated, B/C/D shared',
  defaultPlacement: 'shared',
  kinds: { a: 'dedicated', b: 'shared', c: 'shared', d: 'shared' },
});
