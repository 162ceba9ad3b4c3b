import { isolationSuite } from '../helpers/isolation-suite.js';

// Every tenant in a database of its own.
isolationSuite({
  label: 'dedicated',
  defaultPlacement: 'dedicated',
  kinds: { a: 'dedicated', b: 'dedicated', c: 'dedicated', d: 'dedicated' },
});
