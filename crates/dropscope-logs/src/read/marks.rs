//! Where a text's quotes, backslashes and control characters are: one bit a byte, found 32 bytes
//! at a time where the CPU has AVX2 (detected at run time), else 16 (SSE2, which every x86-64
//! has), in one pass over the line that also finds whether it is ASCII, so that the fast reader
//! finds the end of each string with a `trailing_zeros` instead of a search from its start.
//!
//! A record is a few dozen short strings, and its `properties` text has an escape every few
//! bytes: a search started at each of them (eight bytes at a time, as before) spent more on
//! starting and on its tail than on searching, and `perf` put a third of the reader's time there.
//!
//! Its two `unsafe` calls are the calls of its SIMD functions, each with its SAFETY comment: the
//! SSE2 one, which every x86-64 CPU can run, and the AVX2 one only after
//! `is_x86_feature_detected!("avx2")`. Neither takes a pointer.

/// The marks of one text: bit `i % 64` of word `i / 64` is set when byte `i` is `"`, `\\` or
/// below a space. Bytes past the end are never marked.
#[derive(Debug, Default)]
pub(crate) struct Marks {
    words: Vec<u64>,
    /// Whether the text marked last is all ASCII, found in the same pass (so it is UTF-8).
    ascii: bool,
}

impl Marks {
    /// Marks `text`, reusing this buffer.
    pub(crate) fn mark(&mut self, text: &[u8]) {
        self.words.clear();
        self.words.resize(text.len() / 64, 0);
        // The high bits of every byte, OR-ed: zero when the text is ASCII.
        let mut high = mark_blocks(&mut self.words, text);
        let rest = &text[text.len() / 64 * 64..];
        if !rest.is_empty() {
            let (marks, block_high) = if text.len() >= 64 {
                // The last 64 bytes, which end with `rest`: its marks are the top bits.
                let (marks, block_high) = block_marks(&text[text.len() - 64..]);
                (marks >> (64 - rest.len()), block_high)
            } else {
                // Padded with spaces, which are neither marked nor high.
                let mut padded = [b' '; 64];
                padded[..rest.len()].copy_from_slice(rest);
                block_marks(&padded)
            };
            self.words.push(marks);
            high |= block_high;
        }
        self.ascii = high == 0;
    }

    /// Whether the text marked last holds only ASCII bytes.
    pub(crate) fn is_ascii(&self) -> bool {
        self.ascii
    }

    /// The first marked byte at or after `from`, if any.
    pub(crate) fn next(&self, from: usize) -> Option<usize> {
        let mut word = from / 64;
        let mut bits = self.words.get(word)? & (u64::MAX << (from % 64));
        while bits == 0 {
            word += 1;
            bits = *self.words.get(word)?;
        }
        Some(word * 64 + bits.trailing_zeros() as usize)
    }
}

/// Fills `words` with the marks of `text`'s whole 64-byte blocks, one word each; returns a value
/// that is zero when all their bytes are ASCII. 32 bytes at a time where the CPU has AVX2 (half
/// the instructions of SSE2's 16), else [`block_marks`].
fn mark_blocks(words: &mut [u64], text: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2: checked just above.
        #[allow(unsafe_code)]
        return unsafe { avx2::mark_blocks(words, text) };
    }
    each_block(words, text)
}

/// [`mark_blocks`] a [`block_marks`] at a time.
fn each_block(words: &mut [u64], text: &[u8]) -> u64 {
    let mut high = 0;
    for (word, block) in words.iter_mut().zip(text.chunks_exact(64)) {
        let (marks, block_high) = block_marks(block);
        *word = marks;
        high |= block_high;
    }
    high
}

/// [`mark_blocks`] with AVX2 intrinsics; no pointers, so nothing in it is unsafe to run on a CPU
/// that has AVX2.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_min_epu8, _mm256_movemask_epi8, _mm256_or_si256,
        _mm256_set_epi64x, _mm256_set1_epi8, _mm256_setzero_si256,
    };

    #[target_feature(enable = "avx2")]
    pub(super) fn mark_blocks(words: &mut [u64], text: &[u8]) -> u64 {
        let mut high = _mm256_setzero_si256();
        for (word, block) in words.iter_mut().zip(text.chunks_exact(64)) {
            let (lo, hi) = (load(&block[..32]), load(&block[32..]));
            *word = u64::from(marks(lo)) | u64::from(marks(hi)) << 32;
            high = _mm256_or_si256(high, _mm256_or_si256(lo, hi));
        }
        // The bytes' own high bits: set only in non-ASCII bytes.
        u64::from(_mm256_movemask_epi8(high) as u32)
    }

    /// 32 bytes; one unaligned load once optimised.
    #[target_feature(enable = "avx2")]
    fn load(bytes: &[u8]) -> __m256i {
        let word = |at: usize| {
            let mut le = [0; 8];
            le.copy_from_slice(&bytes[at..at + 8]);
            i64::from_le_bytes(le)
        };
        _mm256_set_epi64x(word(24), word(16), word(8), word(0))
    }

    /// One bit a byte of `v`: quote, backslash, or `v <= 0x1f` as `min(v, 0x1f) == v`.
    #[target_feature(enable = "avx2")]
    fn marks(v: __m256i) -> u32 {
        let quote = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'"' as i8));
        let backslash = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'\\' as i8));
        let control = _mm256_cmpeq_epi8(_mm256_min_epu8(v, _mm256_set1_epi8(0x1f)), v);
        _mm256_movemask_epi8(_mm256_or_si256(_mm256_or_si256(quote, backslash), control)) as u32
    }
}

