//! [`GuestMemory`]: the guest's linear memory as WASI functions see it,
//! every access bounds-checked.
//!
//! A guest pointer is a `u32` offset into the memory; a region is a pointer
//! and a length. A region is valid when `pointer + length <= memory size`,
//! computed in `u64` so that no sum wraps; anything else is
//! [`Errno::Fault`], never a panic. Records are read and written
//! little-endian at any alignment (witx's alignment is not enforced:
//! wasi-libc always aligns, and an unaligned read is no danger here).
//!
//! The memory is borrowed for one WASI call only: a call may not keep a
//! slice across anything that could grow the memory, and nothing can while
//! the host function runs (the guest is suspended in it).
//!
//! # Guest counts never size host allocations
//!
//! A guest chooses the counts WASI functions receive (how many `iovec`s,
//! how many subscriptions, how long a buffer), up to 2^32 - 1 each. The
//! host never allocates in proportion to one: an array of records is
//! checked against the memory as a whole ([`GuestMemory::iovecs`] returns
//! an [`IoVecArray`], a checked pointer and count) and its records are
//! read from guest memory one at a time when they are used, never copied
//! out. A count whose array runs past the memory is therefore `EFAULT`
//! after one comparison, and one that fits costs host time in proportion
//! to the records the call actually visits, and no host memory.
//!
//! Reading lazily means a record is read as it is when it is used: if a
//! call writes into guest memory that holds its own array (an `fd_read`
//! whose buffer overlaps its `iovec`s), the records after that write are
//! read as written. That is the guest's doing; every record is still
//! bounds-checked when it is used, so the host stays safe and data already
//! transferred is still reported.

use super::types::{Errno, layout};

/// The guest's memory during one WASI call.
pub(crate) struct GuestMemory<'a> {
    bytes: &'a mut [u8],
}

/// One `iovec` (or `ciovec`): a guest buffer.
#[derive(Copy, Clone, Debug)]
pub(crate) struct IoVec {
    pub(crate) pointer: u32,
    pub(crate) length: u32,
}

