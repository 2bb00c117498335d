//! [`FxHasher`]: the small fast hasher of the interner and the loader's duplicate table, and
//! the map and set types built on it; and [`table_of`], the storage of the open-addressing
//! tables and counters the hot paths fill at random (the loader's duplicate buckets, the
//! per-device counts of session reconstruction), written page by page up front so that a page
//! takes one fault, not a read fault and then a write fault that interrupts every other core.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` with [`FxHasher`]: for integer and interned-handle keys in hot tables.
pub type FxHashMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// A `HashSet` with [`FxHasher`].
pub type FxHashSet<T> = HashSet<T, BuildHasherDefault<FxHasher>>;

/// `FxHash` (as in rustc), finished with a 64-bit avalanche so the low bits index a table well.
/// Fast, deterministic and not collision-resistant: users confirm equal hashes by comparing.
#[derive(Default, Clone, Copy, Debug)]
pub struct FxHasher(u64);

impl FxHasher {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let mut le = [0; 8];
            le.copy_from_slice(word);
            self.add(u64::from_le_bytes(le));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut le = [0; 8];
            le[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(le));
        }
    }
    #[inline]
    fn write_u8(&mut self, value: u8) {
        self.add(u64::from(value));
    }
    #[inline]
    fn write_u32(&mut self, value: u32) {
        self.add(u64::from(value));
    }
    #[inline]
    fn write_u64(&mut self, value: u64) {
        self.add(value);
    }
    #[inline]
    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }
}

/// `len` slots of `empty`, each page of them written now: the storage for a table read and written
/// at random (open-addressing slots, counters).
///
/// `vec![0; len]` asks the allocator for zeroed memory, which, fresh from the system, is not
/// mapped yet. A table probed at random then first reads each page (the kernel maps its shared
/// page of zeros) and writes it later, and that second fault swaps the mapping, which means
/// interrupting every other core running the process to flush its TLB: 7% of `inspect`'s samples
/// when the loader's duplicate tables were made so (BENCHMARKS.md, session 7). Written first, a
/// page takes one ordinary fault.
pub fn table_of<T: Copy>(len: usize, empty: T) -> Vec<T> {
    // Opaque to the optimiser, so filling it cannot become a request for zeroed memory.
    let mut table = std::hint::black_box(Vec::with_capacity(len));
    table.resize(len, empty);
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_holds_len_empty_slots() {
        assert_eq!(table_of(5, 0_u64), vec![0; 5]);
        assert_eq!(table_of(3, u32::MAX), vec![u32::MAX; 3]);
        assert!(table_of(0, 7_u8).is_empty());
    }
}
