//! Owned anonymous memory mappings: the one place the runtime asks the
//! kernel for address space and changes its protection.
//!
//! ```text
//!  as_ptr()                                              as_ptr() + len()
//!  ├──────────────┬───────────────────────────┬──────────────────────┤
//!  │ read-write   │ no access (PROT_NONE)     │ read-only / r-x ...  │
//!  └──────────────┴───────────────────────────┴──────────────────────┘
//!   every boundary is page-aligned; each page has exactly one protection
//! ```
//!
//! A [`Mmap`] is either a *reservation* ([`Mmap::reserve`]: address space
//! with no access and no swap committed, `MAP_NORESERVE`) that is made
//! accessible piece by piece, or an *accessible* mapping
//! ([`Mmap::accessible`]: read-write from the start). Either way its pages
//! start zeroed, its address never changes, and it is unmapped when dropped.
//! (One more kind maps part of a file read-only and private instead,
//! [`Mmap::map_file`]: a precompiled module's code, used in place.)
//!
//! Invariants:
//! * `len` is a multiple of the page size, and `ptr .. ptr + len` is mapped
//!   by this value alone (nothing else unmaps or remaps it);
//! * every range passed to a protection change is page-aligned and inside
//!   the mapping (checked: a bad range is an error, not undefined behaviour);
//! * no page is ever writable and executable at once: [`Mmap::make_executable`]
//!   sets read+execute, which removes write.
//!
//! A zero-length mapping maps nothing: its pointer is dangling (non-null,
//! aligned) and it has no pages.
//!
//! Failures are [`MmapError`]s naming what was being done and how many
//! bytes, with the kernel's error underneath; sizes that cannot be mapped
//! (larger than the address space) are errors too, never panics.

use core::ops::Range;
use core::ptr::NonNull;
use std::io;

use rustix::fd::BorrowedFd;
use rustix::mm::{MapFlags, MprotectFlags, ProtFlags};

/// A failed mapping operation: what was attempted, over how many bytes, and
/// why it failed.
#[derive(Debug, thiserror::Error)]
#[error("{operation} of {len} bytes failed: {source}")]
pub struct MmapError {
    /// What was being done ("reserving address space", "making memory
    /// executable", ...).
    pub operation: &'static str,
    /// The size of the mapping or range involved.
    pub len: usize,
    /// The kernel's error (or `InvalidInput` for a size or range this
    /// module refuses before asking the kernel).
    #[source]
    pub source: io::Error,
}

impl MmapError {
    fn new(operation: &'static str, len: usize, source: io::Error) -> Self {
        MmapError {
            operation,
            len,
            source,
        }
    }

    fn invalid(operation: &'static str, len: usize, why: &'static str) -> Self {
        Self::new(
            operation,
            len,
            io::Error::new(io::ErrorKind::InvalidInput, why),
        )
    }
}

/// The protection a range of a [`Mmap`] can be given. There is deliberately
/// no read-write-execute.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
enum Protection {
    None,
    ReadOnly,
    ReadWrite,
    ReadExecute,
}

impl Protection {
    fn flags(self) -> MprotectFlags {
        match self {
            Protection::None => MprotectFlags::empty(),
            Protection::ReadOnly => MprotectFlags::READ,
            Protection::ReadWrite => MprotectFlags::READ | MprotectFlags::WRITE,
            Protection::ReadExecute => MprotectFlags::READ | MprotectFlags::EXEC,
        }
    }

    fn operation(self) -> &'static str {
        match self {
            Protection::None => "making memory inaccessible",
            Protection::ReadOnly => "making memory read-only",
            Protection::ReadWrite => "making memory accessible",
            Protection::ReadExecute => "making memory executable",
        }
    }
}

/// An owned anonymous mapping. See the [module docs](self).
#[derive(Debug)]
pub struct Mmap {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: a `Mmap` owns its pages exclusively (like a `Box<[u8]>`); the raw
// pointer is an address, not shared state, so moving or sharing the owner
// between threads is as safe as for a boxed slice.
unsafe impl Send for Mmap {}
// SAFETY: see `Send`; `&Mmap` only hands out the address and length.
unsafe impl Sync for Mmap {}

impl Mmap {
    /// The system's page size in bytes (a power of two).
    pub fn page_size() -> usize {
        rustix::param::page_size()
    }

    /// `len` rounded up to a multiple of the page size, or `None` if that
    /// overflows.
    pub fn round_up_to_page(len: usize) -> Option<usize> {
        let page = Self::page_size();
        len.checked_add(page - 1).map(|l| l & !(page - 1))
    }

