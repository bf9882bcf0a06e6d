//! WebAssembly tables: growable arrays of pointer-sized elements.
//!
//! An element is a `usize`: for `funcref` tables a `*const VMFuncRef`, for
//! `externref` tables a host handle; `0` is null in both. Compiled code
//! inlines `table.get`, `table.set`, `table.size` and `call_indirect` by
//! reading the table's [`VMTableDefinition`] (`base`, `current_elements`),
//! and calls runtime builtins for the rest (`grow`, `fill`, `copy`, `init`),
//! which end up here.
//!
//! ```text
//!  VMTableDefinition (own allocation, never moves)
//!    base ──────────────► [e0][e1][e2] ... [e(n-1)]   (may move on growth)
//!    current_elements = n
//! ```
//!
//! The elements live in one of two places:
//!
//! * **on the heap** (a `Vec`, the on-demand strategy and host tables):
//!   growth may move them (a reallocation);
//! * **in a pool slot** (`Table::in_slot`, an instance's table under the
//!   pooling allocator, `pool.rs`): a mapping with room for the pool's
//!   `table_elements`, which reads as zero beyond the table's size.
//!   Growth writes the new elements in place and never moves them; the
//!   table's maximum is at most the slot's capacity, so growth past it
//!   fails as past any maximum. `Table::take_slot` zeroes what the table
//!   wrote and hands the slot back for the next table.
//!
//! Either way the definition is updated in the same call as any growth,
//! and compiled code reloads `base` from the definition on every access,
//! so a move is never observed. The definition itself lives in its own
//! allocation for the table's lifetime, so importers can point at it.
//!
//! Every operation checks its bounds and returns a [`TableError`] (which
//! the builtins turn into a `TableOutOfBounds` trap); none panics.
//! Out-of-bounds bulk operations change nothing, as the spec requires.

use core::ptr::NonNull;

use crate::pool::SlotMemory;
use crate::vm::VMTableDefinition;

/// The most elements a table may have. Far below the spec's 2^32 - 1 limit
/// for 32-bit tables: it keeps a module from making the host allocate
/// gigabytes of table (the spec lets `table.grow` fail for any reason, and
/// `Table::new` reports the limit as an error).
pub const MAX_TABLE_ELEMENTS: u64 = 10_000_000;

/// A table operation that failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// An access past the end of the table.
    #[error(
        "out of bounds table access: {len} elements at index {index} in a table of {size} elements"
    )]
    OutOfBounds {
        /// The first element accessed.
        index: u64,
        /// How many elements were accessed.
        len: u64,
        /// The table's size.
        size: u64,
    },
    /// A table created with more elements than its maximum (or than
    /// [`MAX_TABLE_ELEMENTS`]).
    #[error("a table of {minimum} elements exceeds its maximum of {maximum} elements")]
    MinimumExceedsMaximum {
        /// The requested size.
        minimum: u64,
        /// The effective maximum.
        maximum: u64,
    },
    /// The allocator refused the elements.
    #[error("could not allocate a table of {elements} elements")]
    OutOfMemory {
        /// The requested size.
        elements: u64,
    },
}

/// Where a table's elements live. See the [module docs](self).
#[derive(Debug)]
enum Elements {
    /// A vector that growth may reallocate.
    Heap(Vec<usize>),
    /// The first `len` elements of a pool slot; the rest of the slot reads
    /// as zero.
    Slot { slot: SlotMemory, len: usize },
}

/// A table. See the [module docs](self).
#[derive(Debug)]
pub struct Table {
    /// The elements; `definition.base` points at the first one.
    elements: Elements,
    /// The most elements growth may reach.
    maximum: u64,
    /// What compiled code reads; a `Box` leaked with `Box::into_raw` so the
    /// address is stable and every write goes through this one raw pointer.
    definition: NonNull<VMTableDefinition>,
}

// SAFETY: the table owns its elements and definition exclusively (raw
// pointers to owned allocations, like a `Vec`'s); `&Table` only reads.
unsafe impl Send for Table {}
// SAFETY: see `Send`.
unsafe impl Sync for Table {}

impl Table {
    /// A table of `minimum` elements, each `init`, that may grow to
    /// `maximum` (if declared; at most [`MAX_TABLE_ELEMENTS`]).
    pub fn new(minimum: u64, maximum: Option<u64>, init: usize) -> Result<Table, TableError> {
        let maximum = maximum
            .unwrap_or(MAX_TABLE_ELEMENTS)
            .min(MAX_TABLE_ELEMENTS);
        if minimum > maximum {
            return Err(TableError::MinimumExceedsMaximum { minimum, maximum });
        }
        let mut elements = Vec::new();
        // Cannot truncate: `minimum <= MAX_TABLE_ELEMENTS`.
        let count = minimum as usize;
        elements
            .try_reserve_exact(count)
            .map_err(|_| TableError::OutOfMemory { elements: minimum })?;
        elements.resize(count, init);
        Ok(Table::with_elements(Elements::Heap(elements), maximum))
    }

