//! WebAssembly linear memories, laid out as `duet_environ::tunables`
//! promises compiled code.
//!
//! Two layouts:
//!
//! ```text
//!  Reserved: never moves
//!    a 32-bit memory when memory_reservation >= 4 GiB: reservation = memory_reservation
//!    a 64-bit memory: reservation = min(its maximum, the engine's memory64 reservation)
//!
//!  base                base + current_length
//!  ├── read-write ─────┼── no access ─────────────────┼── guard, no access ──┤
//!  │ current pages     │ rest of the reservation      │ memory_guard_size    │
//!  └───────────────────┴──────────────────────────────┴──────────────────────┘
//!  ◄──────────────── reservation ────────────────────►
//!  grow: mprotect the next pages read-write, in place; never past the reservation
//!
//!  Moving (a 32-bit memory when memory_reservation < 4 GiB, e.g. 0)
//!
//!  base                base + current_length
//!  ├── read-write ─────┼── guard, no access ──┤
//!  grow: map current + delta + guard elsewhere, copy, unmap the old mapping
//! ```
//!
//! # 32-bit memories
//!
//! With the reservation, every address `base + index + offset` a 32-bit
//! access can form is below `base + 4 GiB + offset + size`, inside
//! reservation + guard for the offsets `Tunables::bounds_check` elides, so
//! an out-of-bounds access hits a page with no access and faults (the
//! runtime turns the fault into `MemoryOutOfBounds`). That is why the
//! reserved layout must never move and never make a byte past
//! `current_length` accessible. The moving layout makes no such promise:
//! compiled code bounds-checks every access against `current_length` and
//! reloads `base` after anything that may have grown the memory (a call).
//!
//! # 64-bit memories
//!
//! A 64-bit memory could in principle grow to 2^64 bytes, more than any
//! address space, so it reserves what it may actually use: its declared
//! maximum, capped by a bound the embedder chooses
//! ([`Config::memory64_reservation`](crate::Config::memory64_reservation),
//! [`DEFAULT_MEMORY64_RESERVATION`] unless set, at most
//! [`MAX_MEMORY64_RESERVATION`]). The bound is the memory's effective
//! maximum: growth past it fails (`memory.grow` returns -1), exactly as
//! growth past a declared maximum does. In exchange growth is an
//! `mprotect` of the new pages and nothing else: no copy, no new mapping,
//! and no memory committed until the guest touches a page (the
//! reservation is `MAP_NORESERVE`), so growing one page at a time costs
//! the same per page however large the memory already is.
//!
//! Compiled code does not rely on any of this: both tiers bounds-check
//! every 64-bit access against `current_length` explicitly
//! (`Tunables::bounds_check` answers `Explicit` for memory64) and treat
//! the base as one that may move (they reload it after calls). That the
//! base now stays put only makes those reloads redundant; the guard region
//! after the reservation is defence in depth, not something a bounds check
//! was left out for.
//!
//! # The definition record
//!
//! Either way the [`VMMemoryDefinition`] compiled code reads lives in its
//! own heap allocation whose address never changes (imports point at it),
//! and is updated on every growth. Growth that fails, for any reason
//! (beyond the maximum or the reservation, or the kernel refusing memory),
//! returns `None` and leaves the memory and its definition unchanged, as
//! `memory.grow` returning -1 requires.

use core::ptr::NonNull;

use duet_environ::tunables::Tunables;

use crate::image::MemoryImage;
use crate::mmap::{Mmap, MmapError};
use crate::vm::VMMemoryDefinition;
use rustix::fd::AsFd;
use std::sync::Arc;

/// The size of a WebAssembly page in bytes.
pub const WASM_PAGE_SIZE: u64 = 1 << 16;

/// The most pages a 32-bit memory can have (4 GiB).
pub const MAX_PAGES_32: u64 = 1 << 16;

/// The most pages a 64-bit memory can have (2^64 bytes).
pub const MAX_PAGES_64: u64 = 1 << 48;

