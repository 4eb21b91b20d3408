// Values as data between the JavaScript program process and the trusted test process (see
// sandbox/testcode.py). Length-prefixed JSON frames on blocking pipes, read synchronously; values
// are rebuilt from tags as fresh builtin objects, so nothing of the program's objects (getters,
// prototypes, toJSON, valueOf) reaches the test. Anything that is not data is refused by name.
const __refereeValues = (() => {
  const fs = require('fs');
  const MAX_FRAME = 64 << 20;
  const MAX_DEPTH = 2000;

  class NotData extends TypeError {}

  const encode = (value, depth = 0, seen = new Set()) => {
    if (depth > MAX_DEPTH) throw new NotData(`a value nested deeper than ${MAX_DEPTH}`);
    if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
    if (typeof value === 'number') {
      if (Number.isFinite(value) && !Object.is(value, -0)) return value;
      return {$: 'num', v: Object.is(value, -0) ? '-0' : String(value)};
    }
    if (value === undefined) return {$: 'undef'};
    if (typeof value === 'bigint') return {$: 'bigint', v: value.toString()};
    if (typeof value !== 'object') throw new NotData(`a ${typeof value}`);
    if (seen.has(value)) throw new NotData('a value that contains itself');
    seen.add(value);
    try {
      const proto = Object.getPrototypeOf(value);
      const inner = (item) => encode(item, depth + 1, seen);
      if (Array.isArray(value) && proto === Array.prototype) {
        const items = [];
        for (let i = 0; i < value.length; i++) items.push(inner(value[i]));
        return {$: 'arr', v: items};
      }
      if (proto === Object.prototype || proto === null) {
        return {$: 'obj', v: Object.keys(value).map((key) => [key, inner(value[key])])};
      }
      if (proto === Map.prototype) return {$: 'map', v: [...Map.prototype.entries.call(value)].map(([k, v]) => [inner(k), inner(v)])};
      if (proto === Set.prototype) return {$: 'set', v: [...Set.prototype.values.call(value)].map(inner)};
      if (proto === Date.prototype) return {$: 'date', v: Date.prototype.getTime.call(value)};
      const name = proto && proto.constructor && typeof proto.constructor.name === 'string' ? proto.constructor.name : 'object';
      throw new NotData(`an object of class ${name || 'object'}`);
    } finally {
      seen.delete(value);
    }
  };

  const NUMBERS = {'NaN': NaN, 'Infinity': Infinity, '-Infinity': -Infinity, '-0': -0};
  const decode = (data) => {
    if (data === null || typeof data !== 'object') return data;
    switch (data.$) {
      case 'num': return NUMBERS[data.v];
      case 'undef': return undefined;
      case 'bigint': return BigInt(data.v);
      case 'arr': return data.v.map(decode);
      case 'obj': {
        const out = {};
        for (const [key, item] of data.v) Object.defineProperty(out, key, {value: decode(item), writable: true, enumerable: true, configurable: true});
        return out;
      }
      case 'map': return new Map(data.v.map(([k, v]) => [decode(k), decode(v)]));
      case 'set': return new Set(data.v.map(decode));
      case 'date': return new Date(data.v);
      default: throw new TypeError('malformed value from the other process');
    }
  };

  const ERRORS = {Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError};
  const describeError = (err) => {
    try {
      if (err instanceof Error) return {name: String(err.name), message: String(err.message)};
      return {name: 'Error', message: `a thrown ${typeof err}: ${String(err)}`};
    } catch (_) {
      return {name: 'Error', message: 'an exception that cannot be described'};
    }
  };
  const rebuildError = ({name, message}) => {
    const Kind = Object.prototype.hasOwnProperty.call(ERRORS, name) ? ERRORS[name] : Error;
    const err = new Kind(String(message));
    if (!(name in ERRORS)) err.name = String(name);
    return err;
  };

  const readExact = (fd, n) => {
    const buf = Buffer.alloc(n);
    let got = 0;
    while (got < n) {
      let r;
      try {
        r = fs.readSync(fd, buf, got, n - got, null);
      } catch (err) {
        if (err.code === 'EAGAIN') { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1); continue; }
        if (err.code === 'EOF') return null;
        throw err;
      }
      if (r === 0) return null;
      got += r;
    }
    return buf;
  };
  const recv = (fd) => {
    const head = readExact(fd, 4);
    if (head === null) return null;
    const size = head.readUInt32BE(0);
    if (size > MAX_FRAME) throw new RangeError(`a message of ${size} bytes is over ${MAX_FRAME}`);
    const body = readExact(fd, size);
    return body === null ? null : JSON.parse(body.toString('utf8'));
  };
  const send = (fd, obj) => {
    const body = Buffer.from(JSON.stringify(obj), 'utf8');
    if (body.length > MAX_FRAME) throw new RangeError(`a message of ${body.length} bytes is over ${MAX_FRAME}`);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(body.length, 0);
    const frame = Buffer.concat([head, body]);
    let sent = 0;
    while (sent < frame.length) {
      try {
        sent += fs.writeSync(fd, frame, sent, frame.length - sent);
      } catch (err) {
        if (err.code === 'EAGAIN') { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1); continue; }
        throw err;
      }
    }
  };
  return {NotData, encode, decode, describeError, rebuildError, recv, send};
})();
