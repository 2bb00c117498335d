//! A regular file mapped into memory read-only, so that JSON Lines are parsed where the page
//! cache holds them: `read` copied every byte into the reader's buffer first, which was 7% of
//! the CPU time of `dropscope sessions` on 1.25 GB (the kernel's `_copy_to_iter`).
//!
//! The reader asks the kernel to map each block's pages ahead of the parse
//! ([`Mapped::populate`], on the thread that used to do the `read`), and to unmap them once
//! parsed ([`Mapped::release`]): mapped pages count in the resident set, so without that the
//! whole file would; with it, the resident set holds about two blocks of the file, as with `read`.
//!
//! # Files that change while they are read
//!
//! A mapping is only as stable as its file. Bytes appended after the file was mapped are not
//! seen (the mapping has the length the file had), as a stream that reached the end earlier
//! would not see them. A file cut short while it is read would make the process fail with
//! `SIGBUS` on the first page past its new end; the guard here turns that into a re-read:
//!
//! - every live mapping is registered in a fixed table of [`SLOTS`] address ranges, and a
//!   `SIGBUS` handler is installed once (with `sigaction`, chained to the handler it replaces);
//! - on a `SIGBUS` inside a registered range, the handler maps zero-filled anonymous pages over
//!   the rest of that mapping (`mmap` with `MAP_FIXED`, a system call, safe in a handler) and
//!   sets the mapping's flag; the faulting read then resumes and sees zeros. A `SIGBUS`
//!   anywhere else goes to the previous handler (the default action kills the process as
//!   before);
//! - the reader asks [`Mapped::cut_short`] before it returns, and when the flag is set it
//!   throws away what it read and reads the file again as a stream, which sees the short file.
//!
//! What this guarantees: a file truncated while it is mapped never kills the process, and the
//! records counted are those of one consistent read (the stream's), never of zero-filled pages.
//! What it does not: a file rewritten in place (same length, other bytes) may show the reader
//! old and new bytes mixed, as a stream read would. When the table is full, or the handler
//! cannot be installed, the file is read as a stream instead of mapped. `--no-mmap`
//! (`IngestConfig::mmap`) reads every file as a stream.
//!
//! This module is one of the few places allowed `unsafe` code: it maps, advises and unmaps a
//! read-only file mapping, and installs and runs the `SIGBUS` handler, each block with its
//! SAFETY comment.

use std::ffi::c_void;
use std::fs::File;
use std::ops::Range;
use std::ptr::NonNull;

use rustix::mm::{Advice, MapFlags, ProtFlags};

/// Ranges are advised in multiples of this, a multiple of every page size Linux uses (4, 16
/// or 64 KiB): asking the kernel for the page size (`rustix::param`) reads the ELF auxiliary
/// vector, which crashed the program under valgrind.
const ALIGN: usize = 64 << 10;

/// A whole file, mapped private and read-only and registered with the `SIGBUS` guard; unmapped
/// on drop.
#[derive(Debug)]
pub(crate) struct Mapped {
    ptr: NonNull<c_void>,
    len: usize,
    slot: usize,
}

// SAFETY: the mapping is read-only and owned by this value alone: sharing `&Mapped` across
// threads shares only reads of immutable bytes (and `madvise` calls, which the kernel
// serialises), and moving it moves only the right to unmap.
#[allow(unsafe_code)]
unsafe impl Send for Mapped {}
#[allow(unsafe_code)]
unsafe impl Sync for Mapped {}