    /// A table of `minimum` elements, each `init`, in the pool slot `slot`
    /// (which reads as zero), that may grow to `maximum` and no further
    /// than the slot's capacity, without ever moving its elements.
    pub(crate) fn in_slot(
        mut slot: SlotMemory,
        minimum: u64,
        maximum: u64,
        init: usize,
    ) -> Result<Table, TableError> {
        let capacity = (slot.len() / size_of::<usize>()) as u64;
        let maximum = maximum.min(capacity).min(MAX_TABLE_ELEMENTS);
        if minimum > maximum {
            return Err(TableError::MinimumExceedsMaximum { minimum, maximum });
        }
        // Cannot truncate: `minimum <= MAX_TABLE_ELEMENTS`.
        let len = minimum as usize;
        if init != 0 {
            // SAFETY: the slot is page-aligned (so aligned for `usize`) and
            // holds `capacity >= len` elements; nothing else refers to it.
            unsafe { core::slice::from_raw_parts_mut(slot.as_mut_ptr().cast(), len) }.fill(init);
        }
        Ok(Table::with_elements(Elements::Slot { slot, len }, maximum))
    }

    fn with_elements(elements: Elements, maximum: u64) -> Table {
        let definition = Box::new(VMTableDefinition {
            base: core::ptr::null_mut(),
            current_elements: 0,
        });
        let mut table = Table {
            elements,
            maximum,
            definition: NonNull::from(Box::leak(definition)),
        };
        table.sync_definition();
        table
    }

    /// Hands back the table's pool slot, zeroed as it was given (see
    /// `pool.rs`), leaving the table empty; `None` for a table on the
    /// heap, or if zeroing failed (then the slot is unmapped).
    pub(crate) fn take_slot(&mut self) -> Option<SlotMemory> {
        let Elements::Slot { slot, len } =
            core::mem::replace(&mut self.elements, Elements::Heap(Vec::new()))
        else {
            return None;
        };
        self.sync_definition();
        // Tables never shrink: the first `len` elements are all that was
        // ever written.
        slot.reset(len * size_of::<usize>()).ok()
    }

    /// The number of elements.
    pub fn size(&self) -> u64 {
        self.elements().len() as u64
    }

    /// The most elements the table can grow to.
    pub fn maximum(&self) -> u64 {
        self.maximum
    }

    /// The definition compiled code reads (`base`, `current_elements`). Its
    /// address is stable for the table's lifetime.
    pub fn vmtable_definition(&self) -> *mut VMTableDefinition {
        self.definition.as_ptr()
    }

    /// The elements.
    pub fn elements(&self) -> &[usize] {
        match &self.elements {
            Elements::Heap(elements) => elements,
            // SAFETY: the slot is page-aligned and holds at least `len`
            // elements, which `&self` keeps from changing.
            Elements::Slot { slot, len } => unsafe {
                core::slice::from_raw_parts(slot.as_ptr().cast(), *len)
            },
        }
    }

    /// The elements, for writing.
    fn elements_mut(&mut self) -> &mut [usize] {
        match &mut self.elements {
            Elements::Heap(elements) => elements,
            // SAFETY: as in `elements`, with `&mut self` for exclusivity.
            Elements::Slot { slot, len } => unsafe {
                core::slice::from_raw_parts_mut(slot.as_mut_ptr().cast(), *len)
            },
        }
    }

    /// Grows the table by `delta` elements, each `init`. Returns the old
    /// size, or `None` (table unchanged) past the maximum or when the
    /// allocator refuses.
    pub fn grow(&mut self, delta: u64, init: usize) -> Option<u64> {
        let old = self.size();
        let new = old.checked_add(delta).filter(|&n| n <= self.maximum)?;
        // Cannot truncate: `new <= MAX_TABLE_ELEMENTS`.
        let (old_len, new_len) = (old as usize, new as usize);
        match &mut self.elements {
            Elements::Heap(elements) => {
                elements.try_reserve_exact(new_len - old_len).ok()?;
                elements.resize(new_len, init);
            }
            Elements::Slot { len, .. } => {
                // In place: `in_slot` capped the maximum at the slot's
                // capacity, so the slot holds `new_len` elements.
                *len = new_len;
                self.elements_mut()[old_len..].fill(init);
            }
        }
        self.sync_definition();
        Some(old)
    }

    /// Element `index`.
    pub fn get(&self, index: u64) -> Result<usize, TableError> {
        let range = self.checked_range(index, 1)?;
        Ok(self.elements()[range.start])
    }

