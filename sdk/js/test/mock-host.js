// Stand-ins for the host's interfaces, shaped as jco binds them: resources are
// classes with static constructors; a host refusal (`result::err`) throws.
export const calls = [];

export class Table {
  constructor(rows) {
    this.rows = rows;
  }
  static read(path) {
    calls.push(['table.read', path]);
    return new Table([
      { region: 'north', revenue: 10 },
      { region: 'south', revenue: 20 },
    ]);
  }
  head(n) {
    if (typeof n !== 'bigint' && !Number.isInteger(n)) throw new TypeError('head takes a u64');
    if (BigInt(n) < 0n) throw Object.assign(new Error('n must not be negative'), { payload: 'n must not be negative' });
    return new Table(this.rows.slice(0, Number(n)));
  }
}

export class Svg {
  constructor(spec) {
    this.spec = spec;
  }
  static chart(data, spec) {
    calls.push(['svg.chart', spec]);
    return new Svg(spec);
  }
}

export class Image {}

export function log(level, message) {
  calls.push(['log', level, message]);
}

export function progress(done, total, message) {
  calls.push(['progress', done, total, message]);
}
