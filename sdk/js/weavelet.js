// Write Weavelet pipeline nodes as plain JavaScript functions.
//
// A node is an ordinary named function registered with `node(fn, options)`.
// Its parameter names are its inputs: a parameter called `orders` receives
// the output of the node called `orders`, or the pipeline parameter of that
// name. Types, required table columns and documentation go in `options`:
//
//   import { node, InvalidInput } from 'weavelet';
//
//   node(function top_regions(region_totals, top = 3) {
//     if (top < 1) throw new InvalidInput('top', `top must be at least 1 (got ${top})`);
//     return region_totals.head(top);
//   }, {
//     inputs: { region_totals: 'table', top: 'int' },
//     output: 'table',
//     columns: { region_totals: 'region: text, revenue: number' },
//     doc: 'The first `top` rows.',
//   });
//
//   // The component's WIT export `node` (nodes + run): every node above.
//   export { allNodes as node } from 'weavelet';
//
// `weavelet` is this file: the bundle configuration `weavelet` writes for a
// `js = "folder"` component maps the name to it (runtime/src/build/js.rs).
//
// - An input with no declared type is `any`; a parameter with a default value
//   is optional (when nothing binds to it, the host passes null and the
//   default applies).
// - A thrown exception becomes a `failed` node error naming its type
//   (`TypeError: ...`; a refusal of the host, such as an unknown column, is a
//   `ComponentError: <the host's message>`); `throw new
//   weavelet.InvalidInput('x', 'why')` reports an `invalid-input` error on `x`.
// - A node may be `async` (to `await fetch(...)`, which reaches only the hosts
//   of the node's `net` grant); the host waits for it within its budget.
//
// Types (declared with the WIT names):
//
//   declared type   the node receives          the node may return
//   int             number (|x| <= 2^53)       integer number or BigInt
//   float           number                     number or BigInt
//   bool, text      boolean, string            the same
//   bytes           Uint8Array                 Uint8Array, ArrayBuffer, byte array
//   int-list        array of numbers           array of integers, BigInt64Array
//   float-list      array of numbers           array of numbers, Float64Array
//   bool-list, text-list  arrays               arrays
//   table, svg, image     Table, Svg, Image    Table, Svg, Image (host handles)
//   images          array of Image             array of Image
//   null            null                       null or undefined
//   any             as jco lifts it: int as    BigInt -> int, number -> float,
//                   BigInt, lists as typed     string -> text, arrays by their
//                   arrays (round trips keep   elements, handles by class
//                   their type)
//
// The declared output type decides how a JavaScript number goes back: `int`
// needs an integer, `float` takes any number; under `any` a number is a float.
//
// Host handles are the classes jco generates for the WIT resources, imported
// from `weavelet:node/types@0.4.0` and re-exported here: static functions
// (`Table.read(path)`, `Svg.chart(table, spec)`) and camelCase methods
// (`t.groupBy(keys, aggs)`, `t.head(n)`); records are objects with camelCase
// keys, enums are strings ('bar'), u64 arguments take a number or a BigInt,
// and a host error throws.
//
// `weavelet run` builds a `js = "folder"` component's `nodes.js` with `jco
// componentize --bundle`, `weavelet` resolving to this file: the bundler inlines it, and the WIT imports
// (`weavelet:node/...`) stay imports of the component. Do not minify: the
// input names are read from the functions' source text, once, at build time
// (the componentizer runs the module's top level and snapshots it).

import { Table, Svg, Image } from 'weavelet:node/types@0.4.0';
import { log as hostLog, progress as hostProgress } from 'weavelet:node/host@0.4.0';

export { Table, Svg, Image };

// ---------------------------------------------------------------- host calls

/** Append a line to the node's log; `level` is trace, debug, info, warn or error. */
export function log(level, message) {
  hostLog(level, String(message));
}

/** Log at info level. */
export const info = (message) => log('info', message);
/** Log at warning level. */
export const warn = (message) => log('warn', message);

/** Report progress: `done` of `total` units (`total` 0 when unknown). */
export function progress(done, total, message = '') {
  hostProgress(BigInt(done), BigInt(total), String(message));
}