/// The address space a 64-bit memory reserves unless the engine's
/// [`Config::memory64_reservation`](crate::Config::memory64_reservation)
/// says otherwise: 8 GiB, twice what a 32-bit memory can address, and
/// with the guard region about what a 32-bit memory's reservation costs.
/// It is also the most such a memory can grow to.
pub const DEFAULT_MEMORY64_RESERVATION: u64 = 8 << 30;

/// The largest 64-bit memory reservation a configuration may ask for:
/// 1 TiB, 1/128 of x86-64's 47-bit user address space, so that a process
/// can still hold a good number of such memories. (Reserving costs address
/// space only; memory is committed page by page as the guest touches it.)
pub const MAX_MEMORY64_RESERVATION: u64 = 1 << 40;

/// A memory's declared limits, in wasm pages.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct MemoryType {
    /// Pages the memory starts with.
    pub minimum: u64,
    /// Pages it may grow to, if declared.
    pub maximum: Option<u64>,
    /// Whether it is indexed with `i64` (memory64).
    pub memory64: bool,
}

/// Why a memory could not be created.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// The minimum is above the declared maximum, the index type's limit, or
    /// what the reservation can hold.
    #[error("a memory of {minimum} pages exceeds its maximum of {maximum} pages")]
    MinimumExceedsMaximum {
        /// The requested minimum.
        minimum: u64,
        /// The effective maximum.
        maximum: u64,
    },
    /// The sizes involved do not fit in the address space.
    #[error("a memory of {pages} pages with {guard} guard bytes does not fit in the address space")]
    TooLarge {
        /// The requested size in pages.
        pages: u64,
        /// The guard region's size.
        guard: u64,
    },
    /// Mapping the memory failed.
    #[error(transparent)]
    Mmap(#[from] MmapError),
}

/// How the memory's pages are placed. See the [module docs](self).
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
enum Layout {
    /// One reservation of `reservation + guard` bytes (the reservation is
    /// `memory_reservation` for a 32-bit memory, the capped maximum for a
    /// 64-bit one); grows in place, never past the reservation.
    Reserved,
    /// `current + guard` bytes; grows by moving.
    Moving,
}

/// A linear memory. See the [module docs](self).
#[derive(Debug)]
pub struct LinearMemory {
    /// The pages: `0 .. byte_len` read-write, the rest inaccessible.
    mmap: Mmap,
    layout: Layout,
    /// The current size in wasm pages.
    pages: u64,
    /// The most pages growth may reach: the declared maximum, capped by the
    /// index type and (reserved layout) the reservation, which for a 64-bit
    /// memory is the configured bound.
    maximum: u64,
    /// Inaccessible bytes kept after the accessible (moving) or reserved
    /// (reserved) region.
    guard: usize,
    /// What compiled code reads; a `Box` leaked with `Box::into_raw` so the
    /// address is stable and every write goes through this one raw pointer.
    definition: NonNull<VMMemoryDefinition>,
    /// The memory image mapped copy-on-write over part of the memory
    /// (`image.rs`), kept across [`clear`](Self::clear) and
    /// [`reuse`](Self::reuse) until another one replaces it.
    image: Option<Arc<MemoryImage>>,
}

// SAFETY: the memory owns its mapping and its definition exclusively (the
// raw pointers are owned allocations, not shared state); like a `Vec`, it
// can move between threads, and `&LinearMemory` only reads.
unsafe impl Send for LinearMemory {}
// SAFETY: see `Send`.
unsafe impl Sync for LinearMemory {}

/// `pages` wasm pages in bytes, rounded up to whole host pages, if that
/// fits in `usize`.
fn pages_to_bytes(pages: u64) -> Option<usize> {
    let bytes = pages.checked_mul(WASM_PAGE_SIZE)?;
    Mmap::round_up_to_page(usize::try_from(bytes).ok()?)
}