    /// Sets element `index` to `value`.
    pub fn set(&mut self, index: u64, value: usize) -> Result<(), TableError> {
        let range = self.checked_range(index, 1)?;
        self.elements_mut()[range.start] = value;
        Ok(())
    }

    /// Sets `len` elements from `dst` to `value` (`table.fill`).
    pub fn fill(&mut self, dst: u64, value: usize, len: u64) -> Result<(), TableError> {
        let range = self.checked_range(dst, len)?;
        self.elements_mut()[range].fill(value);
        Ok(())
    }

    /// Copies `len` elements from `src` to `dst` within this table; the
    /// ranges may overlap (`table.copy` with one table).
    pub fn copy_within(&mut self, dst: u64, src: u64, len: u64) -> Result<(), TableError> {
        let src = self.checked_range(src, len)?;
        let dst = self.checked_range(dst, len)?;
        self.elements_mut().copy_within(src, dst.start);
        Ok(())
    }

    /// Copies `len` elements from `src` in `src_table` to `dst` in `dst_table`
    /// (`table.copy` between two tables).
    pub fn copy(
        dst_table: &mut Table,
        dst: u64,
        src_table: &Table,
        src: u64,
        len: u64,
    ) -> Result<(), TableError> {
        let src = src_table.checked_range(src, len)?;
        let dst = dst_table.checked_range(dst, len)?;
        dst_table.elements_mut()[dst].copy_from_slice(&src_table.elements()[src]);
        Ok(())
    }

    /// Writes `items` starting at `dst` (`table.init` and element segments,
    /// once the segment's range has been checked by the caller).
    pub fn init(&mut self, dst: u64, items: &[usize]) -> Result<(), TableError> {
        let range = self.checked_range(dst, items.len() as u64)?;
        self.elements_mut()[range].copy_from_slice(items);
        Ok(())
    }

    /// `index .. index + len` as a `usize` range, if it is inside the table.
    fn checked_range(&self, index: u64, len: u64) -> Result<core::ops::Range<usize>, TableError> {
        let size = self.size();
        match index.checked_add(len) {
            // Cannot truncate: both are at most the table's size.
            Some(end) if end <= size => Ok(index as usize..end as usize),
            _ => Err(TableError::OutOfBounds { index, len, size }),
        }
    }

