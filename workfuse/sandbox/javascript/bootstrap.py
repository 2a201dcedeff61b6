"""The JavaScript run once in every new isolate, before any user code.

It removes what is not plain JavaScript (timers, weak references, shared memory,
WebAssembly, the legacy ``RegExp.$1`` statics), installs ``console`` and the runner
``__workfuse_run``, then freezes every intrinsic reachable from the global object and
the global object itself. The runner compiles user code as the body of a strict-mode
function (named :data:`SOURCE_NAME` in stack traces; at most
:data:`MAX_COMPILED_FUNCTIONS` kept), deep-freezes the input, bounds the logs and the
output, and answers with one JSON envelope. ``LINE_OFFSET`` and ``MAX_COMPILED`` in the
source are replaced when an isolate is made.
"""

from __future__ import annotations

MAX_COMPILED_FUNCTIONS = 256  #: compiled code strings kept per isolate
SOURCE_NAME = "transform.js"  #: how stack traces name the user's code

#: ``new Function`` puts two lines before the body and the body starts with our
#: ``"use strict";`` line, so the user's line 1 is line 4 of the compiled source.
_LINE_OFFSET = 3

# Runs once per isolate, before any user code. Everything the runner needs is captured
# here, so user code cannot replace it; afterwards every reachable intrinsic and the
# global object are frozen.
_BOOTSTRAP_JS = r"""
(function () {
  "use strict";
  const G = globalThis;
  const O = Object;
  const freeze = O.freeze, isFrozen = O.isFrozen, getProto = O.getPrototypeOf;
  const defineProperty = O.defineProperty, getOwnDesc = O.getOwnPropertyDescriptor;
  const ownKeys = Reflect.ownKeys, apply = Reflect.apply;
  const bind = Function.prototype.bind;
  // What user code can reach of ours is bound: its source reads "[native code]".
  const opaque = (fn) => apply(bind, fn, [undefined]);
  const hasOwn = O.hasOwn;
  const JSONparse = JSON.parse, JSONstringify = JSON.stringify;
  const FunctionCtor = Function, SyntaxErrorCtor = SyntaxError, TypeErrorCtor = TypeError;
  const ErrorCtor = Error, StringCtor = String, PromiseCtor = Promise;
  const MapCtor = Map, SetCtor = Set, WeakMapCtor = WeakMap, WeakSetCtor = WeakSet;
  const isArray = Array.isArray;
  const mapGet = Map.prototype.get, mapSet = Map.prototype.set;
  const mapDelete = Map.prototype.delete, mapKeys = Map.prototype.keys;
  const mapSize = getOwnDesc(Map.prototype, "size").get;
  const iterNext = getProto([].values()).next;
  const push = Array.prototype.push, join = Array.prototype.join;
  const slice = String.prototype.slice;
  const regexpExec = RegExp.prototype.exec;
  const objectToString = O.prototype.toString;
  const SOURCE_RE = /transform\.js:(\d+):(\d+)/;

  // 1. Nothing asynchronous or host-like: timers (mini-racer's), weak references and
  //    their callbacks, shared memory, WebAssembly (off-heap memory, async compile).
  for (const name of ["setTimeout", "clearTimeout", "__timer_manager", "WeakRef",
                      "FinalizationRegistry", "SharedArrayBuffer", "Atomics",
                      "WebAssembly"]) {
    if (!Reflect.deleteProperty(G, name)) G[name] = undefined;
  }
  // 2. RegExp.$1, RegExp.lastMatch... remember the last match of any call.
  for (const name of ["$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9", "input", "$_",
                      "lastMatch", "$&", "lastParen", "$+", "leftContext", "$`",
                      "rightContext", "$'"]) {
    Reflect.deleteProperty(RegExp, name);
  }

  // 3. console: one global object writing into the current call's log.
  let logs = null, dropped = 0, maxLines = 0, maxChars = 0;
  function format(value) {
    try {
      if (typeof value === "string") return value;
      if (value instanceof ErrorCtor) return StringCtor(value.stack || value);
      if (typeof value === "object" && value !== null) {
        const text = JSONstringify(value);
        if (text !== undefined) return text;
      }
      return StringCtor(value);
    } catch (e) {
      try { return apply(objectToString, value, []); } catch (e2) { return "[value]"; }
    }
  }
  function writer(prefix) {
    return opaque(function () {
      if (logs === null) return;
      if (logs.length >= maxLines) { dropped++; return; }
      const parts = [];
      for (let i = 0; i < arguments.length; i++) apply(push, parts, [format(arguments[i])]);
      let line = prefix + apply(join, parts, [" "]);
      if (line.length > maxChars) {
        line = apply(slice, line, [0, maxChars]) + " [truncated]";
      }
      apply(push, logs, [line]);
    });
  }
  const consoleObject = {
    log: writer(""), info: writer(""), debug: writer(""),
    warn: writer("[warn] "), error: writer("[error] "),
  };

  // 4. Assigning an inherited data property of a frozen prototype would throw ("the
  //    override mistake"); for the usual ones, an accessor defines an own property.
  function enableOverride(obj, name) {
    const desc = getOwnDesc(obj, name);
    if (!desc || !("value" in desc) || !desc.configurable) return;
    const value = desc.value;
    defineProperty(obj, name, {
      get: opaque(function () { return value; }),
      set: function (newValue) {
        if (this === obj) {
          throw new TypeErrorCtor("Cannot assign to read only property '" + StringCtor(name) +
                                  "' of a built-in prototype");
        }
        if (hasOwn(this, name)) { this[name] = newValue; return; }
        defineProperty(this, name,
                       { value: newValue, writable: true, enumerable: true, configurable: true });
      },
      enumerable: desc.enumerable,
      configurable: false,
    });
  }
  for (const name of ["constructor", "toString", "valueOf", "toLocaleString",
                      "hasOwnProperty", "isPrototypeOf", "propertyIsEnumerable"]) {
    enableOverride(O.prototype, name);
  }
  for (const E of [Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError,
                   URIError, AggregateError]) {
    for (const name of ["name", "message", "toString", "constructor"]) {
      enableOverride(E.prototype, name);
    }
  }
  enableOverride(Function.prototype, "toString");

  // 5. The runner.
  const compiled = new MapCtor();
  let busy = false;

  function errorInfo(error) {
    let message, name = "Error", stack = "";
    try {
      if (error instanceof ErrorCtor) {
        name = StringCtor(error.name);
        message = StringCtor(error.message);
        stack = StringCtor(error.stack);
      } else {
        message = StringCtor(error);
        name = "Uncaught";
      }
    } catch (e) {
      message = "an exception that cannot be printed";
    }
    const info = { name: name, message: message };
    try {
      const m = apply(regexpExec, SOURCE_RE, [stack]);
      if (m !== null) { info.line = +m[1] - LINE_OFFSET; info.column = +m[2]; }
    } catch (e) {}
    return info;
  }

  function where(key) {
    return key === "" ? "the result" : "the value at key " + JSONstringify(StringCtor(key));
  }
  function refuse(key, what) {
    throw new TypeErrorCtor(where(key) + " is " + what);
  }
  function replacer(key, value) {
    const t = typeof value;
    if (t === "function") refuse(key, "a function");
    if (t === "symbol") refuse(key, "a symbol");
    if (t === "bigint") refuse(key, "a BigInt (convert it with Number() or String())");
    if (t === "object" && value !== null) {
      if (value instanceof PromiseCtor) {
        refuse(key, "a Promise (asynchronous code is not supported: return a plain value)");
      }
      if (value instanceof MapCtor) refuse(key, "a Map (convert it with Object.fromEntries())");
      if (value instanceof SetCtor) refuse(key, "a Set (convert it with Array.from())");
      if (value instanceof WeakMapCtor || value instanceof WeakSetCtor) {
        refuse(key, "a WeakMap or WeakSet");
      }
    }
    return value;
  }

  function deepFreeze(root) {
    const stack = [root];
    while (stack.length > 0) {
      const value = stack.pop();
      if (typeof value !== "object" || value === null) continue;
      freeze(value);
      if (isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const item = value[i];
          if (typeof item === "object" && item !== null) apply(push, stack, [item]);
        }
      } else {
        for (const key in value) {
          const item = value[key];
          if (typeof item === "object" && item !== null) apply(push, stack, [item]);
        }
      }
    }
    return root;
  }

  function compile(code) {
    let fn = apply(mapGet, compiled, [code]);
    if (fn !== undefined) return fn;
    fn = new FunctionCtor("nodes", "trigger", "env",
                          '"use strict";\n' + code + "\n//# sourceURL=transform.js");
    freeze(fn.prototype);
    freeze(fn);
    if (apply(mapSize, compiled, []) >= MAX_COMPILED) {
      const oldest = apply(iterNext, apply(mapKeys, compiled, []), []).value;
      apply(mapDelete, compiled, [oldest]);
    }
    apply(mapSet, compiled, [code, fn]);
    return fn;
  }

  function finish(envelope) {
    if (dropped > 0) apply(push, logs, ["[" + dropped + " more log lines dropped]"]);
    envelope.logs = logs;
    return JSONstringify(envelope);
  }

  function run(code, inputJson, lineLimit, charLimit, outputLimit) {
    if (busy) throw new ErrorCtor("the transform runner is not re-entrant");
    busy = true;
    logs = []; dropped = 0; maxLines = lineLimit; maxChars = charLimit;
    try {
      let fn;
      try {
        fn = compile(code);
      } catch (error) {
        const info = errorInfo(error);
        info.ok = false;
        info.kind = error instanceof SyntaxErrorCtor ? "syntax" : "error";
        return finish(info);
      }
      const input = deepFreeze(JSONparse(inputJson));
      let result;
      try {
        result = fn(input.nodes, input.trigger, input.env);
      } catch (error) {
        const info = errorInfo(error);
        info.ok = false;
        info.kind = "error";
        return finish(info);
      }
      if (result === undefined) return finish({ ok: true, undefined: true });
      let json;
      try {
        json = JSONstringify(result, replacer);
      } catch (error) {
        const reason = errorInfo(error).message;
        return finish({ ok: false, kind: "invalid_result",
                        message: "the result cannot be turned into JSON: " + reason });
      }
      if (json === undefined) return finish({ ok: true, undefined: true });
      if (json.length > outputLimit) {
        return finish({ ok: false, kind: "output_too_large",
                        message: "the result is too large: " + json.length +
                                 " characters as JSON (the limit is " + outputLimit + ")" });
      }
      const head = finish({ ok: true });
      return apply(slice, head, [0, head.length - 1]) + ',"result":' + json + "}";
    } finally {
      logs = null;
      busy = false;
    }
  }

  const fixed = { writable: false, enumerable: false, configurable: false };
  defineProperty(G, "console", O.assign({ value: consoleObject }, fixed));
  defineProperty(G, "__workfuse_run", O.assign({ value: opaque(run) }, fixed));

  // 6. Freeze every intrinsic reachable from the global object, plus the hidden ones
  //    only reachable through syntax or instances, then the global object itself.
  const hidden = [
    getProto(function* () {}), getProto(async function () {}),
    getProto(async function* () {}), getProto(async () => {}),
    getProto([][Symbol.iterator]()), getProto(new Map()[Symbol.iterator]()),
    getProto(new Set()[Symbol.iterator]()), getProto(""[Symbol.iterator]()),
    getProto(/x/[Symbol.matchAll]("")), getProto((function* () {})()),
    getProto((async function* () {})()),
    (function () { return getOwnDesc(arguments, "callee").get; })(),
  ];
  try { hidden.push(getProto(Iterator.from({ next() { return { done: true }; } }))); } catch (e) {}
  try { hidden.push(getProto([].values().map((x) => x))); } catch (e) {}
  try {
    const segments = new Intl.Segmenter().segment("");
    hidden.push(getProto(segments), getProto(segments[Symbol.iterator]()));
  } catch (e) {}
  const seen = new WeakSetCtor();
  const todo = [G, consoleObject, run, compiled].concat(hidden);
  const unfrozen = [];
  while (todo.length > 0) {
    const value = todo.pop();
    if ((typeof value !== "object" && typeof value !== "function") || value === null) continue;
    if (seen.has(value)) continue;
    seen.add(value);
    if (value === compiled) continue;  // the runner's own cache: private to this closure
    todo.push(getProto(value));
    for (const key of ownKeys(value)) {
      const desc = getOwnDesc(value, key);
      if (desc === undefined) continue;
      if ("value" in desc) todo.push(desc.value); else todo.push(desc.get, desc.set);
    }
    try { freeze(value); } catch (e) {}
    if (!isFrozen(value)) unfrozen.push(StringCtor(value));
  }
  return unfrozen;
})()
"""
