// The component in a host we did not write: Node.js, the component transpiled by jco, WASI (HTTP,
// clocks, io, cli, random) from @bytecodealliance/preview2-shim, storage from ./keyvalue.js.
//
//   node host.mjs COMPONENT.wasm OUT_DIR ALLOWED_AUTHORITY...
//
// Then one call a line on stdin, one answer a line on stdout (JSON):
//   {"call": "sync-all", "args": [{"dry-run": false, "max-writes": null}]}
//   -> {"ok": {...}} | {"err": <integration-error>} | {"trap": "message"}
// Names and fields are the WIT's (kebab-case); variants are {"tag", "val"}, options null or a value,
// `list<u8>` {"$bytes": [numbers]}.
// The export is looked up by name, so new exports (`retry`, `status`) and new record fields
// need no edit here; only `imports()` changes if the component imports something new.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { transpile } from '@bytecodealliance/jco';
import { WASIShim } from '@bytecodealliance/preview2-shim/instantiation';
import { createKeyValue } from './keyvalue.js';

const [componentPath, outDir, ...allowed] = process.argv.slice(2);

// 1. Transpile: core wasm modules plus JS glue; `instantiation` lets us pass the imports ourselves.
const { files } = await transpile(await readFile(componentPath), {
  name: 'component',
  instantiation: 'async',
  noTypescript: true,
  quiet: true,
});
for (const [name, bytes] of Object.entries(files)) {
  await mkdir(dirname(join(outDir, name)), { recursive: true });
  await writeFile(join(outDir, name), bytes);
}
const { instantiate } = await import(pathToFileURL(join(outDir, 'component.js')).href);
const modules = new Map();
const compile = async (name) => {
  if (!modules.has(name)) modules.set(name, await WebAssembly.compile(await readFile(join(outDir, name))));
  return modules.get(name);
};

// 2. The imports: what a platform decides. One tenant: one key-value store, two allowed services.
function imports() {
  const wasi = new WASIShim({ sandbox: { env: {}, args: ['humaans-leapsome'] } }).getImportObject();
  return { ...wasi, ...allowOnly(allowed, wasi), ...createKeyValue() };
}

/** Outgoing HTTP only to the tenant's services, refused before anything is sent otherwise. */
function allowOnly(authorities, wasi) {
  const { handle } = wasi['wasi:http/outgoing-handler'];
  return {
    'wasi:http/outgoing-handler': {
      handle(request, options) {
        if (!authorities.includes(request.authority())) throw { tag: 'HTTP-request-denied' };
        return handle(request, options);
      },
    },
  };
}

// 3. Every call on a fresh instance, as the WIT says: all state lives in wasi:keyvalue.
const hostImports = imports();
async function call(name, args) {
  const { integration } = await instantiate(compile, hostImports);
  try {
    return { ok: integration[camel(name)](...args.map((a) => convertKeys(a, camel))) ?? null };
  } catch (e) {
    return e && typeof e === 'object' && 'payload' in e ? { err: e.payload } : { trap: String(e.stack ?? e) };
  }
}

const camel = (s) => s.replace(/-([a-z0-9])/g, (_, c) => c.toUpperCase());
const kebab = (s) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
function convertKeys(value, rename) {
  if (Array.isArray(value)) return value.map((v) => convertKeys(v, rename));
  // `list<u8>` arrives as {"$bytes": [...]} (JSON has no byte strings); jco wants a Uint8Array.
  if (value && typeof value === 'object' && Array.isArray(value.$bytes)) return Uint8Array.from(value.$bytes);
  if (value === null || typeof value !== 'object') return value ?? undefined;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [rename(k), convertKeys(v, rename)]));
}
const json = (value) =>
  JSON.stringify(convertKeys(value, kebab), (_, v) =>
    typeof v === 'bigint' ? Number(v) : v === undefined ? null : v,
  );

console.log(JSON.stringify({ ready: true }));
for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const { call: name, args } = JSON.parse(line);
  console.log(json(await call(name, args)));
}