    /// Points the definition at the elements again (after they may have
    /// moved or changed length).
    fn sync_definition(&mut self) {
        let base = self.elements_mut().as_mut_ptr();
        let current_elements = self.size();
        // SAFETY: `definition` came from `Box::leak` in `new` and is freed
        // only in `drop`; `&mut self` makes this the only access from Rust,
        // and compiled code never writes the definition.
        let definition = unsafe { self.definition.as_mut() };
        definition.base = base;
        definition.current_elements = current_elements;
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        // SAFETY: `definition` came from `Box::leak` in `new` and is freed
        // exactly once, here.
        drop(unsafe { Box::from_raw(self.definition.as_ptr()) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definition(t: &Table) -> (*mut usize, u64) {
        // SAFETY: the definition lives as long as `t`.
        let d = unsafe { &*t.vmtable_definition() };
        (d.base, d.current_elements)
    }

    #[test]
    fn a_new_table_is_filled_and_described() {
        let t = Table::new(3, Some(5), 7).unwrap();
        assert_eq!(t.size(), 3);
        assert_eq!(t.elements(), &[7, 7, 7]);
        let (base, len) = definition(&t);
        assert_eq!(len, 3);
        assert_eq!(base.cast_const(), t.elements().as_ptr());
        // SAFETY: `base` points at the table's 3 elements.
        assert_eq!(unsafe { *base.add(2) }, 7);
    }

    #[test]
    fn growth_respects_the_maximum_and_updates_the_definition() {
        let mut t = Table::new(1, Some(4), 0).unwrap();
        let address = t.vmtable_definition();
        t.set(0, 11).unwrap();
        assert_eq!(t.grow(2, 9), Some(1));
        assert_eq!(t.elements(), &[11, 9, 9]);
        assert_eq!(t.vmtable_definition(), address, "the definition stays put");
        let (base, len) = definition(&t);
        assert_eq!((base.cast_const(), len), (t.elements().as_ptr(), 3));
        assert_eq!(t.grow(2, 0), None);
        assert_eq!(t.grow(u64::MAX, 0), None);
        assert_eq!(t.size(), 3);
        assert_eq!(t.grow(0, 0), Some(3));
        assert_eq!(t.grow(1, 0), Some(3));
        assert_eq!(definition(&t).1, 4);
    }

    #[test]
    fn an_unbounded_table_stops_at_the_host_limit() {
        let mut t = Table::new(0, None, 0).unwrap();
        assert_eq!(t.maximum(), MAX_TABLE_ELEMENTS);
        assert_eq!(t.grow(0xffff_fff0, 0), None);
        assert_eq!(
            Table::new(MAX_TABLE_ELEMENTS + 1, None, 0).unwrap_err(),
            TableError::MinimumExceedsMaximum {
                minimum: MAX_TABLE_ELEMENTS + 1,
                maximum: MAX_TABLE_ELEMENTS
            }
        );
        assert!(matches!(
            Table::new(2, Some(1), 0),
            Err(TableError::MinimumExceedsMaximum { .. })
        ));
    }

    #[test]
    fn accesses_are_bounds_checked() {
        let mut t = Table::new(4, None, 0).unwrap();
        t.set(3, 1).unwrap();
        assert_eq!(t.get(3), Ok(1));
        let oob = TableError::OutOfBounds {
            index: 4,
            len: 1,
            size: 4,
        };
        assert_eq!(t.get(4), Err(oob.clone()));
        assert_eq!(t.set(4, 1), Err(oob));
        assert!(t.get(u64::MAX).is_err());
        assert!(t.fill(u64::MAX, 1, 2).is_err(), "index + len overflows");
        assert!(
            t.get(9)
                .unwrap_err()
                .to_string()
                .starts_with("out of bounds table access")
        );
    }

    #[test]
    fn a_table_in_a_slot_grows_in_place_and_gives_the_slot_back_zeroed() {
        let slot = SlotMemory::new(16 * size_of::<usize>()).unwrap();
        let capacity = (slot.len() / size_of::<usize>()) as u64;
        let mut t = Table::in_slot(slot, 2, 10, 5).unwrap();
        assert_eq!(t.maximum(), 10);
        assert_eq!(t.elements(), &[5, 5]);
        let address = t.vmtable_definition();
        let (base, _) = definition(&t);
        assert_eq!(t.grow(3, 6), Some(2));
        assert_eq!(t.elements(), &[5, 5, 6, 6, 6]);
        assert_eq!(definition(&t), (base, 5), "the elements did not move");
        assert_eq!(t.vmtable_definition(), address);
        t.fill(0, 1, 2).unwrap();
        t.copy_within(3, 0, 2).unwrap();
        assert_eq!(t.elements(), &[1, 1, 6, 1, 1]);
        assert_eq!(t.grow(6, 0), None, "past the maximum");
        assert_eq!(t.grow(5, 0), Some(5));
        let slot = t.take_slot().unwrap();
        assert_eq!(definition(&t).1, 0, "the table is empty after");
        // The whole slot is zero again, the elements past the table's
        // size included.
        // SAFETY: the slot's `len()` bytes are mapped.
        let bytes = unsafe { core::slice::from_raw_parts(slot.as_ptr(), slot.len()) };
        assert!(bytes.iter().all(|&b| b == 0));
        // The slot's capacity bounds the maximum, whatever is asked.
        let t = Table::in_slot(slot, 0, u64::MAX, 0).unwrap();
        assert_eq!(t.maximum(), capacity);
        assert!(matches!(
            Table::in_slot(SlotMemory::new(8).unwrap(), capacity + 1, u64::MAX, 0),
            Err(TableError::MinimumExceedsMaximum { .. })
        ));
        assert!(Table::new(1, None, 0).unwrap().take_slot().is_none());
    }

    #[test]
    fn fill_copy_and_init() {
        let mut t = Table::new(6, None, 0).unwrap();
        t.fill(1, 5, 3).unwrap();
        assert_eq!(t.elements(), &[0, 5, 5, 5, 0, 0]);
        t.init(0, &[1, 2, 3]).unwrap();
        assert_eq!(t.elements(), &[1, 2, 3, 5, 0, 0]);
        // Overlapping, forwards.
        t.copy_within(2, 0, 4).unwrap();
        assert_eq!(t.elements(), &[1, 2, 1, 2, 3, 5]);
        // Zero-length at the end is in bounds; one past is not.
        t.fill(6, 9, 0).unwrap();
        assert!(t.fill(7, 9, 0).is_err());
        // Out of bounds changes nothing.
        assert!(t.fill(4, 9, 3).is_err());
        assert!(t.copy_within(0, 3, 4).is_err());
        assert!(t.init(5, &[7, 7]).is_err());
        assert_eq!(t.elements(), &[1, 2, 1, 2, 3, 5]);

        let mut other = Table::new(3, None, 0).unwrap();
        Table::copy(&mut other, 1, &t, 4, 2).unwrap();
        assert_eq!(other.elements(), &[0, 3, 5]);
        assert!(Table::copy(&mut other, 2, &t, 0, 2).is_err());
    }
}