    /// Whether `value` is a multiple of the page size.
    pub fn is_page_aligned(value: usize) -> bool {
        value & (Self::page_size() - 1) == 0
    }

    /// An empty mapping: no pages, a dangling pointer.
    pub fn empty() -> Mmap {
        Mmap {
            ptr: NonNull::dangling(),
            len: 0,
        }
    }

    /// Reserves `len` bytes (rounded up to whole pages) of address space
    /// with no access and no memory committed.
    pub fn reserve(len: usize) -> Result<Mmap, MmapError> {
        Self::map("reserving address space", len, ProtFlags::empty())
    }

    /// Maps `len` bytes (rounded up to whole pages) of zeroed, read-write
    /// memory.
    pub fn accessible(len: usize) -> Result<Mmap, MmapError> {
        Self::map(
            "mapping read-write memory",
            len,
            ProtFlags::READ | ProtFlags::WRITE,
        )
    }

    fn map(operation: &'static str, len: usize, prot: ProtFlags) -> Result<Mmap, MmapError> {
        if len == 0 {
            return Ok(Self::empty());
        }
        let rounded = Self::round_up_to_page(len)
            .filter(|&l| l <= isize::MAX as usize)
            .ok_or_else(|| MmapError::invalid(operation, len, "larger than the address space"))?;
        let flags = MapFlags::PRIVATE | MapFlags::NORESERVE;
        // SAFETY: a null hint without MAP_FIXED lets the kernel choose fresh
        // address space, so no existing mapping (or Rust object) is touched.
        let ptr =
            unsafe { rustix::mm::mmap_anonymous(core::ptr::null_mut(), rounded, prot, flags) }
                .map_err(|errno| MmapError::new(operation, len, errno.into()))?;
        let ptr = NonNull::new(ptr.cast::<u8>())
            .ok_or_else(|| MmapError::invalid(operation, len, "the kernel returned address 0"))?;
        Ok(Mmap { ptr, len: rounded })
    }

    /// Maps `len` bytes of the file `fd` from `offset` (page-aligned)
    /// read-only and private (`MAP_PRIVATE`): pages come from the page
    /// cache as they are touched, and a page later made writable
    /// ([`make_accessible`](Self::make_accessible)) is copied on its first
    /// write, never written back. The file must hold at least the first
    /// byte of the last page (a page wholly past its end faults).
    pub fn map_file(fd: BorrowedFd<'_>, offset: u64, len: usize) -> Result<Mmap, MmapError> {
        const OPERATION: &str = "mapping a file";
        if len == 0 {
            return Ok(Self::empty());
        }
        if !usize::try_from(offset).is_ok_and(Self::is_page_aligned) {
            return Err(MmapError::invalid(
                OPERATION,
                len,
                "the file offset is not page-aligned",
            ));
        }
        let rounded = Self::round_up_to_page(len)
            .filter(|&l| l <= isize::MAX as usize)
            .ok_or_else(|| MmapError::invalid(OPERATION, len, "larger than the address space"))?;
        // SAFETY: a null hint without MAP_FIXED lets the kernel choose fresh
        // address space, so no existing mapping (or Rust object) is touched.
        let ptr = unsafe {
            rustix::mm::mmap(
                core::ptr::null_mut(),
                rounded,
                ProtFlags::READ,
                MapFlags::PRIVATE,
                fd,
                offset,
            )
        }
        .map_err(|errno| MmapError::new(OPERATION, len, errno.into()))?;
        let ptr = NonNull::new(ptr.cast::<u8>())
            .ok_or_else(|| MmapError::invalid(OPERATION, len, "the kernel returned address 0"))?;
        Ok(Mmap { ptr, len: rounded })
    }

    /// The first byte of the mapping.
    pub fn as_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }

    /// The first byte of the mapping, for writing.
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// The mapping's length in bytes (a multiple of the page size).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the mapping has no pages.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Makes `range` (byte offsets, page-aligned) readable and writable.
    pub fn make_accessible(&mut self, range: Range<usize>) -> Result<(), MmapError> {
        self.protect(range, Protection::ReadWrite)
    }

    /// Makes `range` (page-aligned) inaccessible: any access faults.
    pub fn make_inaccessible(&mut self, range: Range<usize>) -> Result<(), MmapError> {
        self.protect(range, Protection::None)
    }

    /// Makes `range` (page-aligned) readable and executable, and no longer
    /// writable.
    pub fn make_executable(&mut self, range: Range<usize>) -> Result<(), MmapError> {
        self.protect(range, Protection::ReadExecute)
    }