impl LinearMemory {
    /// Creates a memory of `ty.minimum` zeroed pages, laid out as `tunables`
    /// say; a 64-bit memory reserves [`DEFAULT_MEMORY64_RESERVATION`] at
    /// most (see [`with_memory64_reservation`](Self::with_memory64_reservation)).
    pub fn new(ty: &MemoryType, tunables: &Tunables) -> Result<LinearMemory, MemoryError> {
        Self::with_memory64_reservation(ty, tunables, DEFAULT_MEMORY64_RESERVATION)
    }

    /// Creates a memory of `ty.minimum` zeroed pages, laid out as `tunables`
    /// say; a 64-bit memory reserves its maximum, but no more than
    /// `memory64_reservation` bytes (rounded down to whole wasm pages),
    /// which is then also the most it can grow to. See the
    /// [module docs](self).
    pub fn with_memory64_reservation(
        ty: &MemoryType,
        tunables: &Tunables,
        memory64_reservation: u64,
    ) -> Result<LinearMemory, MemoryError> {
        let index_limit = if ty.memory64 {
            MAX_PAGES_64
        } else {
            MAX_PAGES_32
        };
        let declared = ty.maximum.unwrap_or(index_limit).min(index_limit);
        // The bytes reserved for the memory itself (the guard comes after)
        // and the most pages it may reach inside them.
        let (layout, reservation, maximum) = if ty.memory64 {
            let maximum = declared.min(memory64_reservation / WASM_PAGE_SIZE);
            (Layout::Reserved, maximum * WASM_PAGE_SIZE, maximum)
        } else if tunables.is_reserved(false) {
            let reservation = tunables.memory_reservation;
            (
                Layout::Reserved,
                reservation,
                declared.min(reservation / WASM_PAGE_SIZE),
            )
        } else {
            (Layout::Moving, 0, declared)
        };
        if ty.minimum > maximum {
            return Err(MemoryError::MinimumExceedsMaximum {
                minimum: ty.minimum,
                maximum,
            });
        }
        let too_large = || MemoryError::TooLarge {
            pages: ty.minimum,
            guard: tunables.memory_guard_size,
        };
        let guard = usize::try_from(tunables.memory_guard_size)
            .ok()
            .and_then(Mmap::round_up_to_page)
            .ok_or_else(too_large)?;
        let accessible = pages_to_bytes(ty.minimum).ok_or_else(too_large)?;
        let mapped = match layout {
            Layout::Reserved => usize::try_from(reservation)
                .ok()
                .and_then(Mmap::round_up_to_page),
            Layout::Moving => Some(accessible),
        }
        .and_then(|bytes| bytes.checked_add(guard))
        .ok_or_else(too_large)?;

        let mut mmap = Mmap::reserve(mapped)?;
        mmap.make_accessible(0..accessible)?;
        let definition = Box::new(VMMemoryDefinition {
            base: mmap.as_mut_ptr(),
            current_length: ty.minimum * WASM_PAGE_SIZE,
        });
        Ok(LinearMemory {
            mmap,
            layout,
            pages: ty.minimum,
            maximum,
            guard,
            definition: NonNull::from(Box::leak(definition)),
            image: None,
        })
    }

    /// The current size in wasm pages.
    pub fn pages(&self) -> u64 {
        self.pages
    }

    /// The current size in bytes.
    pub fn byte_len(&self) -> usize {
        // Cannot truncate: `new` and `grow` checked that the size in bytes
        // fits in `usize`.
        (self.pages * WASM_PAGE_SIZE) as usize
    }

    /// The most pages the memory can grow to.
    pub fn maximum_pages(&self) -> u64 {
        self.maximum
    }

    /// Whether growth may move the memory (and compiled code must
    /// bounds-check every access and reload the base after calls).
    pub fn may_move(&self) -> bool {
        self.layout == Layout::Moving
    }

    /// The first byte of the memory (valid until the next growth of a
    /// memory that [`may_move`](Self::may_move)).
    pub fn base(&self) -> *mut u8 {
        self.definition().base
    }

    /// The definition compiled code reads (`base`, `current_length`). Its
    /// address is stable for the memory's lifetime; the runtime stores it
    /// in importing instances' VMContexts.
    pub fn vmmemory_definition(&self) -> *mut VMMemoryDefinition {
        self.definition.as_ptr()
    }

