//! The data pages of a dictionary-encoded column, built from its keys and validity as slices:
//! byte for byte the pages polars' writer builds, without its per-value iterator chains (its
//! RLE/bit-packing hybrid encoder, fed a filtered iterator of keys and a bitmap iterator of
//! definition levels, was 13% of the instructions of `dropscope sessions` from Parquet, by
//! callgrind). The dictionary page and the statistics are still polars' own: it builds them from
//! the dictionary values alone, so they are taken from the pages it writes for a one-key array
//! with the same dictionary.
//!
//! The encoding is Parquet's RLE/bit-packing hybrid as polars writes it ([`hybrid`]): values are
//! buffered into literal runs of up to 8,192, a run of more than eight equal values is written as
//! a repeated run, and a literal run before it is padded to a multiple of eight with the run's
//! first values. Reproducing its choices exactly keeps the files byte-identical to the ones the
//! writer made before, which the tests check against polars' own encoder.

use polars::prelude::{PolarsResult, polars_bail};
use polars_arrow::array::{Array, DictionaryArray, PrimitiveArray};
use polars_arrow::bitmap::Bitmap;
use polars_parquet::parquet::CowBuffer;
use polars_parquet::parquet::metadata::Descriptor;
use polars_parquet::parquet::page::{DataPage, DataPageHeader, DataPageHeaderV1};
use polars_parquet::parquet::schema::Repetition;
use polars_parquet::parquet::schema::types::PrimitiveType;
use polars_parquet::write::{Encoding, Page, ParquetType, Version, WriteOptions, array_to_columns};

/// The longest literal run polars' encoder buffers.
const MAX_LITERAL: usize = 8 * 1024;

/// polars' page size target when none is set (`row_slice_ranges`).
const PAGE_BYTES: usize = 1024 * 1024;

/// The pages of the dictionary column `array` of Parquet type `type_`: the dictionary page, then
/// data pages of keys, cut into pages as polars cuts them; `None` when polars' writer must write
/// it (an empty dictionary, Parquet 2 pages, a nested type).
pub(crate) fn dictionary_pages(
    array: &DictionaryArray<u32>,
    type_: &ParquetType,
    options: WriteOptions,
) -> Option<PolarsResult<Vec<Page>>> {
    let ParquetType::PrimitiveType(primitive) = type_ else { return None };
    if array.values().is_empty() || options.version != Version::V1 || array.is_empty() {
        return None;
    }
    Some(pages(array, primitive, options))
}

fn pages(
    array: &DictionaryArray<u32>,
    type_: &PrimitiveType,
    options: WriteOptions,
) -> PolarsResult<Vec<Page>> {
    // polars' dictionary page and statistics, from a one-key array with this dictionary.
    let head = DictionaryArray::<u32>::try_new(
        array.dtype().clone(),
        PrimitiveArray::from_vec(vec![0]),
        array.values().clone(),
    )?;
    let mut head_pages: Vec<Page> = Vec::new();
    for column in array_to_columns(
        head.boxed(),
        ParquetType::PrimitiveType(type_.clone()),
        options,
        &[Encoding::RleDictionary],
    )? {
        for page in column {
            head_pages.push(page?);
        }
    }
    let (Some(Page::Data(sample)), Some(Page::Dict(dict)), None) =
        (head_pages.pop(), head_pages.pop(), head_pages.pop())
    else {
        polars_bail!(ComputeError: "expected a dictionary page and one data page");
    };
    let DataPageHeader::V1(sample) = sample.header() else {
        polars_bail!(ComputeError: "expected a Parquet 1 data page");
    };
    let mut statistics = sample.statistics.clone();
    if let Some(statistics) = &mut statistics {
        statistics.null_count = Some(array.null_count() as i64);
    }

    let keys = array.keys();
    let validity = keys.validity().filter(|v| v.unset_bits() > 0);
    let optional = type_.field_info.repetition == Repetition::Optional;
    let mut pages = vec![Page::Dict(dict)];
    for (offset, len) in page_ranges(keys) {
        let keys = &keys.values()[offset..offset + len];
        let validity = validity.map(|v| v.clone().sliced(offset, len));
        let mut buffer = Vec::new();
        if optional {
            def_levels(&mut buffer, validity.as_ref(), len);
        }
        match &validity {
            None => encode_keys(&mut buffer, keys),
            Some(valid) => encode_keys(&mut buffer, &valid_keys(keys, valid)),
        }
        let header = DataPageHeaderV1 {
            num_values: len as i32,
            encoding: Encoding::RleDictionary.into(),
            definition_level_encoding: Encoding::Rle.into(),
            repetition_level_encoding: Encoding::Rle.into(),
            statistics: statistics.clone(),
        };
        let descriptor =
            Descriptor { primitive_type: type_.clone(), max_def_level: 0, max_rep_level: 0 };
        pages.push(Page::Data(DataPage::new(
            DataPageHeader::V1(header),
            CowBuffer::Owned(buffer),
            descriptor,
            len,
        )));
    }
    Ok(pages)
}

