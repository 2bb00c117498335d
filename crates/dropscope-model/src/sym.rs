//! [`Sym`]: an interned string, the 4-byte form of every repeated text in the events and
//! sessions tables (hub, device id, protocol, IP prefix, SDK string, ...).
//!
//! A log of millions of records holds a few thousand distinct texts: each is stored once, for
//! the life of the process, and a record holds 4-byte handles. That is what keeps an event at
//! about 72 bytes instead of half a kilobyte of small heap strings, and what makes parsing a
//! record allocation-free.
//!
//! Handles are numbered in the order texts are first seen, which depends on thread timing, so a
//! handle's number is never shown and never ordered: [`Sym`] compares, orders and hashes by its
//! text, exactly as the `String` it replaces. [`Sym::handle`] feeds in-memory hash tables only
//! (the loader's duplicate tables, the grouping of events by device, the categorical codes of
//! a table file), never anything shown, stored or sorted.
//!
//! The table is process-wide and append-only: a text, once interned, keeps its handle and its
//! storage until the process ends, so a `&'static str` can be handed out for it. Handle -> text
//! is an array of segments, each slot written once before its handle is handed out, so
//! [`Sym::as_str`] reads it without a lock. Text -> handle is one map behind a lock, and in
//! front of it each thread keeps a cache of the texts it has seen: nearly every lookup ends
//! there, lock-free. Texts of up to 16 bytes (device ids, IPs, protocols, codes) are cached in
//! the cache's slots themselves, so a lookup reads one cache line instead of following a
//! pointer to compare strings, which were most of the interning cost with tens of thousands of
//! device ids and IPs.
//!
//! ```
//! use dropscope_model::Sym;
//!
//! let a = Sym::new("device-1");
//! assert_eq!(a, Sym::new("device-1"));
//! assert_eq!(a.as_str(), "device-1");
//! assert!(Sym::new("a") < Sym::new("b"));
//! ```

use std::borrow::Borrow;
use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::num::NonZeroU32;
use std::ops::Deref;
use std::sync::{Mutex, OnceLock, PoisonError};

use crate::{FxHashMap, FxHasher};

/// An interned string: `Copy`, 4 bytes (`Option<Sym>` too), compared, ordered and hashed by its
/// text. Dereferences to `str`.
#[derive(Clone, Copy)]
pub struct Sym(NonZeroU32);

/// Segment `k` holds `FIRST << k` texts, so 27 segments cover every `u32` handle.
const FIRST: usize = 64;
const SEGMENTS: usize = 27;