/** A chart spec with the defaults of the Rust SDK's `chart_spec` (sizes 0: host defaults). */
export function chartSpec(kind, x, y, title = '', more = {}) {
  return { kind, x, y: [...y], title, xLabel: '', yLabel: '', width: 0, height: 0, bins: 0, ...more };
}

// ---------------------------------------------------------------- errors

/** Throw it from a node to report an input the node cannot work with. */
export class InvalidInput extends Error {
  constructor(input, message) {
    super(message);
    this.name = 'InvalidInput';
    this.input = input;
  }
}

/** The value-types of the WIT contract (`enum value-type`). */
const VALUE_TYPES = new Set([
  'any',
  'null',
  'bool',
  'int',
  'float',
  'text',
  'bytes',
  'bool-list',
  'int-list',
  'float-list',
  'text-list',
  'table',
  'svg',
  'image',
  'images',
]);

/**
 * Whether `e` is an Error. The errors jco's bindings throw for a host refusal
 * (`ComponentError`) come from another realm, where `instanceof Error` fails.
 */
function isError(e) {
  return e instanceof Error || Object.prototype.toString.call(e) === '[object Error]';
}

/** The name of a thrown value's type: `TypeError`, `RangeError`, `ComponentError` (a host refusal), ... */
function errorType(e) {
  if (e.name && e.name !== 'Error') return e.name;
  return e.constructor?.name || 'Error';
}

/** Any thrown value as a WIT `node-error` record. */
function toNodeError(e) {
  if (e instanceof InvalidInput) {
    return { kind: 'invalid-input', message: String(e.message), input: String(e.input) };
  }
  const message = isError(e) ? `${errorType(e)}: ${e.message}` : `thrown ${typeof e}: ${String(e)}`;
  return { kind: 'failed', message, input: undefined };
}

// ---------------------------------------------------------------- parameters

/**
 * The parameters of a function, from its source text: `[{ name, optional }]`.
 * Handles comments, default values (with nested brackets and strings), arrow
 * functions, async functions and methods. Destructured and rest parameters
 * have no name to bind, so they are refused.
 */
export function parseParams(fn) {
  const src = stripComments(Function.prototype.toString.call(fn));
  if (/^class\b/.test(src)) throw new TypeError('a node must be a function, not a class');
  let list;
  const open = src.indexOf('(');
  const arrow = src.indexOf('=>');
  if (arrow !== -1 && (open === -1 || open > arrow)) {
    // `x => ...` or `async x => ...`: a single bare parameter.
    list = src
      .slice(0, arrow)
      .trim()
      .replace(/^async\s+/, '');
  } else {
    if (open === -1) throw new TypeError(`cannot find the parameter list of ${src.slice(0, 40)}`);
    list = src.slice(open + 1, matchingParen(src, open));
  }
  return splitTopLevel(list).map((part) => {
    const p = part.trim();
    if (p.startsWith('{') || p.startsWith('[')) {
      throw new TypeError(
        `destructured parameter \`${p}\` has no name: each input is bound by its parameter name; ` +
          'take the whole value as a named parameter and destructure it in the body',
      );
    }
    if (p.startsWith('...')) {
      throw new TypeError(`rest parameter \`${p}\`: a node's inputs must be named one by one`);
    }
    const eq = p.indexOf('=');
    const name = (eq === -1 ? p : p.slice(0, eq)).trim();
    if (!/^[A-Za-z_$][\w$]*$/.test(name)) throw new TypeError(`cannot read parameter \`${p}\``);
    return { name, optional: eq !== -1 };
  });
}

/** Source text without comments (string and template literals kept as they are). */
function stripComments(src) {
  let out = '';
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === '"' || c === "'" || c === '`') {
      const end = skipString(src, i);
      out += src.slice(i, end);
      i = end - 1;
    } else if (c === '/' && src[i + 1] === '/') {
      while (i < src.length && src[i] !== '\n') i++;
      out += '\n';
    } else if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      i = end === -1 ? src.length : end + 1;
      out += ' ';
    } else {
      out += c;
    }
  }
  return out.trim();
}

/** The index just past the string literal starting at `i`. */
function skipString(src, i) {
  const quote = src[i];
  for (let j = i + 1; j < src.length; j++) {
    if (src[j] === '\\') j++;
    else if (src[j] === quote) return j + 1;
  }
  return src.length;
}