    /// Makes `range` (page-aligned) read-only.
    pub fn make_readonly(&mut self, range: Range<usize>) -> Result<(), MmapError> {
        self.protect(range, Protection::ReadOnly)
    }

    /// Gives the pages of `range` (page-aligned) back to the kernel, keeping
    /// the mapping and its protection: a page reads as zero when next
    /// touched (`madvise(MADV_DONTNEED)` on a private anonymous mapping).
    /// Cheaper than unmapping and mapping again: the address space and
    /// its page tables stay.
    pub fn discard(&mut self, range: Range<usize>) -> Result<(), MmapError> {
        self.edit("discarding pages", range, |start, len| {
            // SAFETY: `edit`'s range is ours; the pages only change
            // contents (to zero), never protection.
            unsafe { rustix::mm::madvise(start, len, rustix::mm::Advice::LinuxDontNeed) }
        })
    }

    /// Maps the first `range.len()` bytes of the file `fd` at `range`
    /// (page-aligned) of this mapping, read-write and copy-on-write
    /// (`MAP_PRIVATE | MAP_FIXED`): writes make private copies, and
    /// [`discard`](Self::discard) brings back the file's bytes.
    pub fn map_file_at(
        &mut self,
        range: Range<usize>,
        fd: BorrowedFd<'_>,
    ) -> Result<(), MmapError> {
        self.edit("mapping a memory image", range, |start, len| {
            let (prot, flags) = (
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::PRIVATE | MapFlags::FIXED,
            );
            // SAFETY: `edit`'s range is ours, so MAP_FIXED replaces only
            // pages of this mapping.
            unsafe { rustix::mm::mmap(start, len, prot, flags, fd, 0) }.map(drop)
        })
    }

    /// Replaces `range` (page-aligned) with fresh anonymous pages: zeroes,
    /// inaccessible (what [`map_file_at`](Self::map_file_at) replaced
    /// is gone).
    pub fn unmap_file_at(&mut self, range: Range<usize>) -> Result<(), MmapError> {
        self.edit("removing a memory image", range, |start, len| {
            let flags = MapFlags::PRIVATE | MapFlags::FIXED | MapFlags::NORESERVE;
            // SAFETY: as in `map_file_at`.
            unsafe { rustix::mm::mmap_anonymous(start, len, ProtFlags::empty(), flags) }.map(drop)
        })
    }

    /// Checks that `range` is page-aligned and inside the mapping, and
    /// unless it is empty runs `f` with its first byte and length, the
    /// error naming `operation`. `f` may do anything to those pages:
    /// `&mut self` means no Rust reference into the mapping obtained
    /// through `self` is alive. Code or data others hold raw pointers to
    /// (compiled code, the VMContext) is the caller's responsibility, as
    /// documented on each caller.
    fn edit(
        &mut self,
        operation: &'static str,
        range: Range<usize>,
        f: impl FnOnce(*mut core::ffi::c_void, usize) -> rustix::io::Result<()>,
    ) -> Result<(), MmapError> {
        let len = range.end.wrapping_sub(range.start);
        if range.start > range.end || range.end > self.len {
            return Err(MmapError::invalid(
                operation,
                len,
                "the range is not inside the mapping",
            ));
        }
        if !Self::is_page_aligned(range.start) || !Self::is_page_aligned(range.end) {
            return Err(MmapError::invalid(
                operation,
                len,
                "the range is not page-aligned",
            ));
        }
        if len == 0 {
            return Ok(());
        }
        f(self.ptr.as_ptr().wrapping_add(range.start).cast(), len)
            .map_err(|errno| MmapError::new(operation, len, errno.into()))
    }