    fn definition(&self) -> &VMMemoryDefinition {
        // SAFETY: `definition` came from `Box::leak` in `new` and is freed
        // only in `drop`; it is only written through `&mut self` (here) or
        // by compiled code, which never writes it (growth goes through the
        // runtime's `memory_grow` builtin, i.e. `grow`).
        unsafe { self.definition.as_ref() }
    }

    /// The memory's bytes.
    pub fn data(&self) -> &[u8] {
        // SAFETY: `0 .. byte_len` is read-write (invariant of the mapping),
        // and `&self` excludes growth (the only thing that moves it).
        // Compiled code writes it only while the store is exclusively
        // borrowed to run it, not while this borrow lives.
        unsafe { core::slice::from_raw_parts(self.mmap.as_ptr(), self.byte_len()) }
    }

    /// The memory's bytes, for writing.
    pub fn data_mut(&mut self) -> &mut [u8] {
        let len = self.byte_len();
        // SAFETY: as for `data`, with `&mut self` making the borrow unique.
        unsafe { core::slice::from_raw_parts_mut(self.mmap.as_mut_ptr(), len) }
    }

    /// Lowers the most pages the memory may grow to to `cap` (a pooling
    /// allocator's `max_memory_size`); a memory already larger is an error.
    pub fn cap_maximum(&mut self, cap: u64) -> Result<(), MemoryError> {
        if self.pages > cap {
            return Err(MemoryError::MinimumExceedsMaximum {
                minimum: self.pages,
                maximum: cap,
            });
        }
        self.maximum = self.maximum.min(cap);
        Ok(())
    }

    /// Empties the memory so that it can be reused ([`reuse`](Self::reuse)):
    /// every accessible page is given back to the kernel and reads as zero
    /// when touched again. The mapping, its protection and the page tables
    /// stay, which is what makes reuse cheaper than a new memory.
    pub fn clear(&mut self) -> Result<(), MemoryError> {
        let len = self.byte_len();
        Ok(self.mmap.discard(0..len)?)
    }

    /// Whether [`reuse`](Self::reuse) can turn this memory into any 32-bit
    /// memory of an engine with `tunables`: it is laid out as a new 32-bit
    /// memory would be (a reservation of `memory_reservation` bytes and
    /// the guard after it).
    pub fn can_reuse(&self, tunables: &Tunables) -> bool {
        self.layout == Layout::Reserved
            && tunables.is_reserved(false)
            && self.mmap.len() - self.guard == tunables.memory_reservation as usize
            && self.guard as u64 == tunables.memory_guard_size
    }

    /// Turns this [`clear`](Self::clear)ed memory into a new one of type
    /// `ty`, as [`new`](Self::new) would make it with `tunables`: `ty.minimum`
    /// accessible pages of zeroes, the rest inaccessible. Only a 32-bit memory
    /// in a reservation (which never moves) is reused; `Ok(false)` says this
    /// one cannot hold a memory of `ty` and nothing changed.
    pub fn reuse(&mut self, ty: &MemoryType, tunables: &Tunables) -> Result<bool, MemoryError> {
        if ty.memory64 || !self.can_reuse(tunables) {
            return Ok(false);
        }
        let declared = ty.maximum.unwrap_or(MAX_PAGES_32).min(MAX_PAGES_32);
        let maximum = declared.min(tunables.memory_reservation / WASM_PAGE_SIZE);
        if ty.minimum > maximum {
            return Err(MemoryError::MinimumExceedsMaximum {
                minimum: ty.minimum,
                maximum,
            });
        }
        // `minimum <= maximum <= reservation / 64 KiB`: inside the mapping.
        let old_bytes = self.byte_len();
        let new_bytes = (ty.minimum * WASM_PAGE_SIZE) as usize;
        if new_bytes > old_bytes {
            self.mmap.make_accessible(old_bytes..new_bytes)?;
        } else {
            self.mmap.make_inaccessible(new_bytes..old_bytes)?;
        }
        self.pages = ty.minimum;
        self.maximum = maximum;
        // SAFETY: as in `grow`; the memory belongs to no instance yet.
        let definition = unsafe { self.definition.as_mut() };
        definition.current_length = ty.minimum * WASM_PAGE_SIZE;
        Ok(true)
    }