impl<'a> GuestMemory<'a> {
    pub(crate) fn new(bytes: &'a mut [u8]) -> GuestMemory<'a> {
        GuestMemory { bytes }
    }

    /// The byte range of the region at `pointer` of `length` bytes.
    fn range(&self, pointer: u32, length: u32) -> Result<core::ops::Range<usize>, Errno> {
        let end = u64::from(pointer) + u64::from(length);
        if end > self.bytes.len() as u64 {
            return Err(Errno::Fault);
        }
        Ok(pointer as usize..end as usize)
    }

    /// The region at `pointer` of `length` bytes.
    pub(crate) fn slice(&self, pointer: u32, length: u32) -> Result<&[u8], Errno> {
        let range = self.range(pointer, length)?;
        Ok(&self.bytes[range])
    }

    /// The region at `pointer` of `length` bytes, for writing.
    pub(crate) fn slice_mut(&mut self, pointer: u32, length: u32) -> Result<&mut [u8], Errno> {
        let range = self.range(pointer, length)?;
        Ok(&mut self.bytes[range])
    }

    /// Writes `bytes` at `pointer`.
    pub(crate) fn write(&mut self, pointer: u32, bytes: &[u8]) -> Result<(), Errno> {
        let length = u32::try_from(bytes.len()).map_err(|_| Errno::Fault)?;
        self.slice_mut(pointer, length)?.copy_from_slice(bytes);
        Ok(())
    }

    /// Writes a `u32` at `pointer`.
    pub(crate) fn write_u32(&mut self, pointer: u32, value: u32) -> Result<(), Errno> {
        self.write(pointer, &value.to_le_bytes())
    }

    /// Writes a `u64` at `pointer`.
    pub(crate) fn write_u64(&mut self, pointer: u32, value: u64) -> Result<(), Errno> {
        self.write(pointer, &value.to_le_bytes())
    }

    /// The UTF-8 string at `pointer` of `length` bytes (a path):
    /// [`Errno::Ilseq`] if it is not UTF-8, as in Wasmtime.
    pub(crate) fn str(&self, pointer: u32, length: u32) -> Result<&str, Errno> {
        core::str::from_utf8(self.slice(pointer, length)?).map_err(|_| Errno::Ilseq)
    }

    /// The array of `count` `iovec`s at `pointer`, checked to lie inside
    /// the memory (`EFAULT` otherwise), without reading it. The buffers
    /// themselves are checked when they are used.
    pub(crate) fn iovecs(&self, pointer: u32, count: u32) -> Result<IoVecArray, Errno> {
        let size = count.checked_mul(layout::IOVEC_SIZE).ok_or(Errno::Fault)?;
        self.range(pointer, size)?;
        Ok(IoVecArray { pointer, count })
    }

    /// Entry `index` of `array`, read from the memory now. `EFAULT` only if
    /// `index` is out of the array or the array is not in this memory,
    /// neither of which a checked array and an index below its count can
    /// be.
    pub(crate) fn iovec(&self, array: IoVecArray, index: u32) -> Result<IoVec, Errno> {
        if index >= array.count {
            return Err(Errno::Fault);
        }
        // `index * IOVEC_SIZE < count * IOVEC_SIZE`, which `iovecs` checked
        // fits in a `u32` and lies inside the memory.
        let at = array.pointer + index * layout::IOVEC_SIZE;
        let record = self.slice(at, layout::IOVEC_SIZE)?;
        Ok(IoVec {
            pointer: u32::from_le_bytes(record[0..4].try_into().expect("4 bytes")),
            length: u32::from_le_bytes(record[4..8].try_into().expect("4 bytes")),
        })
    }
}

/// An array of `iovec`s in guest memory, checked by
/// [`GuestMemory::iovecs`] to lie inside it; the entries are read one at a
/// time with [`GuestMemory::iovec`].
#[derive(Copy, Clone, Debug)]
pub(crate) struct IoVecArray {
    pointer: u32,
    count: u32,
}

impl IoVecArray {
    /// How many entries the array has.
    pub(crate) fn len(&self) -> u32 {
        self.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_past_the_end_are_faults_not_panics() {
        let mut bytes = vec![0u8; 16];
        let mut memory = GuestMemory::new(&mut bytes);
        assert!(memory.slice(0, 16).is_ok());
        assert!(memory.slice(16, 0).is_ok());
        assert_eq!(memory.slice(16, 1).err(), Some(Errno::Fault));
        assert_eq!(memory.slice(u32::MAX, u32::MAX).err(), Some(Errno::Fault));
        assert_eq!(memory.write_u32(13, 1).err(), Some(Errno::Fault));
        assert_eq!(memory.iovecs(0, u32::MAX).err(), Some(Errno::Fault));
        assert_eq!(memory.iovecs(8, 2).err(), Some(Errno::Fault));
        assert_eq!(memory.iovecs(0, 1 << 27).err(), Some(Errno::Fault));
        let array = memory.iovecs(8, 1).unwrap();
        assert_eq!(array.len(), 1);
        assert_eq!(memory.iovec(array, 1).err(), Some(Errno::Fault));
        memory.write_u64(8, 0x0102_0304_0506_0708).unwrap();
        assert_eq!(memory.slice(8, 8).unwrap(), [8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(memory.write_u64(9, 0).err(), Some(Errno::Fault));
    }

    #[test]
    fn iovecs_are_read_from_the_memory_when_asked_for() {
        let mut bytes = vec![0u8; 24];
        let mut memory = GuestMemory::new(&mut bytes);
        memory.write_u32(8, 16).unwrap();
        memory.write_u32(12, 3).unwrap();
        let array = memory.iovecs(8, 2).unwrap();
        let first = memory.iovec(array, 0).unwrap();
        assert_eq!((first.pointer, first.length), (16, 3));
        // Not a copy: a write to the array is seen by the next read.
        memory.write_u32(12, 5).unwrap();
        assert_eq!(memory.iovec(array, 0).unwrap().length, 5);
        let second = memory.iovec(array, 1).unwrap();
        assert_eq!((second.pointer, second.length), (0, 0));
    }

    #[test]
    fn paths_must_be_utf8() {
        let mut bytes = b"ok\xff".to_vec();
        let memory = GuestMemory::new(&mut bytes);
        assert_eq!(memory.str(0, 2).unwrap(), "ok");
        assert_eq!(memory.str(0, 3).err(), Some(Errno::Ilseq));
    }
}
