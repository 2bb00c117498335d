//! A regular file mapped into memory read-only, so that JSON Lines are parsed where the page
//! cache holds them: `read` copied every byte into the reader's buffer first, which was 7% of
//! the CPU time of `dropscope sessions` on 1.25 GB (the kernel's `_copy_to_iter`).
//!
//! The reader asks the kernel to map each block's pages ahead of the parse
//! ([`Mapped::populate`], on the thread that used to do the `read`), and to unmap them once
//! parsed ([`Mapped::release`]): mapped pages count in the resident set, so without that the
//! whole file would; with it, the resident set holds about two blocks of the file, as with `read`.
//!
//! A mapping is only as stable as its file: a file cut short while it is read makes the process
//! fail with `SIGBUS` (where `read` would have seen a short file), and one rewritten in place
//! may show the reader bytes changing under it. Exports are written once and read afterwards;
//! `ripgrep` reads files the same way, with the same caveat. For files that may change while
//! they are read, `--no-mmap` (`IngestConfig::mmap`) reads them as streams instead.
//!
//! This module is one of the few places allowed `unsafe` code: it maps, advises and unmaps a
//! read-only file mapping, each block with its SAFETY comment.

use std::ffi::c_void;
use std::fs::File;
use std::ops::Range;
use std::ptr::NonNull;

use rustix::mm::{Advice, MapFlags, ProtFlags};

/// Ranges are advised in multiples of this, a multiple of every page size Linux uses (4, 16
/// or 64 KiB): asking the kernel for the page size (`rustix::param`) reads the ELF auxiliary
/// vector, which crashed the program under valgrind.
const ALIGN: usize = 64 << 10;

/// A whole file, mapped private and read-only; unmapped on drop.
#[derive(Debug)]
pub(crate) struct Mapped {
    ptr: NonNull<c_void>,
    len: usize,
}

// SAFETY: the mapping is read-only and owned by this value alone: sharing `&Mapped` across
// threads shares only reads of immutable bytes (and `madvise` calls, which the kernel
// serialises), and moving it moves only the right to unmap.
#[allow(unsafe_code)]
unsafe impl Send for Mapped {}
#[allow(unsafe_code)]
unsafe impl Sync for Mapped {}

impl Mapped {
    /// Maps the first `len` bytes of `file` (its size); `None` for an empty file or when the
    /// kernel refuses (the caller then reads the file instead).
    pub(crate) fn new(file: &File, len: u64) -> Option<Mapped> {
        let len = usize::try_from(len).ok().filter(|&len| len > 0)?;
        #[allow(unsafe_code)]
        // SAFETY: a fresh mapping at an address the kernel picks aliases no Rust object; it is
        // read-only and private, so this process never writes it. What the module comment says
        // of files changed while mapped is the caller's documented condition.
        let ptr = unsafe {
            rustix::mm::mmap(std::ptr::null_mut(), len, ProtFlags::READ, MapFlags::PRIVATE, file, 0)
        }
        .ok()?;
        Some(Mapped { ptr: NonNull::new(ptr)?, len })
    }

    /// The file's bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        #[allow(unsafe_code)]
        // SAFETY: `ptr` is the start of a live, readable mapping of `len` bytes, unmapped only
        // by `drop`, which the borrow of `self` rules out while the slice lives.
        unsafe {
            std::slice::from_raw_parts(self.ptr.as_ptr().cast::<u8>(), self.len)
        }
    }

    /// Maps the pages of `range` now (`MADV_POPULATE_READ`), so that parsing them later takes
    /// no page faults. Only a hint: on kernels before 5.14 it does nothing.
    pub(crate) fn populate(&self, range: Range<usize>) {
        let end = range.end.min(self.len);
        self.advise(range.start / ALIGN * ALIGN..end, Advice::LinuxPopulateRead);
    }

    /// Unmaps the pages of `range` (`MADV_DONTNEED`) from the resident set, but for the last
    /// [`ALIGN`] bytes or fewer, which the next range's call unmaps: calls over consecutive
    /// ranges unmap every page once. The file stays in the page cache, and reading the pages
    /// again would fault them back in with the same bytes, so this changes no value any slice
    /// of [`Mapped::bytes`] sees.
    pub(crate) fn release(&self, range: Range<usize>) {
        let start = range.start / ALIGN * ALIGN;
        let end = range.end.min(self.len) / ALIGN * ALIGN;
        if start < end {
            self.advise(start..end, Advice::LinuxDontNeed);
        }
    }

    /// `madvise` over `range`, whose start is page-aligned and whose end is within the mapping.
    fn advise(&self, range: Range<usize>, advice: Advice) {
        if range.is_empty() {
            return;
        }
        #[allow(unsafe_code)]
        // SAFETY: the range lies within this mapping, and neither advice changes the bytes it
        // holds: `MADV_POPULATE_READ` maps pages, `MADV_DONTNEED` on a private file mapping this
        // process never wrote unmaps them, and they read back from the file unchanged.
        // A refusal (an old kernel, an unaligned end) only loses the hint.
        let _ = unsafe {
            rustix::mm::madvise(
                self.ptr.as_ptr().cast::<u8>().add(range.start).cast(),
                range.len(),
                advice,
            )
        };
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        #[allow(unsafe_code)]
        // SAFETY: the mapping was made by `new` with this address and length, and no slice of
        // it outlives `self`.
        let _ = unsafe { rustix::mm::munmap(self.ptr.as_ptr(), self.len) };
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    #[test]
    fn maps_reads_and_releases_a_file() {
        let mut file = tempfile::tempfile().unwrap();
        let text: Vec<u8> = (0..300_000_u32).map(|i| (i % 251) as u8).collect();
        file.write_all(&text).unwrap();
        let map = Mapped::new(&file, text.len() as u64).unwrap();
        assert_eq!(map.bytes(), &text[..]);
        map.populate(100..90_000);
        map.release(0..150_000);
        map.release(150_000..text.len() + 10);
        // Released pages read back unchanged.
        assert_eq!(map.bytes(), &text[..]);
        assert!(Mapped::new(&tempfile::tempfile().unwrap(), 0).is_none());
    }
}
