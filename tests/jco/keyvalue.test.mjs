// keyvalue.js on its own, for what today's component does not call yet (atomics, batch) and for
// the scoping a host owes it. Run by tests/jco.rs (`node --test`).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createKeyValue } from './keyvalue.js';

const bytes = (s) => new TextEncoder().encode(s);

test('any identifier opens the tenant bucket; tenants do not share', () => {
  const tenant = createKeyValue();
  const store = tenant['wasi:keyvalue/store'];
  store.open('').set('k', bytes('v'));
  assert.deepEqual(store.open('other').get('k'), bytes('v'));
  assert.equal(createKeyValue()['wasi:keyvalue/store'].open('').get('k'), undefined);
  assert.deepEqual(store.open('').listKeys(undefined), { keys: ['k'], cursor: undefined });
});

test('increment starts at delta, adds, and refuses what is not a counter', () => {
  const kv = createKeyValue();
  const bucket = kv['wasi:keyvalue/store'].open('');
  const { increment } = kv['wasi:keyvalue/atomics'];
  assert.equal(increment(bucket, 'n', 5n), 5n);
  assert.equal(increment(bucket, 'n', 2n), 7n);
  assert.deepEqual(bucket.get('n'), bytes('7'));
  bucket.set('json', bytes('{}'));
  assert.throws(() => increment(bucket, 'json', 1n), (e) => e.tag === 'other');
  bucket.set('max', bytes((2n ** 64n - 1n).toString()));
  assert.throws(() => increment(bucket, 'max', 1n), (e) => e.tag === 'other');
});

test('get-many answers in order with gaps; set-many and delete-many', () => {
  const kv = createKeyValue();
  const bucket = kv['wasi:keyvalue/store'].open('');
  const { getMany, setMany, deleteMany } = kv['wasi:keyvalue/batch'];
  setMany(bucket, [['a', bytes('1')], ['b', bytes('2')]]);
  assert.deepEqual(getMany(bucket, ['b', 'x', 'a']), [['b', bytes('2')], undefined, ['a', bytes('1')]]);
  deleteMany(bucket, ['a', 'x']);
  assert.deepEqual(getMany(bucket, ['a', 'b']), [undefined, ['b', bytes('2')]]);
});

test('values are copies: the caller may reuse its buffer', () => {
  const bucket = createKeyValue()['wasi:keyvalue/store'].open('');
  const buffer = bytes('abc');
  bucket.set('k', buffer);
  buffer[0] = 0;
  bucket.get('k')[1] = 0;
  assert.deepEqual(bucket.get('k'), bytes('abc'));
});