/// The `(offset, len)` of each data page: as many rows as fit in polars' page size at the keys'
/// estimated bytes per row (`row_slice_ranges` over `estimated_bytes_size`).
fn page_ranges(keys: &PrimitiveArray<u32>) -> impl Iterator<Item = (usize, usize)> {
    let rows = keys.len();
    let validity_bytes = keys.validity().map_or(0, |v| v.as_slice().0.len());
    let bytes = rows * size_of::<u32>() + validity_bytes;
    let per_row = if rows == 0 { 0 } else { ((bytes as f64) / (rows as f64)) as usize };
    let per_page = (PAGE_BYTES / (per_row + 1)).max(1);
    (0..rows).step_by(per_page).map(move |offset| (offset, per_page.min(rows - offset)))
}

/// The definition levels of a flat optional column, as polars writes them for Parquet 1: their
/// byte length, then the levels (one repeated run when every row is valid).
fn def_levels(out: &mut Vec<u8>, validity: Option<&Bitmap>, len: usize) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    match validity {
        None => repeated(out, len, 1, 1),
        Some(valid) => hybrid(out, &Bits::new(valid), Packing::Bools),
    }
    let length = (out.len() - start - 4) as i32;
    out[start..start + 4].copy_from_slice(&length.to_le_bytes());
}

/// The keys of the rows `valid` marks, 64 rows at a time.
fn valid_keys(keys: &[u32], valid: &Bitmap) -> Vec<u32> {
    let mut out = Vec::with_capacity(keys.len() - valid.unset_bits());
    let mut push = |base: usize, mut word: u64| {
        if word == u64::MAX {
            out.extend_from_slice(&keys[base..base + 64]);
            return;
        }
        while word != 0 {
            out.push(keys[base + word.trailing_zeros() as usize]);
            word &= word - 1;
        }
    };
    let chunks = valid.chunks::<u64>();
    let whole = keys.len() - chunks.remainder_len();
    let remainder = chunks.remainder();
    for (n, word) in chunks.enumerate() {
        push(n * 64, word);
    }
    if whole < keys.len() {
        push(whole, remainder & (u64::MAX >> (64 - (keys.len() - whole))));
    }
    out
}

/// The keys of the valid rows: their bit width in one byte, then the keys.
fn encode_keys(out: &mut Vec<u8>, keys: &[u32]) {
    let max = keys.iter().copied().max().unwrap_or(0);
    let width = u32::BITS - max.leading_zeros();
    out.push(width as u8);
    hybrid(out, keys, Packing::Keys(width));
}

/// What [`hybrid`] encodes: values by position, and how far a run of one value goes.
trait Source {
    fn len(&self) -> usize;
    fn at(&self, i: usize) -> u32;
    /// How many values from position `from` on equal `value`.
    fn run(&self, from: usize, value: u32) -> usize;
}

impl Source for [u32] {
    fn len(&self) -> usize {
        <[u32]>::len(self)
    }

    #[inline]
    fn at(&self, i: usize) -> u32 {
        self[i]
    }

    fn run(&self, from: usize, value: u32) -> usize {
        self[from..].iter().take_while(|&&v| v == value).count()
    }
}

/// A bitmap's bits as values 0 and 1, in 64-bit words: runs are counted a word at a time.
struct Bits {
    words: Vec<u64>,
    len: usize,
}

impl Bits {
    fn new(bitmap: &Bitmap) -> Bits {
        let chunks = bitmap.chunks::<u64>();
        let remainder = chunks.remainder();
        let mut words: Vec<u64> = chunks.collect();
        words.push(remainder);
        Bits { words, len: bitmap.len() }
    }
}

impl Source for Bits {
    fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn at(&self, i: usize) -> u32 {
        ((self.words[i / 64] >> (i % 64)) & 1) as u32
    }

