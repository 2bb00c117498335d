//! The placing step of a counting sort done in parallel, in safe Rust.
//!
//! The input is cut into parts, and each part has counted its items per bucket. [`shares`] cuts
//! the output into one share per (bucket, part), bucket after bucket and, within a bucket, part
//! after part; each part then fills its own shares, in parallel with the others, by [`put`]. A
//! part fills a share in its input order, so each bucket ends up in input order, as a serial
//! counting sort leaves it, whatever the number of parts.
//!
//! ```
//! use dropscope_model::{put, shares};
//!
//! // Two parts of the input, ["b1", "a1"] and ["a2", "b2"], into buckets a (0) and b (1).
//! let counts = [[1, 1], [1, 1]];
//! let mut out = [""; 4];
//! let mut by_part = shares(&mut out, 2, 2, 0..2, |part, bucket| counts[part][bucket]);
//! put(&mut by_part[0][1], "b1");
//! put(&mut by_part[0][0], "a1");
//! put(&mut by_part[1][0], "a2");
//! put(&mut by_part[1][1], "b2");
//! assert_eq!(out, ["a1", "a2", "b1", "b2"]);
//! ```

/// Cuts `out` into consecutive shares: for each bucket of `buckets` (the output's order of
/// buckets, each a number below `len`), for each of the `parts` parts, `count(part, bucket)`
/// items. Returns each part's shares, indexed by bucket number; a bucket not in `buckets` has
/// empty shares.
pub fn shares<'a, T>(
    out: &'a mut [T],
    parts: usize,
    len: usize,
    buckets: impl IntoIterator<Item = usize>,
    count: impl Fn(usize, usize) -> usize,
) -> Vec<Vec<&'a mut [T]>> {
    let mut shares: Vec<Vec<&'a mut [T]>> =
        (0..parts).map(|_| (0..len).map(|_| <&mut [T]>::default()).collect()).collect();
    let mut rest = out;
    for bucket in buckets {
        for (part, share) in shares.iter_mut().enumerate() {
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(count(part, bucket));
            share[bucket] = head;
            rest = tail;
        }
    }
    shares
}

/// Puts `value` in the first place of `share`, which then starts after it. A share is cut to
/// the count of its items, so it is never full when it is put to.
// The share itself is shortened, so it is taken by `&mut`.
#[allow(clippy::mut_mut)]
pub fn put<T>(share: &mut &mut [T], value: T) {
    if let Some((place, later)) = std::mem::take(share).split_first_mut() {
        *place = value;
        *share = later;
    } else {
        debug_assert!(false, "a share holds as many places as were counted for it");
    }
}
