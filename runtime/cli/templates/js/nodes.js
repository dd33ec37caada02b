// The nodes of {{name}}: each function given to `node` is a node, its
// parameter names are its inputs; `inputs` and `output` give their types.

import { node, InvalidInput } from 'weavelet';

node(
  function greeting(name) {
    if (name.trim() === '') throw new InvalidInput('name', 'name must not be empty');
    return `Hello, ${name}!`;
  },
  { inputs: { name: 'text' }, output: 'text', doc: 'A greeting for `name` (a pipeline parameter).' },
);

node(
  function loud(greeting) {
    return greeting.toUpperCase();
  },
  { inputs: { greeting: 'text' }, output: 'text', doc: 'The greeting, louder.' },
);

// The component's `node` export: every node above.
export { allNodes as node } from 'weavelet';