    fn run(&self, from: usize, value: u32) -> usize {
        let mut at = from;
        while at < self.len {
            let word = self.words[at / 64] >> (at % 64);
            let left = 64 - at % 64;
            let same = if value == 1 { !word } else { word }.trailing_zeros() as usize;
            at += same.min(left);
            if same < left {
                break;
            }
        }
        at.min(self.len) - from
    }
}

/// How a literal run is packed: polars packs booleans (definition levels) and integers
/// (dictionary keys) each its own way.
#[derive(Clone, Copy)]
enum Packing {
    /// One bit each, a byte per eight values, the last byte zero-padded.
    Bools,
    /// This many bits each, 32 values at a time; the padding of a last short group is what was
    /// left of the previous 32 in polars' buffer.
    Keys(u32),
}

impl Packing {
    fn width(self) -> u32 {
        match self {
            Packing::Bools => 1,
            Packing::Keys(width) => width,
        }
    }
}

/// `values` in Parquet's RLE/bit-packing hybrid encoding, making polars' encoder's choices
/// (`hybrid_rle::encoder::encode`) so the bytes are the same.
fn hybrid(out: &mut Vec<u8>, values: &(impl Source + ?Sized), packing: Packing) {
    let width = packing.width();
    let mut buffer = vec![0_u32; MAX_LITERAL];
    let mut repeats = 0_usize;
    let mut previous = 0_u32;
    let mut at = 0_usize;
    let mut literal = 0_usize;
    let mut i = 0;
    while i < values.len() {
        let value = values.at(i);
        i += 1;
        if value == previous {
            repeats += 1;
            if repeats >= 8 {
                if repeats > 8 {
                    // Inside a repeated run nothing but its length changes: the rest of it at once.
                    let more = values.run(i, value);
                    repeats += more;
                    i += more;
                    continue;
                }
                // A run long enough to repeat: the literal run before it is first padded to a
                // multiple of eight with the run's first values.
                let padding = (8 - literal % 8) % 8;
                repeats -= padding;
                literal += padding;
            }
        } else if repeats > 8 {
            if literal > 0 {
                packed(out, &buffer[..literal], packing);
                literal = 0;
            }
            repeated(out, repeats, previous, width);
            repeats = 1;
            at = 0;
        } else {
            literal = at;
            repeats = 1;
        }
        if at == MAX_LITERAL {
            packed(out, &buffer, packing);
            repeats = 1;
            at = 0;
            literal = 0;
        }
        buffer[at] = value;
        previous = value;
        at += 1;
    }
    if repeats <= 8 {
        literal = at;
    }
    if literal > 0 {
        packed(out, &buffer[..literal], packing);
    }
    if repeats > 8 {
        repeated(out, repeats, previous, width);
    }
}

/// A repeated run: its length, then the value in as many bytes as `width` needs.
fn repeated(out: &mut Vec<u8>, len: usize, value: u32, width: u32) {
    uleb128(out, (len as u64) << 1);
    out.extend_from_slice(&value.to_le_bytes()[..width.div_ceil(8) as usize]);
}

/// A bit-packed literal run: its number of groups of eight, then the values, least significant
/// bit first.
fn packed(out: &mut Vec<u8>, values: &[u32], packing: Packing) {
    let groups = values.len().div_ceil(8);
    uleb128(out, ((groups as u64) << 1) | 1);
    let Packing::Keys(width) = packing else {
        for chunk in values.chunks(8) {
            let byte = chunk.iter().enumerate().fold(0_u8, |b, (i, &v)| b | ((v as u8 & 1) << i));
            out.push(byte);
        }
        return;
    };
    let full = values.len() / 32 * 32;
    pack(out, &values[..full], width);
    let rest = values.len() - full;
    if rest > 0 {
        // polars packs a whole 32-value buffer whose tail still holds the previous 32 values
        // (zeros when there were none), and writes the groups of eight that hold the rest.
        let mut last = [0_u32; 32];
        if full > 0 {
            last.copy_from_slice(&values[full - 32..full]);
        }
        last[..rest].copy_from_slice(&values[full..]);
        pack(out, &last[..rest.div_ceil(8) * 8], width);
    }
}

