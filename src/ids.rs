//! Hashing for the tables a sync keeps of the whole organisation, keyed by ids (people, SCIM
//! accounts, links). The standard hasher (SipHash) reads a key a byte at a time through a
//! buffer: in wasm, with tens of thousands of lookups a sync, that was a thirtieth of its CPU.
//! This one takes eight bytes a step. Its seed is random per process, as the standard one's is,
//! so keys chosen to collide cannot be worked out in advance; the ids come from the tenant's own
//! Humaans and Leapsome anyway.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

/// A `HashMap` keyed by ids.
pub type IdMap<K, V> = HashMap<K, V, IdHash>;

/// A `HashSet` of ids.
pub type IdSet<K> = std::collections::HashSet<K, IdHash>;

/// Builds [`IdHasher`]s with the process's seed.
#[derive(Debug, Clone, Copy)]
pub struct IdHash {
    seed: u64,
}

impl Default for IdHash {
    fn default() -> Self {
        static SEED: OnceLock<u64> = OnceLock::new();
        // The standard library's random keys (from the host's `wasi:random` in wasm).
        let seed = *SEED.get_or_init(|| std::collections::hash_map::RandomState::new().hash_one(0x1d5u64));
        IdHash { seed }
    }
}

impl BuildHasher for IdHash {
    type Hasher = IdHasher;
    fn build_hasher(&self) -> IdHasher {
        IdHasher(self.seed)
    }
}

/// A word at a time: rotate, mix in, multiply (as rustc's FxHasher), then a full avalanche at
/// the end, as the table uses both the high and the low bits.
pub struct IdHasher(u64);

const MULTIPLIER: u64 = 0x517c_c1b7_2722_0a95;

impl IdHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(MULTIPLIER);
    }
}

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        // The length first: the last word is padded with zeros, which would otherwise make
        // "ab" and "ab\0" alike.
        self.add(bytes.len() as u64);
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            self.add(u64::from_le_bytes(word.try_into().expect("eight bytes")));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(last));
        }
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        // MurmurHash3's finaliser.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_keys_hash_alike_and_a_table_of_ids_spreads() {
        let build = IdHash::default();
        assert_eq!(build.hash_one("abc"), IdHash::default().hash_one("abc"));
        // Keys that differ only past a word, or only in length, differ.
        assert_ne!(build.hash_one("0123456789abcdef0"), build.hash_one("0123456789abcdef1"));
        assert_ne!(build.hash_one("ab"), build.hash_one("ab\0"));
        // 10,000 ids of one shape: buckets by the low bits and by the high bits are all used.
        let ids: Vec<String> = (0..10_000).map(|i| format!("5ecba01fb567a5d0465{i:05}")).collect();
        let mut low = [0u32; 256];
        let mut high = [0u32; 256];
        for id in &ids {
            let h = build.hash_one(id);
            low[(h & 0xff) as usize] += 1;
            high[(h >> 56) as usize] += 1;
        }
        // About 39 in each; no bucket empty or crowded.
        assert!(low.iter().chain(&high).all(|n| (10..=80).contains(n)), "{low:?} {high:?}");
        let mut map: IdMap<&str, usize> = IdMap::default();
        map.extend(ids.iter().map(|id| (id.as_str(), id.len())));
        assert_eq!((map.len(), map.get("5ecba01fb567a5d046509999")), (10_000, Some(&24)));
    }
}