/// Whether `byte` is marked: a quote, a backslash or a control character.
const fn marked(byte: u8) -> bool {
    byte == b'"' || byte == b'\\' || byte < 0x20
}

/// The marks of a 64-byte block, and a value that is zero when every byte of it is ASCII.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[allow(unsafe_code)]
fn block_marks(block: &[u8]) -> (u64, u64) {
    // SAFETY: this is compiled only where the target has SSE2 (the x86-64 baseline), so every
    // CPU this runs on has it (the compiler asks for `unsafe` because the caller does not name
    // the feature).
    unsafe { sse2_block_marks(block) }
}

/// [`block_marks`] with SSE2 intrinsics; no pointers, so nothing in it is unsafe.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[target_feature(enable = "sse2")]
fn sse2_block_marks(block: &[u8]) -> (u64, u64) {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set_epi64x,
        _mm_set1_epi8,
    };
    let mut marks = 0;
    let mut high = 0;
    for (k, lane) in block.chunks_exact(16).enumerate() {
        let half = |at: usize| {
            let mut word = [0; 8];
            word.copy_from_slice(&lane[at..at + 8]);
            i64::from_le_bytes(word)
        };
        // One unaligned 16-byte load once optimised.
        let v = _mm_set_epi64x(half(8), half(0));
        let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
        // Unsigned `v <= 0x1f`: SSE2 has no unsigned comparison, but `min(v, 0x1f) == v` is one.
        let control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
        let any = _mm_or_si128(_mm_or_si128(quote, backslash), control);
        let bits = u64::from(_mm_movemask_epi8(any) as u16);
        marks |= bits << (16 * k);
        // The bytes' own high bits: set only in non-ASCII bytes.
        high |= u64::from(_mm_movemask_epi8(v) as u16);
    }
    (marks, high)
}

/// The marks of a 64-byte block, and a value that is zero when every byte of it is ASCII.
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
fn block_marks(block: &[u8]) -> (u64, u64) {
    portable_block_marks(block)
}

/// [`block_marks`] a byte at a time: the reference for other targets and for tests.
#[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))]
fn portable_block_marks(block: &[u8]) -> (u64, u64) {
    let marks =
        block.iter().enumerate().fold(0, |marks, (i, &b)| marks | u64::from(marked(b)) << i);
    let high = block.iter().fold(0, |high, &b| high | u64::from(b >> 7));
    (marks, high)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn finds_every_mark_in_order(
            text in proptest::collection::vec(
                prop_oneof![Just(b'"'), Just(b'\\'), 0_u8..0x20, any::<u8>(), Just(b'a')],
                0..300,
            ),
            from in 0_usize..310,
        ) {
            let mut marks = Marks::default();
            marks.mark(&text);
            let expected = text.iter().enumerate().skip(from).find(|(_, b)| marked(**b));
            prop_assert_eq!(marks.next(from), expected.map(|(i, _)| i));
            prop_assert_eq!(marks.is_ascii(), text.is_ascii());
            let block: Vec<u8> = text.iter().copied().chain(std::iter::repeat(b' ')).take(64).collect();
            let (bits, high) = block_marks(&block);
            prop_assert_eq!(bits, portable_block_marks(&block).0);
            prop_assert_eq!(high == 0, portable_block_marks(&block).1 == 0);
            // Both ways of marking whole blocks agree.
            let mut words = vec![0; text.len() / 64];
            let high = mark_blocks(&mut words, &text);
            let mut each = vec![0; text.len() / 64];
            prop_assert_eq!(each_block(&mut each, &text) == 0, high == 0);
            prop_assert_eq!(words, each);
        }
    }

    #[test]
    fn marks_bytes_at_block_edges() {
        let mut text = vec![b'a'; 130];
        for at in [0, 15, 16, 63, 64, 127, 129] {
            text[at] = b'"';
        }
        text[70] = 0x1f;
        text[71] = 0x20;
        text[72] = 0x80;
        let mut marks = Marks::default();
        marks.mark(&text);
        let mut found = Vec::new();
        let mut at = 0;
        while let Some(i) = marks.next(at) {
            found.push(i);
            at = i + 1;
        }
        assert_eq!(found, [0, 15, 16, 63, 64, 70, 127, 129]);
        assert_eq!(marks.next(130), None);
        assert_eq!(marks.next(1000), None);
    }
}