impl Mapped {
    /// Maps the first `len` bytes of `file` (its size); `None` for an empty file, when the
    /// kernel refuses, or when the `SIGBUS` guard cannot take it (the caller then reads the file
    /// instead).
    pub(crate) fn new(file: &File, len: u64) -> Option<Mapped> {
        let len = usize::try_from(len).ok().filter(|&len| len > 0)?;
        if !guard::install() {
            return None;
        }
        let slot = guard::claim()?;
        #[allow(unsafe_code)]
        // SAFETY: a fresh mapping at an address the kernel picks aliases no Rust object; it is
        // read-only and private, so this process never writes it. What the module comment says
        // of files changed while mapped is the caller's documented condition.
        let ptr = unsafe {
            rustix::mm::mmap(std::ptr::null_mut(), len, ProtFlags::READ, MapFlags::PRIVATE, file, 0)
        }
        .ok();
        let Some(ptr) = ptr.and_then(NonNull::new) else {
            guard::free(slot);
            return None;
        };
        guard::register(slot, ptr.as_ptr() as usize, len);
        Some(Mapped { ptr, len, slot })
    }

    /// Whether the file was cut short while mapped: some page past its new end was read (as
    /// zeros, see the module docs). What was read from the mapping is then not to be trusted.
    pub(crate) fn cut_short(&self) -> bool {
        guard::faulted(self.slot)
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
        // Unregistered first: once unmapped, the range may be reused by another mapping.
        guard::free(self.slot);
        #[allow(unsafe_code)]
        // SAFETY: the mapping was made by `new` with this address and length, and no slice of
        // it outlives `self`.
        let _ = unsafe { rustix::mm::munmap(self.ptr.as_ptr(), self.len) };
    }
}

/// At most this many files are mapped at once (one per reading thread is the most the reader
/// maps); past it a file is read as a stream.
const SLOTS: usize = 64;

/// The `SIGBUS` guard: the table of mapped ranges and the handler (see the module docs).
mod guard {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use super::{ALIGN, SLOTS};

