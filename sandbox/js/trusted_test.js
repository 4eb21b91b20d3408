// The trusted test process for JavaScript test code (after sandbox/js/values.js). It runs in
// its own Node, never forked from anything the program touched, and holds the only descriptor
// a verdict can be written to. The program's functions are proxies here: arguments go out and
// results come back as data, rebuilt as fresh builtin values, so every comparison and the
// pass/fail decision happen in this process with pristine builtins.
(() => {
  const fs = require('fs');
  const vm = require('vm');
  const TO_PROGRAM = 3, FROM_PROGRAM = 4, VERDICT = 5, TEST = 6;
  const test = JSON.parse(fs.readFileSync(TEST, 'utf8'));
  fs.closeSync(TEST);
  let verdict = null;
  const decide = (passed, reason) => {
    if (verdict !== null) return;
    verdict = {passed, reason: reason === undefined ? null : String(reason).slice(0, 500)};
    fs.writeSync(VERDICT, JSON.stringify(verdict));
  };
  class ProgramGone extends Error {}
  const ask = (request) => {
    try {
      __refereeValues.send(TO_PROGRAM, request);
    } catch (err) {
      if (err && err.code === 'EPIPE') throw new ProgramGone('the program exited during the tests');
      throw err;
    }
    const reply = __refereeValues.recv(FROM_PROGRAM);
    if (reply === null) throw new ProgramGone('the program exited during the tests');
    return reply;
  };
  const where = (err) => {
    const match = /test\.js:(\d+)/.exec(String(err && err.stack));
    return match ? ` (test line ${match[1]})` : '';
  };
  const fail = (err) => {
    if (err instanceof ProgramGone) return decide(false, err.message);
    if (err && err.refereeAssertion) return decide(false, `assertion failed${err.message ? ': ' + err.message : ''}${where(err)}`);
    let text;
    try { text = `${err && err.name || 'Error'}: ${err && err.message}`; } catch (_) { text = 'an exception'; }
    decide(false, `the test raised ${text}${where(err)}`);
  };
  const failAndExit = (err) => { fail(err); process.exit(0); };
  process.on('uncaughtException', failAndExit);
  process.on('unhandledRejection', failAndExit);
  process.on('exit', (code) => decide(code === 0, code === 0 ? undefined : `the test exited with status ${code}`));

  // Names the test uses that the program may define; never the test's own builtins.
  const reserved = new Set(['require', 'module', 'exports', '__filename', '__dirname', 'arguments', '__refereeValues',
    '__refereeProgram', ...('break case catch class const continue debugger default delete do else enum export extends ' +
    'false finally for function if import in instanceof new null return super switch this throw true try typeof var ' +
    'void while with yield let static implements interface package private protected public await eval').split(' ')]);
  const names = test.names.filter((name) => !reserved.has(name) && !(name in globalThis));
  let hello;
  try {
    hello = ask({op: 'names', names});
    if (!hello || !Array.isArray(hello.functions) || !Array.isArray(hello.values)) throw new TypeError('no list of names');
  } catch (err) {
    decide(false, err instanceof ProgramGone ? 'the program exited before the tests started' : `the program's answer was malformed: ${err.message}`);
    process.exit(0);
  }
  // Only names the test asked about: a program cannot put its own `isNaN` into the test's scope.
  const asked = new Set(names);
  const bindings = {};
  for (const name of hello.functions.filter((item) => asked.has(item))) {
    bindings[name] = (...args) => {
      let reply;
      try {
        reply = ask({op: 'call', name, args: args.map((arg) => __refereeValues.encode(arg))});
      } catch (err) {
        if (err instanceof __refereeValues.NotData) throw new TypeError(`cannot pass ${err.message} to the program's ${name}`);
        throw err;
      }
      if ('error' in reply) throw __refereeValues.rebuildError(reply.error);
      return __refereeValues.decode(reply.value);
    };
  }
  for (const entry of hello.values) {
    if (Array.isArray(entry) && asked.has(entry[0]) && !(entry[0] in bindings)) bindings[entry[0]] = __refereeValues.decode(entry[1]);
  }

  // console.assert only prints in Node; in test code it fails the test, as an assertion does.
  const assert = (condition, ...message) => {
    if (!condition) {
      const err = new Error(message.map(String).join(' '));
      err.refereeAssertion = true;
      throw err;
    }
  };
  const testConsole = Object.assign(Object.create(console), {assert});
  const declared = Object.keys(bindings);
  const source = `(function (__refereeProgram) {\nconst {${declared.join(', ')}} = __refereeProgram;\n` +
    `return function (require, console) {\n${test.script}\n}; })`;
  try {
    vm.runInThisContext(source, {filename: 'test.js', lineOffset: -3})(bindings)(require, testConsole);
  } catch (err) {
    fail(err);
    process.exit(0);
  }
})();