/** The index of the `)` that closes the `(` at `open`. */
function matchingParen(src, open) {
  let depth = 0;
  for (let i = open; i < src.length; i++) {
    const c = src[i];
    if (c === '"' || c === "'" || c === '`') i = skipString(src, i) - 1;
    else if ('([{'.includes(c)) depth++;
    else if (')]}'.includes(c) && --depth === 0) return i;
  }
  throw new TypeError('unbalanced parameter list');
}

/** Split at commas outside brackets and strings; empty parts (a trailing comma) dropped. */
function splitTopLevel(list) {
  const parts = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < list.length; i++) {
    const c = list[i];
    if (c === '"' || c === "'" || c === '`') i = skipString(list, i) - 1;
    else if ('([{'.includes(c)) depth++;
    else if (')]}'.includes(c)) depth--;
    else if (c === ',' && depth === 0) {
      parts.push(list.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(list.slice(start));
  return parts.filter((p) => p.trim() !== '');
}

// ---------------------------------------------------------------- declarations

/** `'region: text, revenue: number'` (or `{ region: 'text' }`) as WIT columns. */
function parseColumns(spec, what) {
  if (spec === undefined || spec === null) return [];
  if (typeof spec === 'object' && !Array.isArray(spec)) {
    return Object.entries(spec).map(([name, dtype]) => ({ name, dtype: String(dtype) }));
  }
  if (typeof spec !== 'string') throw new TypeError(`${what}: columns are a string such as 'region: text'`);
  return spec
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      const colon = s.indexOf(':');
      if (colon === -1) throw new TypeError(`${what}: column \`${s}\` needs a type ('name: type')`);
      return { name: s.slice(0, colon).trim(), dtype: s.slice(colon + 1).trim() };
    });
}

/** `{ readDir: '/data', writeDir, env, clock: true, random: true }` as WIT capabilities. */
function parseCapabilities(spec, what) {
  const caps = [];
  const tags = { readDir: 'read-dir', writeDir: 'write-dir', env: 'env' };
  for (const [key, value] of Object.entries(spec ?? {})) {
    if (key in tags) {
      for (const v of [].concat(value)) caps.push({ tag: tags[key], val: String(v) });
    } else if (key === 'clock' || key === 'random') {
      if (value) caps.push({ tag: key });
    } else {
      throw new TypeError(`${what}: unknown capability \`${key}\` (readDir, writeDir, env, clock, random)`);
    }
  }
  return caps;
}

function checkType(ty, what) {
  // The contract's name is `bool` (since WIT 0.4.0); JavaScript's own word is kept as a spelling of it.
  if (ty === 'boolean') return 'bool';
  if (!VALUE_TYPES.has(ty)) {
    throw new TypeError(`${what}: unknown type \`${ty}\` (one of ${[...VALUE_TYPES].join(', ')})`);
  }
  return ty;
}

const registry = [];

/**
 * Register `fn` as a node. Options (all optional):
 * `name` (default: the function's name), `doc`, `inputs` (`{ param: type }`,
 * default `any`), `output` (default `any`), `columns` (`{ param: 'col: type, ...' }`),
 * `outputColumns`, `capabilities`. Mistakes throw at load, so the build fails.
 */
export function node(fn, options = {}) {
  if (typeof fn !== 'function') throw new TypeError('weavelet.node: the first argument must be a function');
  const name = options.name ?? fn.name;
  if (!name) throw new TypeError('weavelet.node: an anonymous function needs `options.name`');
  const what = `node ${name}`;
  let params;
  try {
    params = parseParams(fn);
  } catch (e) {
    throw new TypeError(`${what}: ${e.message}`);
  }
  const known = new Set(params.map((p) => p.name));
  for (const key of ['inputs', 'columns']) {
    for (const input of Object.keys(options[key] ?? {})) {
      if (!known.has(input))
        throw new TypeError(`${what}: options.${key} names \`${input}\`, which is not a parameter`);
    }
  }
  const inputs = params.map((p) => {
    const ty = checkType(options.inputs?.[p.name] ?? 'any', `${what}, input ${p.name}`);
    const columns = parseColumns(options.columns?.[p.name], `${what}, input ${p.name}`);
    if (columns.length > 0 && ty !== 'table' && ty !== 'any') {
      throw new TypeError(`${what}: input ${p.name} is ${ty}; only a table input can require columns`);
    }
    return { name: p.name, ty, optional: p.optional, columns };
  });
  if (registry.some((d) => d.decl.name === name)) throw new TypeError(`${what}: registered twice`);
  const def = {
    fn,
    decl: {
      name,
      doc: String(options.doc ?? ''),
      inputs,
      output: checkType(options.output ?? 'any', `${what}, output`),
      outputColumns: parseColumns(options.outputColumns, `${what}, output`),
      capabilities: parseCapabilities(options.capabilities, what),
    },
  };
  registry.push(def);
  return def;
}

