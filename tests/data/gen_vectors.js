// Captures golden vectors from the Node reference for tests/test_eio_*.c and
// tests/test_sio_*.c. Not part of the build; regenerate with:
//
//   mkdir -p /tmp/noderef && cd /tmp/noderef && npm init -y >/dev/null &&
//   npm install socket.io-parser@4 engine.io-parser@5
//   NODE_PATH=/tmp/noderef/node_modules node tests/data/gen_vectors.js sio \
//     > tests/data/sio_packet_vectors.txt
//   NODE_PATH=/tmp/noderef/node_modules node tests/data/gen_vectors.js eio \
//     > tests/data/eio_vectors.txt
//
// (captured with socket.io-parser 4.2.7 and engine.io-parser 5.2.3, the
// versions socket.io 4.8 depends on, under Node 20).
//
// Line format: a tag, then TAB-separated fields. Bytes below 0x20, 0x7f and
// '\' are written as \xHH; everything else (UTF-8 included) is raw. A field
// "-" means "absent". Lines starting with '#' are comments.
"use strict";
const { Encoder, Decoder } = require("socket.io-parser");
const eio = require("engine.io-parser");

function esc(s) {
  let o = "";
  for (const ch of s) {
    const c = ch.codePointAt(0);
    if (c < 0x20 || c === 0x7f || ch === "\\")
      o += "\\x" + c.toString(16).padStart(2, "0");
    else o += ch;
  }
  return o;
}
function hex(buf) {
  return Buffer.from(buf).toString("hex") || "-";
}
function version(name) {
  const path = require("path");
  let d = path.dirname(require.resolve(name));
  while (!require("fs").existsSync(path.join(d, "package.json")) ||
    !JSON.parse(require("fs").readFileSync(path.join(d, "package.json"))).version)
    d = path.dirname(d);
  return JSON.parse(require("fs").readFileSync(path.join(d, "package.json"))).version;
}
const out = [];
const line = (...f) => out.push(f.join("\t"));

