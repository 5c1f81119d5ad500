// wasi:keyvalue@0.2.0-draft for one tenant, in memory: `store`, `atomics` and `batch`, shaped as
// jco expects host imports (resources as classes, `result` errors thrown, u64 as BigInt).
//
// The semantics a host owes the component (README, "Load it in your host"):
// - The component opens bucket "" and expects the tenant's own storage: the host decides the scope,
//   whatever identifier is asked for. One `createKeyValue()` here is one tenant.
// - Calls may overlap (several instances of one tenant at once), so `increment` must be atomic across
//   callers. Node runs this on one thread, so a read-modify-write without `await` is atomic here; a
//   shared store needs a transaction or its own increment (SQL `UPDATE … SET v = v + ?`, Redis INCRBY).
// - A counter is stored as its decimal digits, as wasmtime's in-memory provider does.

/** Errors are the WIT variant `error`, thrown: jco turns a throw into `result::err`. */
const other = (message) => ({ tag: 'other', val: message });

export function createKeyValue() {
  const data = new Map(); // key -> Uint8Array

  class Bucket {
    get(key) {
      const value = data.get(key);
      return value && value.slice();
    }
    set(key, value) {
      data.set(key, Uint8Array.from(value));
    }
    delete(key) {
      data.delete(key);
    }
    exists(key) {
      return data.has(key);
    }
    listKeys(cursor) {
      // One page holds everything; `cursor` is where the previous page ended.
      return { keys: [...data.keys()].slice(Number(cursor ?? 0)), cursor: undefined };
    }
  }

  const store = {
    Bucket,
    open(_identifier) {
      return new Bucket();
    },
  };

  const atomics = {
    increment(bucket, key, delta) {
      const text = new TextDecoder().decode(bucket.get(key) ?? new TextEncoder().encode('0'));
      if (!/^\d+$/.test(text)) throw other(`${key} does not hold a counter`);
      const next = BigInt(text) + delta;
      if (next >= 2n ** 64n) throw other(`${key} would overflow a u64`);
      bucket.set(key, new TextEncoder().encode(next.toString()));
      return next;
    },
  };

  const batch = {
    getMany(bucket, keys) {
      return keys.map((key) => {
        const value = bucket.get(key);
        return value === undefined ? undefined : [key, value];
      });
    },
    setMany(bucket, keyValues) {
      for (const [key, value] of keyValues) bucket.set(key, value);
    },
    deleteMany(bucket, keys) {
      for (const key of keys) bucket.delete(key);
    },
  };

  return {
    'wasi:keyvalue/store': store,
    'wasi:keyvalue/atomics': atomics,
    'wasi:keyvalue/batch': batch,
  };
}