// ---------------------------------------------------------------- values

const isInt = (n) => typeof n === 'bigint' || Number.isInteger(n);
const isNum = (n) => typeof n === 'number' || typeof n === 'bigint';

/**
 * A WIT `value` (`{ tag, val }`) as the JavaScript value a node receives.
 * A declared `int` arrives as a number (refused beyond 2^53), an `int-list` as
 * an array of numbers, a `float-list` as an array. An `any` input arrives as
 * jco lifts it: ints as BigInt, lists as typed arrays, so that returning it
 * unchanged keeps its type.
 */
function fromValue(v, ty, input) {
  const bad = (msg) => new InvalidInput(input, msg);
  if (ty === 'any') return v.tag === 'null' ? null : v.val;
  if (v.tag !== ty) throw bad(`expected ${ty}, got ${v.tag}`);
  const safe = (b) => {
    const n = Number(b);
    if (!Number.isSafeInteger(n)) throw bad(`${b} does not fit a JavaScript number exactly`);
    return n;
  };
  switch (v.tag) {
    case 'null':
      return null;
    case 'int':
      return safe(v.val);
    case 'int-list':
      return Array.from(v.val, safe);
    case 'float-list':
      return Array.from(v.val);
    default:
      return v.val; // bool, float, text, bytes (Uint8Array), lists, handles
  }
}

/** What the node returned, as a WIT `value` of the declared output type. */
function toValue(x, ty) {
  const fail = (what) => new TypeError(`returned ${describe(x)}, but its output is ${ty}${what ? `: ${what}` : ''}`);
  const list = (check) => {
    if (!(Array.isArray(x) || ArrayBuffer.isView(x)) || !Array.prototype.every.call(x, check)) throw fail();
    return x;
  };
  switch (ty) {
    case 'any':
      return toValue(x, inferType(x));
    case 'null':
      if (x !== null && x !== undefined) throw fail();
      return { tag: 'null' };
    case 'bool':
      if (typeof x !== 'boolean') throw fail();
      return { tag: ty, val: x };
    case 'int':
      if (!isInt(x)) throw fail('not an integer');
      if (typeof x === 'number' && !Number.isSafeInteger(x)) throw fail('use a BigInt beyond 2^53');
      return { tag: ty, val: BigInt(x) };
    case 'float':
      if (!isNum(x)) throw fail();
      return { tag: ty, val: Number(x) };
    case 'text':
      if (typeof x !== 'string') throw fail();
      return { tag: ty, val: x };
    case 'bytes':
      if (x instanceof Uint8Array) return { tag: ty, val: x };
      if (x instanceof ArrayBuffer) return { tag: ty, val: new Uint8Array(x) };
      return { tag: ty, val: Uint8Array.from(list((b) => Number.isInteger(b) && b >= 0 && b < 256)) };
    case 'bool-list':
      return { tag: ty, val: Array.from(list((b) => typeof b === 'boolean')) };
    case 'int-list':
      return { tag: ty, val: BigInt64Array.from(list(isInt), (n) => BigInt(n)) };
    case 'float-list':
      return { tag: ty, val: Float64Array.from(list(isNum), Number) };
    case 'text-list':
      return { tag: ty, val: Array.from(list((s) => typeof s === 'string')) };
    case 'table':
      if (!(x instanceof Table)) throw fail();
      return { tag: ty, val: x };
    case 'svg':
      if (!(x instanceof Svg)) throw fail();
      return { tag: ty, val: x };
    case 'image':
      if (!(x instanceof Image)) throw fail();
      return { tag: ty, val: x };
    case 'images':
      return { tag: ty, val: Array.from(list((i) => i instanceof Image)) };
    default:
      throw fail('unknown type');
  }
}