    /// Makes `image`'s bytes the memory's contents in its range, and the
    /// rest of a previous image's range zeroes: the memory must be fresh
    /// (new, or [`reuse`](Self::reuse)d) and `image` inside its size. The
    /// image a reused memory still has mapped is kept as it is (its pages
    /// were reset to the image by [`clear`](Self::clear)).
    pub(crate) fn set_image(
        &mut self,
        image: Option<&Arc<MemoryImage>>,
    ) -> Result<(), MemoryError> {
        if self.image.as_ref().map(Arc::as_ptr) == image.map(Arc::as_ptr) {
            return Ok(());
        }
        if let Some(old) = self.image.take() {
            let range = old.range();
            self.mmap.unmap_file_at(range.clone())?;
            let accessible = range.start..range.end.min(self.byte_len());
            if accessible.start < accessible.end {
                self.mmap.make_accessible(accessible)?;
            }
        }
        if let Some(image) = image {
            let range = image.range();
            assert!(
                range.end <= self.byte_len(),
                "an image lies inside its memory's minimum size"
            );
            self.mmap.map_file_at(range, image.fd().as_fd())?;
            self.image = Some(image.clone());
        }
        Ok(())
    }

    /// Grows the memory by `delta` pages of zeroes. Returns the old size in
    /// pages, or `None` (memory unchanged) if the new size would exceed the
    /// maximum (for a 64-bit memory: its reservation) or the kernel refuses
    /// the memory.
    pub fn grow(&mut self, delta: u64) -> Option<u64> {
        let old_pages = self.pages;
        let new_pages = old_pages.checked_add(delta)?;
        if new_pages > self.maximum {
            return None;
        }
        if delta == 0 {
            return Some(old_pages);
        }
        let old_bytes = self.byte_len();
        let new_bytes = pages_to_bytes(new_pages)?;
        match self.layout {
            Layout::Reserved => {
                // `new_pages <= maximum <= reservation / 64 KiB`, so the
                // range is inside the reservation, never in the guard. Only
                // the new pages' protection changes: nothing is copied, and
                // the kernel commits a page when the guest first touches it.
                self.mmap.make_accessible(old_bytes..new_bytes).ok()?;
            }
            Layout::Moving => {
                let mut moved = Mmap::reserve(new_bytes.checked_add(self.guard)?).ok()?;
                moved.make_accessible(0..new_bytes).ok()?;
                copy_accessible_prefix(&self.mmap, &mut moved, old_bytes);
                self.mmap = moved;
            }
        }
        self.pages = new_pages;
        let base = self.mmap.as_mut_ptr();
        // SAFETY: see `definition`; `&mut self` makes this the only access
        // from Rust, and compiled code is not running during the call
        // (it called the builtin that called this and waits for it).
        let definition = unsafe { self.definition.as_mut() };
        definition.base = base;
        definition.current_length = new_pages * WASM_PAGE_SIZE;
        Some(old_pages)
    }
}

/// Copies the first `len` bytes of `from` into `to`; both must have at
/// least `len` accessible bytes.
fn copy_accessible_prefix(from: &Mmap, to: &mut Mmap, len: usize) {
    assert!(
        len <= from.len() && len <= to.len(),
        "copying {len} bytes between mappings of {} and {} bytes",
        from.len(),
        to.len()
    );
    // SAFETY: both ranges are inside their mappings (checked above) and
    // read-write (the callers' invariant: `len` is the old memory's
    // accessible length and the new memory's accessible length is larger);
    // they are different mappings, so they do not overlap.
    unsafe { core::ptr::copy_nonoverlapping(from.as_ptr(), to.as_mut_ptr(), len) }
}

