//! Memory images: a module's initial linear memory contents, built once
//! per module, and mapped copy-on-write into each instance's memory
//! instead of copying the data segments into it every time.
//!
//! # What an image is
//!
//! ```text
//!  module's active data segments for memory m (constant offsets)
//!        │ laid out in order (a later segment overwrites an earlier one)
//!        ▼
//!  memfd: the bytes of [start, end), both rounded out to whole pages
//!        │ per instance: mmap(base + start, end - start, read-write,
//!        │               MAP_PRIVATE | MAP_FIXED, memfd, 0)
//!        ▼
//!  linear memory:  ├─ zero ─┼──── image (copy-on-write) ────┼─ zero ──── ┤
//!                  0       start                           end      minimum
//! ```
//!
//! Mapping is one system call whatever the data's size, and the pages are
//! shared with the page cache until the instance writes them: an instance
//! that only reads its data never copies it, and one that touches nothing
//! faults nothing in. With the pooling allocator the mapping stays in the
//! memory's slot: `madvise(MADV_DONTNEED)` on a private file mapping
//! drops the instance's private copies, so the next instance of the same
//! module finds the image again without any system call but that one
//! (`memory.rs`, `LinearMemory::reuse`).
//!
//! # When a module has images
//!
//! Only when mapping them as the memories are made is exactly what copying
//! the segments in order later would do. That holds when every active data
//! segment of the module targets a 32-bit memory the module defines (not
//! an import, whose contents the module does not own), at a constant
//! offset, inside the memory's minimum size, and each such memory is laid
//! out in a reservation (so that it never moves, and has room for the
//! mapping); and every active element segment targets a table the module
//! defines, at a constant offset, inside its minimum size. Then no segment
//! can trap, nothing between the memory's creation and the data segments
//! reads the memory (globals, tables and element segments do not), and the
//! image's bytes are the memory's bytes after the last segment. Otherwise the module has no
//! images and instantiation copies each segment, as before. Memories
//! without active segments get no image (they start as zeroes anyway).
//!
//! An image that cannot be created (no memfd, say) is no error: the module
//! copies its segments instead.

use crate::mmap::Mmap;
use crate::module::Module;
use duet_environ::module::{DataKind, ElementKind, Module as ModuleInfo};
use duet_environ::tunables::Tunables;
use rustix::fd::OwnedFd;
use std::sync::Arc;

/// One memory's initial contents in a memfd (see the module docs).
#[derive(Debug)]
pub(crate) struct MemoryImage {
    fd: OwnedFd,
    /// Where the image starts in the linear memory (page-aligned).
    offset: usize,
    /// Its length (whole pages).
    len: usize,
}

impl MemoryImage {
    /// The memfd holding the bytes.
    pub(crate) fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// The byte range of the linear memory the image covers.
    pub(crate) fn range(&self) -> core::ops::Range<usize> {
        self.offset..self.offset + self.len
    }
}

/// The images of a module's defined memories, by defined-memory index
/// (`None` for a memory without active segments), if the module has images
/// at all (see the module docs).
pub(crate) type ModuleImages = Option<Box<[Option<Arc<MemoryImage>>]>>;

impl Module {
    /// The images of the module's defined memories, built on the first
    /// instantiation.
    pub(crate) fn images(&self) -> &ModuleImages {
        self.inner
            .images
            .get_or_init(|| build(&self.inner.info, &self.inner.engine.tunables()))
    }
}

/// Builds the images of `info`'s defined memories, or `None` if the module
/// does not qualify or a memfd cannot be made.
pub(crate) fn build(info: &ModuleInfo, tunables: &Tunables) -> ModuleImages {
    let imported = info.num_imported_memories as usize;
    let defined = &info.memories[imported..];
    // Each defined memory's segments: (offset, bytes).
    let mut segments: Vec<Vec<(usize, &[u8])>> = vec![Vec::new(); defined.len()];
    for segment in &info.data {
        let DataKind::Active { memory, offset } = &segment.kind else {
            continue;
        };
        let index = memory.index().checked_sub(imported)?;
        let ty = &defined[index];
        if ty.memory64 || ty.shared || ty.page_size_log2 != 16 || !tunables.is_reserved(false) {
            return None;
        }
        let offset = usize::try_from(offset.as_constant_offset()?).ok()?;
        let end = offset.checked_add(segment.bytes.len())?;
        if end as u64 > ty.minimum_pages << 16 {
            return None;
        }
        segments[index].push((offset, &segment.bytes));
    }
    // No element segment may trap either: the images are mapped when the
    // memories are made, before the element segments run.
    for segment in &info.elements {
        let ElementKind::Active { table, offset } = &segment.kind else {
            continue;
        };
        let index = table
            .index()
            .checked_sub(info.num_imported_tables as usize)?;
        let end = offset
            .as_constant_offset()?
            .checked_add(segment.items.len() as u64)?;
        if end
            > info
                .tables
                .get(index + info.num_imported_tables as usize)?
                .minimum
        {
            return None;
        }
    }
    // A memory without segments has no image (`None` inside); a memfd
    // that cannot be made leaves the module without images (`None`).
    segments
        .iter()
        .map(|segments| image(segments).map(|image| image.map(Arc::new)))
        .collect()
}

/// The image of one memory's segments: `Some(None)` if they are all empty,
/// `None` if the memfd could not be made.
fn image(segments: &[(usize, &[u8])]) -> Option<Option<MemoryImage>> {
    let page = Mmap::page_size();
    let non_empty = segments.iter().filter(|(_, bytes)| !bytes.is_empty());
    let start = non_empty.clone().map(|&(offset, _)| offset).min();
    let end = non_empty.map(|&(offset, bytes)| offset + bytes.len()).max();
    let (Some(start), Some(end)) = (start, end) else {
        return Some(None);
    };
    let start = start / page * page;
    let end = Mmap::round_up_to_page(end)?;
    let mut bytes = vec![0u8; end - start];
    // An empty segment may lie anywhere in the memory's minimum, outside
    // the image's range: it writes nothing.
    for &(offset, data) in segments.iter().filter(|(_, data)| !data.is_empty()) {
        bytes[offset - start..offset - start + data.len()].copy_from_slice(data);
    }
    let fd = rustix::fs::memfd_create("duet-memory-image", rustix::fs::MemfdFlags::CLOEXEC).ok()?;
    rustix::fs::ftruncate(&fd, bytes.len() as u64).ok()?;
    let mut written = 0;
    while written < bytes.len() {
        match rustix::io::pwrite(&fd, &bytes[written..], written as u64).ok()? {
            0 => return None,
            n => written += n,
        }
    }
    Some(Some(MemoryImage {
        fd,
        offset: start,
        len: end - start,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Empty segments before and past the data change nothing (the
    /// differential test found an instantiation that panicked on them).
    #[test]
    fn empty_segments_outside_the_data_write_nothing() {
        let page = Mmap::page_size();
        let segments: [(usize, &[u8]); 4] = [
            (page + 100, b"ab"),
            (0, b""),
            (13 * page + 5, b""),
            (page + 101, b"c"),
        ];
        let built = image(&segments).expect("a memfd").expect("an image");
        assert_eq!(built.range(), page..2 * page);
        let mut bytes = [0xffu8; 3];
        rustix::io::pread(built.fd(), &mut bytes, 100).unwrap();
        assert_eq!(bytes, [b'a', b'c', 0]);
        assert!(matches!(image(&[(7, b"")]), Some(None)));
    }
}