    fn protect(&mut self, range: Range<usize>, protection: Protection) -> Result<(), MmapError> {
        self.edit(protection.operation(), range, |start, len| {
            // SAFETY: `edit`'s range is ours.
            unsafe { rustix::mm::mprotect(start, len, protection.flags()) }
        })
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        if self.len == 0 {
            return;
        }
        // SAFETY: `ptr .. ptr + len` is exactly the mapping `map` created
        // and that `self` owns; after drop nothing refers to it.
        let result = unsafe { rustix::mm::munmap(self.ptr.as_ptr().cast(), self.len) };
        // munmap of a range we mapped fails only if the invariants above are
        // broken; leaking the address space is the only safe reaction.
        debug_assert!(
            result.is_ok(),
            "munmap of an owned mapping failed: {result:?}"
        );
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The protection of the page containing `addr`, from `/proc/self/maps`
    /// (e.g. `"rw-p"`), or `None` if it is not mapped.
    pub(crate) fn protection_at(addr: usize) -> Option<String> {
        let line = maps_line_at(addr)?;
        line.split_whitespace().nth(1).map(str::to_owned)
    }

    /// The line of `/proc/self/maps` for the mapping containing `addr`:
    /// its range, protection, offset, device, inode and path.
    pub(crate) fn maps_line_at(addr: usize) -> Option<String> {
        let maps = std::fs::read_to_string("/proc/self/maps").expect("/proc/self/maps");
        maps.lines()
            .find(|line| {
                let range = line.split_whitespace().next().and_then(|r| r.split_once('-'));
                range.is_some_and(|(start, end)| {
                    let parse = |n| usize::from_str_radix(n, 16).ok();
                    matches!((parse(start), parse(end)), (Some(s), Some(e)) if (s..e).contains(&addr))
                })
            })
            .map(str::to_owned)
    }

    #[test]
    fn the_page_size_is_a_power_of_two() {
        assert!(Mmap::page_size().is_power_of_two());
        assert_eq!(Mmap::round_up_to_page(1), Some(Mmap::page_size()));
        assert_eq!(Mmap::round_up_to_page(0), Some(0));
        assert_eq!(Mmap::round_up_to_page(usize::MAX), None);
    }

    #[test]
    fn accessible_memory_is_zeroed_and_writable() {
        let mut m = Mmap::accessible(10_000).unwrap();
        assert_eq!(m.len(), Mmap::round_up_to_page(10_000).unwrap());
        let p = m.as_mut_ptr();
        // SAFETY: the whole mapping is read-write and owned by `m`.
        let bytes = unsafe { core::slice::from_raw_parts_mut(p, m.len()) };
        assert!(bytes.iter().all(|&b| b == 0));
        bytes[9_999] = 7;
        assert_eq!(bytes[9_999], 7);
        assert_eq!(protection_at(p as usize).as_deref(), Some("rw-p"));
    }

    #[test]
    fn protection_changes_show_in_the_process_maps() {
        let page = Mmap::page_size();
        let mut m = Mmap::reserve(4 * page).unwrap();
        let base = m.as_ptr() as usize;
        assert_eq!(protection_at(base).as_deref(), Some("---p"));
        m.make_accessible(page..3 * page).unwrap();
        m.make_readonly(2 * page..3 * page).unwrap();
        m.make_executable(3 * page..4 * page).unwrap();
        assert_eq!(protection_at(base).as_deref(), Some("---p"));
        assert_eq!(protection_at(base + page).as_deref(), Some("rw-p"));
        assert_eq!(protection_at(base + 2 * page).as_deref(), Some("r--p"));
        assert_eq!(protection_at(base + 3 * page).as_deref(), Some("r-xp"));
        m.make_inaccessible(page..2 * page).unwrap();
        assert_eq!(protection_at(base + page).as_deref(), Some("---p"));
    }

    #[test]
    fn bad_ranges_are_errors() {
        let page = Mmap::page_size();
        let mut m = Mmap::reserve(2 * page).unwrap();
        let e = m.make_accessible(0..3 * page).unwrap_err();
        assert!(e.to_string().contains("not inside the mapping"), "{e}");
        let e = m.make_accessible(1..page).unwrap_err();
        assert!(e.to_string().contains("not page-aligned"), "{e}");
        #[allow(clippy::reversed_empty_ranges)]
        let e = m.make_accessible(page..0).unwrap_err();
        assert_eq!(e.source.kind(), io::ErrorKind::InvalidInput);
        m.make_accessible(page..page).unwrap();
    }

    #[test]
    fn a_reservation_larger_than_the_address_space_is_an_error() {
        let e = Mmap::reserve(usize::MAX).unwrap_err();
        assert_eq!(e.operation, "reserving address space");
        assert_eq!(e.len, usize::MAX);
        // Representable but beyond the 47-bit user address space: the
        // kernel refuses with ENOMEM.
        let e = Mmap::reserve(1 << 62).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("reserving address space of 4611686018427387904 bytes failed"),
            "{e}"
        );
    }

    #[test]
    fn accessible_memory_larger_than_the_address_space_is_an_error() {
        let e = Mmap::accessible(1 << 62).unwrap_err();
        assert_eq!(e.operation, "mapping read-write memory");
        assert_eq!(e.source.raw_os_error(), Some(12), "ENOMEM: {e}");
    }

    #[test]
    fn an_empty_mapping_maps_nothing() {
        let mut m = Mmap::accessible(0).unwrap();
        assert!(m.is_empty());
        m.make_accessible(0..0).unwrap();
        assert!(!m.as_ptr().is_null());
    }
}