    /// Whether a slot is taken.
    static USED: [AtomicBool; SLOTS] = [const { AtomicBool::new(false) }; SLOTS];
    /// A taken slot's range, `START..END`; `START` is 0 while the slot holds no mapping.
    static START: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];
    static END: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];
    /// Set by the handler when a page of the slot's mapping was past the file's end.
    static FAULTED: [AtomicBool; SLOTS] = [const { AtomicBool::new(false) }; SLOTS];
    /// The action the handler replaced (to chain to), or `None` when it could not be installed.
    static PREVIOUS: OnceLock<Option<libc::sigaction>> = OnceLock::new();

    /// Installs the handler once; whether it is installed.
    pub(super) fn install() -> bool {
        PREVIOUS
            .get_or_init(|| {
                #[allow(unsafe_code)]
                // SAFETY: `sigaction` with a zeroed (then filled) `struct sigaction` and a valid
                // out-pointer; the handler is an `extern "C"` function with the SA_SIGINFO
                // signature. The previous action is stored before any mapping exists, so the
                // handler never runs without it for a fault in a mapping of ours.
                unsafe {
                    let mut action: libc::sigaction = std::mem::zeroed();
                    action.sa_sigaction = on_sigbus
                        as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void)
                        as libc::sighandler_t;
                    action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                    libc::sigemptyset(&raw mut action.sa_mask);
                    let mut previous: libc::sigaction = std::mem::zeroed();
                    (libc::sigaction(libc::SIGBUS, &raw const action, &raw mut previous) == 0)
                        .then_some(previous)
                }
            })
            .is_some()
    }

    /// A free slot, now taken; `None` when all are.
    pub(super) fn claim() -> Option<usize> {
        (0..SLOTS).find(|&slot| {
            USED[slot].compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed).is_ok()
        })
    }

    /// Puts the mapping `start..start + len` in `slot`.
    pub(super) fn register(slot: usize, start: usize, len: usize) {
        FAULTED[slot].store(false, Ordering::Release);
        END[slot].store(start + len, Ordering::Release);
        START[slot].store(start, Ordering::Release);
    }

    /// Empties `slot`.
    pub(super) fn free(slot: usize) {
        START[slot].store(0, Ordering::Release);
        END[slot].store(0, Ordering::Release);
        FAULTED[slot].store(false, Ordering::Release);
        USED[slot].store(false, Ordering::Release);
    }

    pub(super) fn faulted(slot: usize) -> bool {
        FAULTED[slot].load(Ordering::Acquire)
    }

    /// The `SIGBUS` handler. Only atomics and one `mmap` system call: both async-signal-safe.
    extern "C" fn on_sigbus(
        signal: libc::c_int,
        info: *mut libc::siginfo_t,
        context: *mut libc::c_void,
    ) {
        #[allow(unsafe_code)]
        // SAFETY: the kernel passes a valid `siginfo_t` to an SA_SIGINFO handler, and for
        // SIGBUS its `si_addr` is the faulting address.
        let addr = unsafe { (*info).si_addr() } as usize;
        for slot in 0..SLOTS {
            let start = START[slot].load(Ordering::Acquire);
            let end = END[slot].load(Ordering::Acquire);
            if start == 0 || addr < start || addr >= end {
                continue;
            }
            // From the faulting page (aligned down to ALIGN, a multiple of every page size, but
            // not before the mapping, which starts on a page) to the mapping's end.
            let from = (addr / ALIGN * ALIGN).max(start);
            #[allow(unsafe_code)]
            // SAFETY: `from..end` lies within a live mapping of ours (registered until it is
            // unmapped, after its last read) whose pages past the file's end cannot be read;
            // replacing them with private zero pages changes no byte a reader could see
            // otherwise, and the flag set next makes the reader discard what it read.
            let mapped = unsafe {
                libc::mmap(
                    from as *mut libc::c_void,
                    end - from,
                    libc::PROT_READ,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                    -1,
                    0,
                )
            };
            if mapped != libc::MAP_FAILED {
                FAULTED[slot].store(true, Ordering::Release);
                return;
            }
            break;
        }
        // Not ours (or zero pages could not be mapped): the previous action decides.
        #[allow(unsafe_code)]
        // SAFETY: calling the previous handler with the arguments this one got is what the
        // kernel would have done; resetting to the default action and returning re-runs the
        // faulting instruction, whose SIGBUS then ends the process as it did before.
        unsafe {
            match PREVIOUS.get().copied().flatten() {
                Some(previous)
                    if previous.sa_sigaction != libc::SIG_DFL
                        && previous.sa_sigaction != libc::SIG_IGN =>
                {
                    if previous.sa_flags & libc::SA_SIGINFO != 0 {
                        let handler: extern "C" fn(
                            libc::c_int,
                            *mut libc::siginfo_t,
                            *mut libc::c_void,
                        ) = std::mem::transmute(previous.sa_sigaction);
                        handler(signal, info, context);
                    } else {
                        let handler: extern "C" fn(libc::c_int) =
                            std::mem::transmute(previous.sa_sigaction);
                        handler(signal);
                    }
                }
                _ => {
                    let mut default: libc::sigaction = std::mem::zeroed();
                    default.sa_sigaction = libc::SIG_DFL;
                    libc::sigaction(signal, &raw const default, std::ptr::null_mut());
                }
            }
        }
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
        assert!(!map.cut_short());
    }

    #[test]
    fn a_file_cut_short_while_mapped_reads_zeros_and_says_so() {
        let mut file = tempfile::tempfile().unwrap();
        let text = vec![b'x'; 1 << 20];
        file.write_all(&text).unwrap();
        let map = Mapped::new(&file, text.len() as u64).unwrap();
        assert_eq!(map.bytes()[100], b'x');
        file.set_len(4096).unwrap();
        // Past the new end: without the guard, SIGBUS.
        let tail = &map.bytes()[(512 << 10)..];
        assert!(tail.iter().all(|&b| b == 0));
        assert!(map.cut_short());
        drop(map);
        // The slot is free again, and a new mapping starts unflagged.
        let map = Mapped::new(&file, 4096).unwrap();
        assert!(!map.cut_short());
    }
}