/// Handle -> text, readable without a lock: each slot is written once, before its handle is
/// handed out.
static TEXTS: [OnceLock<Box<[OnceLock<&'static str>]>>; SEGMENTS] =
    [const { OnceLock::new() }; SEGMENTS];

/// Text -> handle, for texts not yet in the calling thread's cache.
static HANDLES: Mutex<Option<FxHashMap<&'static str, Sym>>> = Mutex::new(None);

thread_local! {
    /// The texts this thread has interned or looked up: most lookups end here, lock-free.
    static CACHE: RefCell<FxHashMap<&'static str, Sym>> =
        RefCell::new(HashMap::default());
    /// The same for texts of up to [`SHORT`] bytes (device ids, IPs, protocols, codes).
    static SHORT_CACHE: RefCell<ShortCache> = const { RefCell::new(ShortCache::new()) };
}

/// The longest text [`ShortCache`] holds.
const SHORT: usize = 16;

/// An open-addressing table (linear probing, at most half full) of short texts stored in the
/// slots themselves: a lookup reads one cache line and compares two words, where a map of
/// `&str` keys follows a pointer and calls `memcmp` (with tens of thousands of device ids and
/// IPs, those cache misses were most of the interning cost).
struct ShortCache {
    slots: Vec<ShortSlot>,
    len: usize,
}

/// A text of up to [`SHORT`] bytes, zero-padded, with its length and handle; `sym` is `None`
/// in an empty slot.
#[derive(Clone, Copy, Default)]
struct ShortSlot {
    words: [u64; 2],
    len: u8,
    sym: Option<Sym>,
}

impl ShortCache {
    const fn new() -> ShortCache {
        ShortCache { slots: Vec::new(), len: 0 }
    }

    /// `text` (at most [`SHORT`] bytes) as two little-endian words, zero-padded.
    fn pack(text: &[u8]) -> [u64; 2] {
        let mut bytes = [0_u8; SHORT];
        bytes[..text.len()].copy_from_slice(text);
        let (lo, hi) = bytes.split_at(8);
        let word = |half: &[u8]| {
            let mut le = [0; 8];
            le.copy_from_slice(half);
            u64::from_le_bytes(le)
        };
        [word(lo), word(hi)]
    }

    fn start(&self, words: [u64; 2], len: u8) -> usize {
        let mut hasher = FxHasher::default();
        hasher.write_u64(words[0]);
        hasher.write_u64(words[1]);
        hasher.write_u8(len);
        hasher.finish() as usize & (self.slots.len() - 1)
    }

    fn get(&self, words: [u64; 2], len: u8) -> Option<Sym> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut at = self.start(words, len);
        loop {
            let slot = self.slots[at];
            match slot.sym {
                None => return None,
                Some(sym) if slot.len == len && slot.words == words => return Some(sym),
                Some(_) => at = (at + 1) & mask,
            }
        }
    }

    /// Adds a text known to be absent.
    fn insert(&mut self, words: [u64; 2], len: u8, sym: Sym) {
        if 2 * (self.len + 1) > self.slots.len() {
            let grown = vec![ShortSlot::default(); (2 * self.slots.len()).max(1024)];
            let old = std::mem::replace(&mut self.slots, grown);
            for slot in old.into_iter().filter(|slot| slot.sym.is_some()) {
                self.place(slot);
            }
        }
        self.place(ShortSlot { words, len, sym: Some(sym) });
        self.len += 1;
    }

    fn place(&mut self, slot: ShortSlot) {
        let mask = self.slots.len() - 1;
        let mut at = self.start(slot.words, slot.len);
        while self.slots[at].sym.is_some() {
            at = (at + 1) & mask;
        }
        self.slots[at] = slot;
    }
}

/// The segment and offset of handle number `index` (0-based).
fn locate(index: usize) -> (usize, usize) {
    let biased = index + FIRST;
    let segment =
        (usize::BITS - 1 - biased.leading_zeros()) as usize - FIRST.trailing_zeros() as usize;
    (segment, biased - (FIRST << segment))
}

impl Sym {
    /// The handle of `text`, interning it on first sight.
    pub fn new(text: &str) -> Sym {
        if let Ok(len) = u8::try_from(text.len())
            && usize::from(len) <= SHORT
        {
            let words = ShortCache::pack(text.as_bytes());
            return SHORT_CACHE.with_borrow_mut(|cache| {
                cache.get(words, len).unwrap_or_else(|| {
                    let sym = Sym::intern(text);
                    cache.insert(words, len, sym);
                    sym
                })
            });
        }
        if let Some(sym) = CACHE.with(|cache| cache.borrow().get(text).copied()) {
            return sym;
        }
        let sym = Sym::intern(text);
        CACHE.with(|cache| cache.borrow_mut().insert(sym.as_str(), sym));
        sym
    }

    fn intern(text: &str) -> Sym {
        let mut handles = HANDLES.lock().unwrap_or_else(PoisonError::into_inner);
        let handles = handles.get_or_insert_with(HashMap::default);
        if let Some(&sym) = handles.get(text) {
            return sym;
        }
        let index = handles.len();
        let number = u32::try_from(index + 1)
            .ok()
            .and_then(NonZeroU32::new)
            .expect("fewer than 2^32 distinct texts");
        let leaked: &'static str = Box::leak(text.into());
        let (segment, offset) = locate(index);
        let slots =
            TEXTS[segment].get_or_init(|| (0..FIRST << segment).map(|_| OnceLock::new()).collect());
        // Only this lock's holder writes slots, each once.
        let _ = slots[offset].set(leaked);
        let sym = Sym(number);
        handles.insert(leaked, sym);
        sym
    }

    /// The text.
    #[inline]
    pub fn as_str(self) -> &'static str {
        let (segment, offset) = locate(self.0.get() as usize - 1);
        TEXTS[segment]
            .get()
            .and_then(|slots| slots[offset].get())
            .copied()
            .expect("a Sym's text is stored before the Sym exists")
    }

    /// The handle's number, never 0: equal for equal texts within this process, and different
    /// from run to run (it depends on thread timing). For in-memory hash tables only: never
    /// show it, store it or order by it.
    #[inline]
    pub fn handle(self) -> u32 {
        self.0.get()
    }

    /// Interns an optional text.
    pub fn opt(text: Option<&str>) -> Option<Sym> {
        text.map(Sym::new)
    }
}

