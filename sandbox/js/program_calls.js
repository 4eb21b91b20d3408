// Appended to the program (inside a block, after sandbox/js/values.js, with `lookup` bound to a
// direct `eval` of a name in the program's top-level scope). Runs in the program's process and
// only answers: "which of these names do you define", "call this function with these arguments".
// Whatever it answers is data, judged by the test process.
((lookup) => {
  const CALLS_IN = 3, RESULTS_OUT = 5;
  const NAME = /^[A-Za-z_$][\w$]*$/;
  for (;;) {
    const request = __refereeValues.recv(CALLS_IN);
    if (request === null) break;  // the test is over
    let reply;
    if (request.op === 'names') {
      const functions = [];
      const values = [];
      for (const name of request.names) {
        if (!NAME.test(name)) continue;
        let found;
        try { found = lookup(name); } catch (_) { continue; }  // not defined by the program
        if (typeof found === 'function') functions.push(name);
        else { try { values.push([name, __refereeValues.encode(found)]); } catch (_) { /* not data: not shared */ } }
      }
      reply = {functions, values};
    } else if (request.op === 'call') {
      try {
        const fn = lookup(request.name);
        const result = fn(...request.args.map(__refereeValues.decode));
        try {
          reply = {value: __refereeValues.encode(result)};
        } catch (err) {
          reply = {error: {name: 'TypeError', message: `${request.name} returned ${err.message}, which is not data`}};
        }
      } catch (err) {
        reply = {error: __refereeValues.describeError(err)};
      }
    } else {
      break;
    }
    __refereeValues.send(RESULTS_OUT, reply);
  }
})