impl Drop for LinearMemory {
    fn drop(&mut self) {
        // SAFETY: `definition` came from `Box::leak` in `new` and is freed
        // exactly once, here. Whoever stored its address (importing
        // instances) must not outlive the memory; the store keeps both.
        drop(unsafe { Box::from_raw(self.definition.as_ptr()) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mmap::tests::protection_at;

    const GIB: u64 = 1 << 30;

    fn reserved() -> Tunables {
        Tunables::default()
    }

    fn unreserved() -> Tunables {
        Tunables {
            memory_reservation: 0,
            memory_guard_size: 64 << 10,
            ..Tunables::DEFAULT
        }
    }

    fn memory32(minimum: u64, maximum: Option<u64>) -> MemoryType {
        MemoryType {
            minimum,
            maximum,
            memory64: false,
        }
    }

    fn current_length(m: &LinearMemory) -> u64 {
        // SAFETY: the definition lives as long as `m`.
        unsafe { (*m.vmmemory_definition()).current_length }
    }

    #[test]
    fn a_reserved_memory_has_its_minimum_accessible_and_the_rest_not() {
        let m = LinearMemory::new(&memory32(2, None), &reserved()).unwrap();
        assert!(!m.may_move());
        assert_eq!(m.pages(), 2);
        assert_eq!(m.byte_len(), 2 << 16);
        assert_eq!(current_length(&m), 2 << 16);
        assert_eq!(m.maximum_pages(), MAX_PAGES_32);
        assert!(m.data().iter().all(|&b| b == 0));
        let base = m.base() as usize;
        assert_eq!(protection_at(base).as_deref(), Some("rw-p"));
        assert_eq!(protection_at(base + (2 << 16) - 1).as_deref(), Some("rw-p"));
        assert_eq!(protection_at(base + (2 << 16)).as_deref(), Some("---p"));
        // The far end of the guard region is still part of the mapping.
        let end = base + (4 * GIB + 2 * GIB) as usize;
        assert_eq!(protection_at(end - 1).as_deref(), Some("---p"));
    }

    #[test]
    fn growth_in_place_keeps_contents_and_base() {
        let mut m = LinearMemory::new(&memory32(1, Some(3)), &reserved()).unwrap();
        let definition = m.vmmemory_definition();
        let base = m.base();
        m.data_mut()[65_535] = 0xAB;
        assert_eq!(m.grow(2), Some(1));
        assert_eq!(m.base(), base);
        assert_eq!(m.vmmemory_definition(), definition);
        assert_eq!(current_length(&m), 3 << 16);
        assert_eq!(m.data()[65_535], 0xAB);
        assert!(m.data()[65_536..].iter().all(|&b| b == 0));
        m.data_mut()[(3 << 16) - 1] = 1;
        assert_eq!(m.grow(0), Some(3));
        assert_eq!(m.grow(1), None, "past the declared maximum");
        assert_eq!(m.pages(), 3);
        assert_eq!(current_length(&m), 3 << 16);
    }

    #[test]
    fn a_reserved_memory_grows_to_exactly_4_gib() {
        let mut m = LinearMemory::new(&memory32(0, None), &reserved()).unwrap();
        assert_eq!(m.byte_len(), 0);
        assert_eq!(m.grow(MAX_PAGES_32), Some(0));
        assert_eq!(current_length(&m), 4 * GIB);
        let base = m.base() as usize;
        assert_eq!(
            protection_at(base + (4 * GIB) as usize - 1).as_deref(),
            Some("rw-p")
        );
        assert_eq!(
            protection_at(base + (4 * GIB) as usize).as_deref(),
            Some("---p")
        );
        assert_eq!(m.grow(1), None);
        assert_eq!(m.grow(u64::MAX), None);
        assert_eq!(m.pages(), MAX_PAGES_32);
    }

    #[test]
    fn limits_are_checked_at_creation() {
        let e = LinearMemory::new(&memory32(2, Some(1)), &reserved()).unwrap_err();
        assert!(
            matches!(
                e,
                MemoryError::MinimumExceedsMaximum {
                    minimum: 2,
                    maximum: 1
                }
            ),
            "{e}"
        );
        let e = LinearMemory::new(&memory32(MAX_PAGES_32 + 1, None), &unreserved()).unwrap_err();
        assert!(
            matches!(e, MemoryError::MinimumExceedsMaximum { .. }),
            "{e}"
        );
        // A declared maximum above 4 GiB is capped by the index type.
        let m = LinearMemory::new(&memory32(0, Some(1 << 20)), &reserved()).unwrap();
        assert_eq!(m.maximum_pages(), MAX_PAGES_32);
    }

    fn memory64(minimum: u64, maximum: Option<u64>) -> MemoryType {
        MemoryType {
            minimum,
            maximum,
            memory64: true,
        }
    }

    #[test]
    fn a_memory64_beyond_its_reservation_or_the_address_space_is_an_error() {
        // 2^40 pages are 2^56 bytes: far beyond the default reservation...
        let e = LinearMemory::new(&memory64(1 << 40, None), &reserved()).unwrap_err();
        assert!(
            matches!(
                e,
                MemoryError::MinimumExceedsMaximum {
                    minimum: 0x100_0000_0000,
                    maximum: 0x2_0000,
                }
            ),
            "{e}"
        );
        // ... and, with a bound of 2^58 bytes, beyond the address space.
        let ty = memory64(1 << 40, None);
        let e = LinearMemory::with_memory64_reservation(&ty, &reserved(), 1 << 58).unwrap_err();
        assert!(matches!(e, MemoryError::Mmap(_)), "{e}");
        assert!(e.to_string().contains("reserving address space"), "{e}");
    }

    #[test]
    fn without_a_reservation_growth_moves_and_keeps_contents() {
        let mut m = LinearMemory::new(&memory32(1, Some(4)), &unreserved()).unwrap();
        assert!(m.may_move());
        let definition = m.vmmemory_definition();
        let base = m.base() as usize;
        assert_eq!(protection_at(base + 65_535).as_deref(), Some("rw-p"));
        assert_eq!(protection_at(base + 65_536).as_deref(), Some("---p"));
        m.data_mut()[0] = 1;
        m.data_mut()[65_535] = 2;
        assert_eq!(m.grow(2), Some(1));
        assert_eq!(
            m.vmmemory_definition(),
            definition,
            "the definition stays put"
        );
        // SAFETY: the definition lives as long as `m`.
        assert_eq!(unsafe { (*definition).base }, m.base());
        assert_eq!(current_length(&m), 3 << 16);
        assert_eq!((m.data()[0], m.data()[65_535]), (1, 2));
        assert!(m.data()[65_536..].iter().all(|&b| b == 0));
        let base = m.base() as usize;
        assert_eq!(protection_at(base + (3 << 16) - 1).as_deref(), Some("rw-p"));
        assert_eq!(protection_at(base + (3 << 16)).as_deref(), Some("---p"));
        assert_eq!(m.grow(2), None);
        assert_eq!(m.grow(1), Some(3));
        assert_eq!(m.data()[65_535], 2);
    }

    #[test]
    fn memory64_grows_in_place_up_to_its_reservation() {
        let bound = 5 * WASM_PAGE_SIZE + 123;
        let mut m = LinearMemory::with_memory64_reservation(&memory64(1, None), &reserved(), bound)
            .unwrap();
        assert!(!m.may_move());
        assert_eq!(m.maximum_pages(), 5, "the bound, in whole pages");
        let definition = m.vmmemory_definition();
        let base = m.base();
        m.data_mut()[42] = 42;
        for old in 1..5 {
            assert_eq!(m.grow(1), Some(old));
            assert_eq!(m.base(), base, "grown in place");
            assert_eq!(current_length(&m), (old + 1) * WASM_PAGE_SIZE);
            let end = base as usize + m.byte_len();
            assert_eq!(protection_at(end - 1).as_deref(), Some("rw-p"));
            assert_eq!(protection_at(end).as_deref(), Some("---p"));
        }
        assert_eq!(m.data()[42], 42);
        assert!(m.data()[WASM_PAGE_SIZE as usize..].iter().all(|&b| b == 0));
        // Past the bound, and far past anything: refused, nothing changed.
        assert_eq!(m.grow(1), None);
        assert_eq!(m.grow(1 << 24), None);
        assert_eq!(m.grow(u64::MAX), None);
        assert_eq!(m.pages(), 5);
        assert_eq!(m.vmmemory_definition(), definition);
        assert_eq!(current_length(&m), 5 * WASM_PAGE_SIZE);
        // The guard region follows the reservation.
        let guard_end = base as usize + 5 * WASM_PAGE_SIZE as usize + (2 * GIB) as usize;
        assert_eq!(protection_at(guard_end - 1).as_deref(), Some("---p"));
    }

    #[test]
    fn memory64_reserves_only_its_declared_maximum() {
        let m = LinearMemory::new(&memory64(1, Some(3)), &reserved()).unwrap();
        assert_eq!(m.maximum_pages(), 3);
        assert_eq!(m.mmap.len(), (3 * WASM_PAGE_SIZE + 2 * GIB) as usize);
        let m = LinearMemory::new(&memory64(0, None), &reserved()).unwrap();
        assert_eq!(
            m.maximum_pages(),
            DEFAULT_MEMORY64_RESERVATION / WASM_PAGE_SIZE
        );
        assert_eq!(
            m.mmap.len(),
            (DEFAULT_MEMORY64_RESERVATION + 2 * GIB) as usize
        );
    }

    #[test]
    fn an_empty_unreserved_memory_without_guard_maps_nothing() {
        let tunables = Tunables::NO_RESERVATION;
        let mut m = LinearMemory::new(&memory32(0, None), &tunables).unwrap();
        assert!(m.data().is_empty());
        assert_eq!(m.grow(1), Some(0));
        assert_eq!(m.data().len(), 65_536);
    }

    /// Set in a child process: which out-of-bounds read to perform.
    const CHILD_ENV: &str = "DUET_MEMORY_TEST_READ_PAST_THE_END";

    /// Runs this test binary again, filtered to `test`, with `CHILD_ENV`
    /// set to `case`, and returns how the child ended.
    fn run_child(test: &str, case: &str) -> std::process::ExitStatus {
        std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", test, "--test-threads=1", "--nocapture"])
            .env(CHILD_ENV, case)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
    }

    /// In the child: reads the byte `past` bytes beyond the end of a
    /// one-page memory, which must kill the process.
    fn read_past_the_end(tunables: &Tunables, past: usize) -> ! {
        let m = LinearMemory::new(&memory32(1, None), tunables).unwrap();
        let address = m.base().wrapping_add(m.byte_len() + past);
        // SAFETY: not a sound read, deliberately: the page is inaccessible,
        // so the kernel kills the (child) process with SIGSEGV before any
        // value is produced, which is what the parent checks.
        let byte = unsafe { address.read_volatile() };
        // Not reached if the memory is laid out correctly.
        std::process::exit(i32::from(byte) + 100)
    }

    #[test]
    fn reading_past_the_end_faults() {
        use std::os::unix::process::ExitStatusExt;
        const SIGSEGV: i32 = 11;
        match std::env::var(CHILD_ENV).as_deref() {
            Ok("reserved") => read_past_the_end(&reserved(), 0),
            Ok("reserved-far") => read_past_the_end(&reserved(), (4 * GIB) as usize),
            Ok("unreserved") => read_past_the_end(&unreserved(), 0),
            Ok(other) => panic!("unknown case {other}"),
            Err(_) => {}
        }
        let test = "memory::tests::reading_past_the_end_faults";
        for case in ["reserved", "reserved-far", "unreserved"] {
            let status = run_child(test, case);
            assert_eq!(
                status.signal(),
                Some(SIGSEGV),
                "{case}: the child should die with SIGSEGV, it ended with {status}"
            );
        }
    }
}