function sio() {
  const enc = new Encoder();
  line("# socket.io-parser " + version("socket.io-parser"));
  line("# E type nsp id nattach data encoded: Encoder.encode() output");
  const U = "é😀中文 \u2028\u2029\u00a0\uffff\u{10ffff}";
  const CTRL = '"\\/\b\f\n\r\t\u0000\u0001\u001f\u007f';
  const pk = [
    { type: 0, nsp: "/" },
    { type: 0, nsp: "/admin", data: { sid: "oSO0OpakMV_3jnilAAAA" } },
    { type: 0, nsp: "/", data: { token: "abc.def.ghi" } },
    { type: 0, nsp: "/a-b_c.d~", data: {} },
    { type: 0, nsp: "/ünï", data: { pid: "x", offset: "y" } },
    { type: 1, nsp: "/" },
    { type: 1, nsp: "/admin" },
    { type: 4, nsp: "/", data: { message: "Not authorized" } },
    { type: 4, nsp: "/admin",
      data: { message: "unauthorized", data: { code: "invalid_token" } } },
    { type: 4, nsp: "/", data: "Invalid namespace" },
    { type: 2, nsp: "/", data: ["foo"] },
    { type: 2, nsp: "/admin", data: ["bar"] },
    { type: 2, nsp: "/", data: ["foo"], id: 12 },
    { type: 2, nsp: "/", data: ["foo"], id: 0 },
    { type: 2, nsp: "/x", data: ["foo", 1, true, false, null], id: 9007199254740991 },
    { type: 2, nsp: "/", data: [U, CTRL] },
    { type: 2, nsp: "/", data: [1, "numeric event"] },
    { type: 2, nsp: "/", data: ["n", 0, -1, 1.5, 0.1, 0.30000000000000004,
        1e21, 1e20, 1e-7, 1e-6, 123456789, -0.000001, 2 ** 53, -(2 ** 53) + 1,
        5e-324, 1.7976931348623157e308, 2.2250738585072014e-308, 1 / 3,
        -1e-300, 12345678.9] },
    { type: 2, nsp: "/", data: ["o", { b: 1, a: [1, [2, [3, {}]]], "": "",
        "k\"ey": "v", "9": 0, "10": 1, "01": 2 }] },
    { type: 2, nsp: "/", data: ["room:join", { room: "project:42" }] },
    { type: 3, nsp: "/admin", data: ["bar"], id: 13 },
    { type: 3, nsp: "/", data: [], id: 0 },
    { type: 3, nsp: "/", data: [{ ok: true, rooms: ["user:1", "global"] }], id: 7 },
    { type: 2, nsp: "/", data: ["baz", Buffer.from([1, 2, 3, 4])] },
    { type: 2, nsp: "/admin",
      data: ["baz", Buffer.from([1, 2]), { x: Buffer.from([3, 4]) }], id: 5 },
    { type: 3, nsp: "/", data: ["bar", Buffer.from([1, 2, 3, 4])], id: 15 },
    { type: 3, nsp: "/n", data: [[Buffer.alloc(0)], Buffer.from("hi")], id: 1 },
  ];
  for (const p of pk) {
    // encode() turns an EVENT/ACK holding Buffers into BINARY_EVENT/ACK
    const parts = enc.encode(Object.assign({}, p));
    const s = parts[0];
    const d = new Decoder().decodeString(s);
    line("E", d.type, p.nsp, d.id === undefined ? -1 : d.id,
      d.attachments || 0, d.data === undefined ? "-" : esc(JSON.stringify(d.data)),
      esc(s));
  }

  line("# R input JSON.stringify(JSON.parse(input))");
  const rj = [
    ' { "b" : 1 , "a" : [ 1 , 2 ] , "1" : 3 , "0" : 4 } ',
    '{"b":1,"4294967295":2,"4294967294":3,"01":4,"-1":5,"2":6,"b":7}',
    '["\\u00e9\\ud83d\\ude00\\u4e2d\\/\\"\\\\\\b\\f\\n\\r\\t\\u0000\\u001F\\u007f"]',
    '["\\ud800", "a\\udc00b", "\\udbff\\udfff", "\\ud83d"]',
    '["\\u2028\\u2029"]',
    // (integers past 2^53 are left out: JavaScript rounds them, we keep
    // every int64 exact; see test_sio_packet.c numbers_as_written)
    '[1, -0, 0, 1234567890123456, -9007199254740991, 100000000000000000000]',
    '[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]',
    '{"a":{"b":{"c":{"d":[null,true,false,"x"]}}}}',
    '{"__proto__":1,"constructor":2}',
    '"just a string"',
    '{}', '[]', '[{}]', '[[]]',
  ];
  for (const s of rj) line("R", esc(s), esc(JSON.stringify(JSON.parse(s))));

  line("# D ieee754-bits-hex JSON.stringify(number)");
  const ds = [0.1, 0.2, 0.30000000000000004, 1 / 3, 2 / 3, 1e21, 1e20, 9.999999999999999e20,
    1e-6, 1e-7, 1.5e-7, 5e-324, 1.7976931348623157e308, 2.2250738585072014e-308,
    2.225073858507201e-308, -1.5, 123e-20, 2 ** 53 + 2, 1.5e300, 123.456, 100, 1e15,
    1e16, 1e17, 4.35, 0.000001234, 1234567890123456789, -0, 0, 9007199254740993,
    Math.PI, Math.E, 1e-10, 1e23, 8.41e21, 5e-7, 1.2e-6];
  // every power of two (where the rounding interval is asymmetric)
  for (let e = -1074; e <= 1023; e++) ds.push(Math.pow(2, e));
  // pseudo-random bit patterns (fixed seed) and pseudo-random decimals
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const b = Buffer.alloc(8);
  for (let i = 0; i < 400; i++) {
    b.writeUInt32BE(Math.floor(rnd() * 4294967296), 0);
    b.writeUInt32BE(Math.floor(rnd() * 4294967296), 4);
    const x = b.readDoubleBE(0);
    if (Number.isFinite(x)) ds.push(x);
  }
  for (let i = 0; i < 200; i++)
    ds.push(Number((rnd() * 10 ** Math.floor(rnd() * 30 - 15)).toPrecision(1 + Math.floor(rnd() * 17))));
  for (const x of ds) {
    b.writeDoubleBE(x, 0);
    line("D", b.toString("hex"), JSON.stringify(x));
  }

  line("# S utf8-bytes-hex JSON.stringify(string)");
  let all = "";
  for (let c = 0; c < 0x80; c++) all += String.fromCharCode(c);
  for (const s of [all, "", "é", "😀", "\u2028", "\uffff", "\u{10ffff}", "a\u0000b",
    "\ud7ff\ue000", "\u0080\u07ff\u0800"])
    line("S", hex(Buffer.from(s, "utf8")), esc(JSON.stringify(s)));

  line("# P text result: Decoder#decodeString(); result is ERR, or");
  line("# STRICT (the reference accepts it, we reject on purpose), or");
  line("# OK type nsp id nattach data");
  const strict = new Set(["", " ", "2", "3", "31", "2/admin", "2/admin,",
    "2/admin,1", "2 [\"a\"]", "0 {}", "6 1-[]", "5 1-[\"a\"]",
    "51.0-[\"a\"]", "51-", "51-/a,",
    "2[\"a\"," + "[".repeat(32) + "]".repeat(32) + "]"]);
  const dec = [
    "", " ", "0", "0/random", "0/admin,", "0/admin,{\"token\":\"x\"}",
    "0{\"token\":\"x\"}", "0/,{}", "0{}", "0[]", "0\"x\"", "0null", "0 {}",
    "1", "1/a,", "1{}", "1/a,{}", "1null",
    "2[\"foo\"]", "2/admin,[\"bar\"]", "212[\"foo\"]", "2/admin,13[\"bar\"]",
    "2007[\"x\"]", "2", "3", "31", "31[]", "2/admin", "2/admin,", "2/admin,1",
    "2/admin,1[\"a\"]", "2 [\"a\"]", "2[\"a\"] ", " 2[\"a\"]", "2[\"a\"]\t\n\r",
    "abc", "2{}", "2[]", "2[null]", "2[1]", "2[1.5,2]", "2[true]", "2[[\"a\"]]",
    "2[\"connect\"]", "2[\"connect_error\"]", "2[\"disconnect\"]",
    "2[\"disconnecting\"]", "2[\"newListener\"]", "2[\"removeListener\"]",
    "2[\"connect \"]", "2[\"Connect\"]",
    "2abc[\"x\"]", "2/admin,x[\"a\"]", "2[\"a\"]x", "2[\"a\",]", "2[\"a\",01]",
    "2[\"a\",NaN]", "2[\"a\",Infinity]", "2[\"a\",1.]", "2[\"a\",.5]",
    "2[\"a\",+1]", "2[\"a\",'b']", "2[\"a\" \"b\"]", "2[\"a\t\"]",
    "2[\"\\x41\"]", "2[\"\\u12\"]", "2[\"a\",-]", "2[\"a\",1e]", "2[\"a\",tru]",
    "2[\"a\"", "2[\"a", "2[", "2[\"a\",{\"k\"}]", "2[\"a\",{\"k\":}]",
    "2[\"a\",{1:2}]", "2[\"a\",{\"k\":1,}]",
    "29007199254740991[\"a\"]",
    "2[\"a\",{\"_placeholder\":true,\"num\":0}]",
    "2/a?x=1,[\"a\"]", "2//,[\"a\"]", "2/a,/b,[\"a\"]",
    "3/admin,13[\"bar\"]", "3[\"a\"]", "3{}", "3\"x\"",
    "4{\"message\":\"Not authorized\"}", "4\"x\"", "4", "4[]", "41",
    "4/admin,{\"message\":\"x\",\"data\":{\"code\":\"forbidden\"}}",
    "51-[\"baz\",{\"_placeholder\":true,\"num\":0}]",
    "52-/admin,[\"baz\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]",
    "61-15[\"bar\",{\"_placeholder\":true,\"num\":0}]",
    "610-[\"a\"]", "611-[\"a\"]", "5-[\"a\"]", "50-[\"a\"]", "51[\"a\"]",
    "5x-[\"a\"]", "501-[\"a\"]", "5 1-[\"a\"]", "51.0-[\"a\"]", "6 1-[]",
    "51-", "51-/a,", "51-[\"connect\"]", "61-1[]", "61-{}",
    "7", "8[]", "9", "x", "-1",
    "2[\"\\ud800\",\"\\u00e9\\u0000\"]", "2[\"é😀\"]",
    "2[\"a\",{\"b\":1,\"1\":2,\"b\":3}]",
    // container nesting 32 (the default limit) and 33
    "2[\"a\"," + "[".repeat(31) + "]".repeat(31) + "]",
    "2[\"a\"," + "[".repeat(32) + "]".repeat(32) + "]",
  ];
  for (const s of dec) {
    let r;
    try {
      const d = new Decoder().decodeString(s);
      if (strict.has(s)) r = ["STRICT"];
      else
        r = ["OK", d.type, d.nsp, d.id === undefined ? -1 : d.id,
          d.attachments || 0,
          d.data === undefined ? "-" : esc(JSON.stringify(d.data))];
    } catch (e) {
      if (strict.has(s)) throw new Error("not accepted by the reference: " + s);
      r = ["ERR"];
    }
    line("P", esc(s), ...r);
  }
}