/**
 * The type of an `any` output: BigInt → int, number → float (a JavaScript
 * number does not say whether it is an integer), arrays by their elements.
 */
function inferType(x) {
  if (x === null || x === undefined) return 'null';
  if (typeof x === 'boolean') return 'bool';
  if (typeof x === 'bigint') return 'int';
  if (typeof x === 'number') return 'float';
  if (typeof x === 'string') return 'text';
  if (x instanceof Uint8Array || x instanceof ArrayBuffer) return 'bytes';
  if (x instanceof BigInt64Array) return 'int-list';
  if (x instanceof Float64Array) return 'float-list';
  if (x instanceof Table) return 'table';
  if (x instanceof Svg) return 'svg';
  if (x instanceof Image) return 'image';
  if (Array.isArray(x) && x.length > 0) {
    if (x.every((e) => typeof e === 'boolean')) return 'bool-list';
    if (x.every((e) => typeof e === 'bigint')) return 'int-list';
    if (x.every(isNum)) return 'float-list';
    if (x.every((e) => typeof e === 'string')) return 'text-list';
    if (x.every((e) => e instanceof Image)) return 'images';
  }
  throw new TypeError(`returned ${describe(x)}, which has no Weavelet type; declare the output type`);
}

function describe(x) {
  if (x === null || x === undefined) return String(x);
  if (Array.isArray(x)) return `an array of ${x.length}`;
  if (typeof x === 'object') return `a ${x.constructor?.name ?? 'object'}`;
  return `${typeof x} ${typeof x === 'string' ? JSON.stringify(x.slice(0, 40)) : String(x)}`;
}

// ---------------------------------------------------------------- the export

/** Run one node: bind inputs by name, call it, convert what it returns. */
function runNode(def, inputs) {
  const byName = new Map(inputs);
  const args = def.decl.inputs.map((decl) => {
    const v = byName.get(decl.name);
    if (v === undefined || v.tag === 'null') {
      if (decl.optional) return undefined; // the parameter's default applies
      if (v === undefined) throw new InvalidInput(decl.name, 'the host did not pass this input');
      if (decl.ty !== 'any' && decl.ty !== 'null') throw new InvalidInput(decl.name, `expected ${decl.ty}, got null`);
      return null;
    }
    return fromValue(v, decl.ty, decl.name);
  });
  const out = def.fn(...args);
  if (out && typeof out.then === 'function') {
    // An async node (one that awaits `fetch`): componentize-js runs the event
    // loop until the promise settles, within the node's wall-time budget.
    return Promise.resolve(out).then((value) => toValue(value, def.decl.output));
  }
  return toValue(out, def.decl.output);
}

/**
 * An object to export as the WIT interface `node` (jco looks for an export
 * named `node` with functions `nodes` and `run`). Exports every registered
 * node, or only the node definitions given (what `node()` returns):
 * `export const node = weavelet.exportNodes();`.
 */
export function exportNodes(...defs) {
  const list = defs.length > 0 ? defs : registry; // the registry itself: nodes added later count
  return {
    nodes() {
      return list.map((d) => d.decl);
    },
    run(name, inputs) {
      const def = list.find((d) => d.decl.name === name);
      if (!def) {
        throw { kind: 'unknown-node', message: `this component has no node \`${name}\``, input: undefined };
      }
      try {
        const out = runNode(def, inputs);
        if (out instanceof Promise) {
          return out.catch((e) => {
            throw toNodeError(e);
          });
        }
        return out;
      } catch (e) {
        // jco turns a thrown plain object into `result::err`; an Error would trap.
        throw toNodeError(e);
      }
    },
  };
}

/**
 * Every registered node, ready to export under the name `node` without
 * clashing with the imported `node` function:
 * `export { allNodes as node } from 'weavelet';`.
 */
export const allNodes = exportNodes();