/// `values` (a multiple of eight) packed `width` bits each, least significant bit first, written
/// four bytes at a time.
fn pack(out: &mut Vec<u8>, values: &[u32], width: u32) {
    if width == 0 {
        return;
    }
    out.reserve(values.len() * width as usize / 8);
    let mut acc = 0_u64;
    let mut bits = 0_u32;
    for &value in values {
        acc |= u64::from(value) << bits;
        bits += width;
        if bits >= 32 {
            out.extend_from_slice(&(acc as u32).to_le_bytes());
            acc >>= 32;
            bits -= 32;
        }
    }
    // Eight values of `width` bits fill whole bytes.
    out.extend_from_slice(&acc.to_le_bytes()[..bits as usize / 8]);
}

/// `value` as an unsigned LEB128 varint.
fn uleb128(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use polars_parquet::parquet::encoding::hybrid_rle::encode as polars_encode;
    use proptest::prelude::*;

    use super::*;

    /// Runs of a few values, long and short, as dictionary keys and definition levels come.
    fn runs(most: u32) -> impl Strategy<Value = Vec<u32>> {
        proptest::collection::vec((0..=most, 1_usize..20), 0..60).prop_map(|runs| {
            runs.into_iter().flat_map(|(value, len)| std::iter::repeat_n(value, len)).collect()
        })
    }

    /// `keys` at the width their largest needs, encoded by [`hybrid`] and by polars.
    fn both_encodings(keys: &[u32]) -> (Vec<u8>, Vec<u8>) {
        let width = u32::BITS - keys.iter().max().copied().unwrap_or(0).leading_zeros();
        let mut ours = Vec::new();
        hybrid(&mut ours, keys, Packing::Keys(width));
        let mut theirs = Vec::new();
        polars_encode::<u32, _, _>(&mut theirs, keys.iter().copied(), width).expect("in memory");
        (ours, theirs)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn keys_encode_as_polars_encodes_them(values in runs(5000)) {
            let (ours, theirs) = both_encodings(&values);
            prop_assert_eq!(ours, theirs);
        }

        #[test]
        fn small_keys_encode_as_polars_encodes_them(most in 0_u32..4, seed in runs(3)) {
            // Keys of a dictionary of up to four values: widths 0 to 2.
            let values: Vec<u32> = seed.iter().map(|&v| v.min(most)).collect();
            let (ours, theirs) = both_encodings(&values);
            prop_assert_eq!(ours, theirs);
        }

        #[test]
        fn levels_encode_as_polars_encodes_them(values in runs(1), offset in 0_usize..70) {
            let mut theirs = Vec::new();
            polars_encode::<bool, _, _>(&mut theirs, values.iter().map(|&v| v == 1), 1)
                .expect("in memory");
            let mut ours = Vec::new();
            hybrid(&mut ours, values.as_slice(), Packing::Bools);
            prop_assert_eq!(&ours, &theirs);
            // The same from a bitmap, read a word at a time, at any offset.
            let bits: Bitmap = std::iter::repeat_n(true, offset)
                .chain(values.iter().map(|&v| v == 1))
                .collect();
            let mut from_bits = Vec::new();
            hybrid(&mut from_bits, &Bits::new(&bits.sliced(offset, values.len())), Packing::Bools);
            prop_assert_eq!(&from_bits, &theirs);
        }
    }

    proptest! {
        #[test]
        fn valid_keys_are_the_keys_of_set_bits(
            rows in proptest::collection::vec((0_u32..1000, proptest::bool::weighted(0.8)), 0..300),
            cut in 0_usize..70,
        ) {
            let keys: Vec<u32> = rows.iter().map(|r| r.0).collect();
            let bits: Bitmap = rows.iter().map(|r| r.1).collect();
            let cut = cut.min(keys.len());
            let (keys, bits) = (&keys[cut..], bits.sliced(cut, keys.len() - cut));
            let expected: Vec<u32> =
                keys.iter().zip(bits.iter()).filter(|(_, ok)| *ok).map(|(&k, _)| k).collect();
            prop_assert_eq!(valid_keys(keys, &bits), expected);
        }
    }

    /// Literal runs longer than the encoder's buffer, and a long one ending in a short group.
    #[test]
    fn long_literal_runs_encode_as_polars_encodes_them() {
        for len in [8191, 8192, 8193, 16_400, 20_005] {
            // Keys up to 999: ten bits.
            let values: Vec<u32> = (0..len).map(|i| (i * 7919 % 1000) as u32).collect();
            let (ours, theirs) = both_encodings(&values);
            assert_eq!(ours, theirs, "{len} values");
        }
    }
}