function eioVectors() {
  line("# engine.io-parser " + version("engine.io-parser"));
  line("# T type data encoded: encodePacket(text packet)");
  const pk = [
    { type: "open", data: JSON.stringify({ sid: "lv_VI97HAXpY6yYWAAAC",
      upgrades: ["websocket"], pingInterval: 25000, pingTimeout: 20000,
      maxPayload: 1000000 }) },
    { type: "close" }, { type: "ping" }, { type: "ping", data: "probe" },
    { type: "pong" }, { type: "pong", data: "probe" }, { type: "message", data: "hello" },
    { type: "message", data: "" }, { type: "message", data: "é😀\u0000\u001e" },
    { type: "message", data: '2["foo"]' }, { type: "upgrade" }, { type: "noop" },
  ];
  const types = { open: 0, close: 1, ping: 2, pong: 3, message: 4, upgrade: 5, noop: 6 };
  for (const p of pk)
    eio.encodePacket(p, false, (s) =>
      line("T", types[p.type], p.data === undefined ? "-" : esc(p.data), esc(s)));
  line("# B hex encoded: encodePacket(binary message) without binary support");
  for (const h of ["", "00", "01020304", "ff", "fffe", "000102030405060708090a",
    Buffer.from("hello binary world!").toString("hex")]) {
    eio.encodePacket({ type: "message", data: Buffer.from(h, "hex") }, false,
      (s) => line("B", h || "-", esc(s)));
  }
  line("# Y payload packet...: encodePayload(packets); a packet is t<type>:<data>");
  line("# or b:<hex>");
  const desc = (p) => Buffer.isBuffer(p.data)
    ? "b:" + hex(p.data)
    : "t" + types[p.type] + ":" + (p.data === undefined ? "" : esc(p.data));
  const pls = [
    [{ type: "message", data: "hello" }, { type: "ping" }, { type: "message", data: "world" }],
    [{ type: "message", data: "hello" }, { type: "message", data: Buffer.from([1, 2, 3, 4]) }],
    [{ type: "noop" }],
    [{ type: "message", data: Buffer.alloc(0) }, { type: "message", data: "" },
      { type: "close" }],
    [{ type: "message", data: '2["a",{"b":"é"}]' }, { type: "message", data: "42" },
      { type: "message", data: Buffer.from("ffee", "hex") }, { type: "pong", data: "probe" }],
  ];
  for (const l of pls)
    eio.encodePayload(l, (s) => line("Y", esc(s), ...l.map(desc)));
  line("# Z payload result...: decodePayload(payload); result is ERR (an error");
  line("# packet came out, after the packets listed), STRICT (the reference");
  line("# decodes it, we reject it on purpose) or OK");
  const strictPay = new Set(["b!!!", "4a\x1ebA", "bAQI=DBA", "b AQID"]);
  const dp = ["4hello\x1e2\x1e4world", "4hello\x1ebAQIDBA==", "bAQIDBA", "b",
    "6", "4", "0{}", "5\x1e6", "", "\x1e", "4a\x1e", "\x1e4a", "4a\x1e\x1e4b",
    "7", "4a\x1e9", "b!!!", "4a\x1ebA", "bAQI=DBA", "b AQID",
    "2probe\x1e3probe\x1e4é😀", "1"];
  for (const s of dp) {
    const r = eio.decodePayload(s, "nodebuffer");
    const ok = r.filter((p) => p.type !== "error");
    let tail = r.length === ok.length ? "OK" : "ERR";
    if (strictPay.has(s)) tail = "STRICT";
    line("Z", esc(s) || "-", tail,
      ...(tail === "STRICT" ? [] : ok.map((p) => desc(p))));
  }
}

if (process.argv[2] === "eio") eioVectors();
else sio();
process.stdout.write(out.join("\n") + "\n");