impl Deref for Sym {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Sym {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Sym {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Sym {
    /// One handle per text, so equal handles are equal texts.
    #[inline]
    fn eq(&self, other: &Sym) -> bool {
        self.0 == other.0
    }
}

impl Eq for Sym {}

impl PartialEq<str> for Sym {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Sym {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Sym {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl PartialOrd for Sym {
    fn partial_cmp(&self, other: &Sym) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Sym {
    fn cmp(&self, other: &Sym) -> Ordering {
        if self.0 == other.0 { Ordering::Equal } else { self.as_str().cmp(other.as_str()) }
    }
}

impl Hash for Sym {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for Sym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Sym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for Sym {
    fn from(text: &str) -> Sym {
        Sym::new(text)
    }
}

impl From<&String> for Sym {
    fn from(text: &String) -> Sym {
        Sym::new(text)
    }
}

impl From<String> for Sym {
    fn from(text: String) -> Sym {
        Sym::new(&text)
    }
}

impl Default for Sym {
    /// The empty text.
    fn default() -> Sym {
        Sym::new("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_tile_the_handles() {
        assert_eq!(locate(0), (0, 0));
        assert_eq!(locate(63), (0, 63));
        assert_eq!(locate(64), (1, 0));
        assert_eq!(locate(191), (1, 127));
        assert_eq!(locate(192), (2, 0));
        let (last, offset) = locate(u32::MAX as usize - 1);
        assert!(last < SEGMENTS && offset < FIRST << last);
    }

    #[test]
    fn one_handle_per_text_across_threads() {
        let texts: Vec<String> = (0..5000).map(|i| format!("t{i}")).collect();
        let from_threads: Vec<Vec<Sym>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|_| scope.spawn(|| texts.iter().map(|t| Sym::new(t)).collect::<Vec<_>>()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
        });
        for syms in &from_threads {
            assert_eq!(syms, &from_threads[0]);
            for (sym, text) in syms.iter().zip(&texts) {
                assert_eq!(sym.as_str(), text);
            }
        }
        assert_eq!(size_of::<Option<Sym>>(), 4);
    }

    #[test]
    fn short_and_long_texts_round_trip() {
        // Lengths around the short limit, texts that differ only in padding, and enough of
        // them to grow the short cache a few times.
        let mut texts: Vec<String> = (0..=SHORT + 2).map(|n| "x".repeat(n)).collect();
        texts.extend(["a\0", "a", "\0", "\0\0"].map(String::from));
        texts.extend((0..20_000).map(|i| format!("dev-{i}")));
        let syms: Vec<Sym> = texts.iter().map(|t| Sym::new(t)).collect();
        for (sym, text) in syms.iter().zip(&texts) {
            assert_eq!(sym.as_str(), text);
            assert_eq!(Sym::new(text), *sym);
        }
        let distinct: std::collections::HashSet<u32> = syms.iter().map(|s| s.handle()).collect();
        assert_eq!(distinct.len(), texts.len());
    }

    #[test]
    fn orders_and_hashes_as_text() {
        let (b, a) = (Sym::new("b-order"), Sym::new("a-order"));
        assert!(a < b);
        let mut map = HashMap::new();
        map.insert(a, 1);
        assert_eq!(map.get("a-order"), Some(&1));
        assert_eq!(Sym::default().as_str(), "");
    }
}
