//! Executable memory: finished functions laid out in one mapping, linked,
//! and then made executable.
//!
//! ```text
//!  UnlinkedCode::new(functions)      map read-write, fill with the ISA's padding (int3),
//!        │                           copy each function at its alignment
//!        │  function_address(i)      final addresses are known from here on
//!        ▼
//!  UnlinkedCode::link(resolve)       patch every relocation, then mprotect
//!        │                           the whole mapping read+execute
//!        ▼
//!  CodeMemory                        lookup(pc) -> (function, offset)
//!
//!  mapping:  ┌─f0──────┐pad┌─f1────────────┐pad┌─f2──┐ int3 … page end
//!            0         16  32                   64
//! ```
//!
//! W^X: the mapping is read-write while bytes are copied and patched, and
//! read+execute afterwards; no page is ever writable and executable at
//! once, and once a [`CodeMemory`] exists its code never changes. The two
//! phases are two types, so code cannot be run before it is linked, nor
//! patched after it is executable. (x86-64 keeps instruction fetch coherent
//! with stores, so no cache flush is needed between the phases.)
//!
//! Relocations (`cranelift_asm::RelocKind`), with `S` the resolved target
//! address, `A` the addend and `P` the patched field's address:
//!
//! | kind | field | value |
//! |---|---|---|
//! | `Abs64` | 8 bytes | `S + A` |
//! | `PcRel32`, `CallPcRel32` | 4 bytes, signed | `S + A - P`, which must fit in `i32` |
//!
//! The resolver maps each relocation's `ExternalName` to an address; what
//! the names mean (other functions of the module, builtins, trampolines) is
//! the caller's convention. Because the final addresses are known before
//! linking, a resolver can point calls at functions in the same mapping.
//! An unresolved name, a displacement that does not fit, or a relocation
//! outside its function is a [`CodeError`], and nothing becomes executable.

use core::ops::Range;

use cranelift_asm::buffer::MachTarget;
use cranelift_asm::x64::X64;
use cranelift_asm::{ExternalName, FinishedCode, RelocKind};

use crate::mmap::{Mmap, MmapError};

/// Why code could not be loaded or linked.
#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    /// Mapping or protecting the code memory failed.
    #[error(transparent)]
    Mmap(#[from] MmapError),
    /// A function asked for an alignment that is not a power of two.
    #[error("function {function} asks for alignment {alignment}, not a power of two")]
    BadAlignment {
        /// The function's index.
        function: usize,
        /// The alignment it asked for.
        alignment: u32,
    },
    /// The functions together do not fit in the address space.
    #[error("the functions' code does not fit in the address space")]
    TooLarge,
    /// No address for a relocation's target.
    #[error("function {function}: unresolved name {name} (relocation at offset {offset:#x})")]
    UnresolvedName {
        /// The function containing the relocation.
        function: usize,
        /// The patched field's offset in the function.
        offset: u32,
        /// The name that did not resolve.
        name: ExternalName,
    },
    /// A PC-relative relocation whose target is too far away.
    #[error(
        "function {function}: {kind:?} relocation at offset {offset:#x} to {name} needs displacement {displacement}, which does not fit in 32 bits"
    )]
    DisplacementOutOfRange {
        /// The function containing the relocation.
        function: usize,
        /// The patched field's offset in the function.
        offset: u32,
        /// The relocation's kind.
        kind: RelocKind,
        /// Its target.
        name: ExternalName,
        /// `S + A - P`.
        displacement: i128,
    },
    /// A function range of a code image ([`UnlinkedCode::from_image`])
    /// out of order, overlapping the one before or past the image's end.
    #[error(
        "function {function}: range {range:?} is out of order or outside the image's {len} bytes"
    )]
    BadImage {
        /// The function.
        function: usize,
        /// Its range in the image.
        range: Range<usize>,
        /// The image's length.
        len: usize,
    },
    /// A relocation whose field is not inside its function's code.
    #[error("function {function}: relocation at offset {offset:#x} lies outside its {len} bytes")]
    RelocationOutsideFunction {
        /// The function containing the relocation.
        function: usize,
        /// The patched field's offset.
        offset: u32,
        /// The function's length.
        len: usize,
    },
}

/// One function's relocation, kept until linking.
#[derive(Copy, Clone, Debug)]
struct PendingRelocation {
    function: usize,
    relocation: cranelift_asm::buffer::Relocation,
}

/// Functions copied into a read-write mapping, not yet linked nor
/// executable. See the [module docs](self).
#[derive(Debug)]
pub struct UnlinkedCode {
    mmap: Mmap,
    /// Each function's byte range in the mapping, in increasing order.
    functions: Vec<Range<usize>>,
    relocations: Vec<PendingRelocation>,
}

impl UnlinkedCode {
    /// Lays `functions` out in one new mapping (function `i` is the `i`th
    /// item), each at its alignment, and copies their bytes.
    pub fn new<'a>(
        functions: impl IntoIterator<Item = &'a FinishedCode>,
    ) -> Result<UnlinkedCode, CodeError> {
        let functions: Vec<&FinishedCode> = functions.into_iter().collect();
        let mut ranges = Vec::with_capacity(functions.len());
        let mut end = 0usize;
        for (index, function) in functions.iter().enumerate() {
            let alignment = function.alignment();
            if !alignment.is_power_of_two() {
                return Err(CodeError::BadAlignment {
                    function: index,
                    alignment,
                });
            }
            let start = end
                .checked_next_multiple_of(alignment as usize)
                .ok_or(CodeError::TooLarge)?;
            end = start
                .checked_add(function.code().len())
                .ok_or(CodeError::TooLarge)?;
            ranges.push(start..end);
        }

        let mut mmap = Mmap::accessible(end)?;
        let mapping = mmap_bytes(&mut mmap);
        // Padding and the tail of the last page trap if ever executed: the
        // assembler's padding byte (x86-64's `int3`).
        mapping.fill(<X64 as MachTarget>::PADDING_BYTE);
        for (function, range) in functions.iter().zip(&ranges) {
            mapping[range.clone()].copy_from_slice(function.code());
        }
        let relocations = functions
            .iter()
            .enumerate()
            .flat_map(|(index, function)| {
                function
                    .relocations()
                    .iter()
                    .map(move |&relocation| PendingRelocation {
                        function: index,
                        relocation,
                    })
            })
            .collect();
        Ok(UnlinkedCode {
            mmap,
            functions: ranges,
            relocations,
        })
    }

    /// Copies `image`, code linked by another [`CodeMemory`] and taken
    /// with [`CodeMemory::image`], into a new mapping, with function `i`
    /// at `functions[i]` as it was there. `relocations` are the
    /// functions' relocations whose value depends on where the code is
    /// (`Abs64`): [`link`](Self::link) applies them again. A PC-relative
    /// relocation between two functions of the image needs nothing: its
    /// displacement is the same wherever the image is.
    ///
    /// Ranges out of order, overlapping or past the image's end are a
    /// [`CodeError::BadImage`].
    pub fn from_image(
        image: &[u8],
        functions: Vec<Range<usize>>,
        relocations: impl IntoIterator<Item = (usize, cranelift_asm::buffer::Relocation)>,
    ) -> Result<UnlinkedCode, CodeError> {
        check_ranges(&functions, image.len())?;
        let mut mmap = Mmap::accessible(image.len())?;
        let mapping = mmap_bytes(&mut mmap);
        mapping[..image.len()].copy_from_slice(image);
        mapping[image.len()..].fill(<X64 as MachTarget>::PADDING_BYTE);
        Ok(UnlinkedCode {
            mmap,
            functions,
            relocations: absolute(relocations),
        })
    }

    /// Like [`from_image`](Self::from_image), with the image mapped in
    /// place from `len` bytes of `file` at `offset` (page-aligned) instead
    /// of copied ([`Mmap::map_file`]): private, read-only, its pages read
    /// from the page cache as the code runs. Only if there are relocations
    /// to apply again is the mapping made writable, and then only the
    /// pages they patch are copied (copy-on-write). The file must not
    /// change while the code is mapped.
    pub fn from_file(
        file: &std::fs::File,
        offset: u64,
        len: usize,
        functions: Vec<Range<usize>>,
        relocations: impl IntoIterator<Item = (usize, cranelift_asm::buffer::Relocation)>,
    ) -> Result<UnlinkedCode, CodeError> {
        use std::os::fd::AsFd;
        check_ranges(&functions, len)?;
        let mut mmap = Mmap::map_file(file.as_fd(), offset, len)?;
        let relocations = absolute(relocations);
        if !relocations.is_empty() {
            // `link` writes through `mmap_bytes`, which needs it writable.
            let len = mmap.len();
            mmap.make_accessible(0..len)?;
        }
        Ok(UnlinkedCode {
            mmap,
            functions,
            relocations,
        })
    }

    /// The number of functions.
    pub fn len(&self) -> usize {
        self.functions.len()
    }

    /// Whether there are no functions.
    pub fn is_empty(&self) -> bool {
        self.functions.is_empty()
    }

    /// The address function `index` will run at (final: linking does not
    /// move the code). Panics if `index` is not a function's.
    pub fn function_address(&self, index: usize) -> usize {
        self.mmap.as_ptr() as usize + self.functions[index].start
    }

    /// Every function's final address, in order.
    pub fn function_addresses(&self) -> impl ExactSizeIterator<Item = usize> + '_ {
        let base = self.mmap.as_ptr() as usize;
        self.functions.iter().map(move |range| base + range.start)
    }

    /// Applies every relocation, resolving names with `resolve`, and makes
    /// the code executable.
    pub fn link(
        mut self,
        resolve: impl Fn(ExternalName) -> Option<usize>,
    ) -> Result<CodeMemory, CodeError> {
        let base = self.mmap.as_ptr() as usize;
        let relocations = core::mem::take(&mut self.relocations);
        let mapping: &mut [u8] = if relocations.is_empty() {
            &mut []
        } else {
            mmap_bytes(&mut self.mmap)
        };
        for PendingRelocation {
            function,
            relocation,
        } in relocations
        {
            let offset = relocation.offset;
            // (A relocation of a function that does not exist, which only
            // a damaged image's list can name, lies outside any code.)
            let Some(range) = self.functions.get(function) else {
                return Err(CodeError::RelocationOutsideFunction {
                    function,
                    offset,
                    len: 0,
                });
            };
            let field_start = range.start + offset as usize;
            let size = relocation.kind.size();
            if field_start + size > range.end {
                return Err(CodeError::RelocationOutsideFunction {
                    function,
                    offset,
                    len: range.len(),
                });
            }
            let name = relocation.target;
            let target = resolve(name).ok_or(CodeError::UnresolvedName {
                function,
                offset,
                name,
            })?;
            // S + A (+ -P) in i128: no intermediate can overflow.
            let value = target as i128 + i128::from(relocation.addend);
            let field = &mut mapping[field_start..field_start + size];
            match relocation.kind {
                RelocKind::Abs64 => field.copy_from_slice(&(value as u64).to_le_bytes()),
                kind @ (RelocKind::PcRel32 | RelocKind::CallPcRel32) => {
                    let displacement = value - (base + field_start) as i128;
                    let displacement = i32::try_from(displacement).map_err(|_| {
                        CodeError::DisplacementOutOfRange {
                            function,
                            offset,
                            kind,
                            name,
                            displacement,
                        }
                    })?;
                    field.copy_from_slice(&displacement.to_le_bytes());
                }
            }
        }
        let len = self.mmap.len();
        self.mmap.make_executable(0..len)?;
        Ok(CodeMemory {
            mmap: self.mmap,
            functions: self.functions,
        })
    }
}

/// The whole mapping as bytes, while it is still read-write.
fn mmap_bytes(mmap: &mut Mmap) -> &mut [u8] {
    let len = mmap.len();
    // SAFETY: every caller passes a read-write mapping: one just made by
    // `Mmap::accessible`, or an `UnlinkedCode`'s, which is read-write from
    // its making (`new`, `from_image`) or, when it has relocations to
    // apply, made so in `from_file`; `link` only asks for the slice when
    // there are relocations, and changes the protection after its last
    // use. The slice borrows `mmap` mutably, so it is the only access.
    unsafe { core::slice::from_raw_parts_mut(mmap.as_mut_ptr(), len) }
}

/// Checks that `functions` are in order, do not overlap and end within
/// `len` bytes.
fn check_ranges(functions: &[Range<usize>], len: usize) -> Result<(), CodeError> {
    let mut end = 0;
    for (index, range) in functions.iter().enumerate() {
        if range.start < end || range.end < range.start || range.end > len {
            return Err(CodeError::BadImage {
                function: index,
                range: range.clone(),
                len,
            });
        }
        end = range.end;
    }
    Ok(())
}

/// The relocations whose value depends on where the code is (`Abs64`):
/// the only ones an image needs applied again.
fn absolute(
    relocations: impl IntoIterator<Item = (usize, cranelift_asm::buffer::Relocation)>,
) -> Vec<PendingRelocation> {
    relocations
        .into_iter()
        .filter(|(_, relocation)| relocation.kind == RelocKind::Abs64)
        .map(|(function, relocation)| PendingRelocation {
            function,
            relocation,
        })
        .collect()
}

/// Linked, executable code. See the [module docs](self).
#[derive(Debug)]
pub struct CodeMemory {
    mmap: Mmap,
    /// Each function's byte range in the mapping, in increasing order.
    functions: Vec<Range<usize>>,
}

impl CodeMemory {
    /// Loads and links `functions` in one step, for when relocations name
    /// nothing inside the code itself (otherwise use [`UnlinkedCode`]).
    pub fn new<'a>(
        functions: impl IntoIterator<Item = &'a FinishedCode>,
        resolve: impl Fn(ExternalName) -> Option<usize>,
    ) -> Result<CodeMemory, CodeError> {
        UnlinkedCode::new(functions)?.link(resolve)
    }

    /// The number of functions.
    pub fn len(&self) -> usize {
        self.functions.len()
    }

    /// Whether there are no functions.
    pub fn is_empty(&self) -> bool {
        self.functions.is_empty()
    }

    /// The first byte of function `index`, or `None` past the last one.
    pub fn function(&self, index: usize) -> Option<*const u8> {
        let range = self.functions.get(index)?;
        Some(self.mmap.as_ptr().wrapping_add(range.start))
    }

    /// The addresses function `index` occupies.
    pub fn function_range(&self, index: usize) -> Option<Range<usize>> {
        let base = self.mmap.as_ptr() as usize;
        let range = self.functions.get(index)?;
        Some(base + range.start..base + range.end)
    }

    /// The linked code as bytes, from the first function's start to the
    /// last one's end (padding between functions included): what
    /// [`UnlinkedCode::from_image`] loads elsewhere.
    pub fn image(&self) -> &[u8] {
        let len = self.functions.last().map_or(0, |range| range.end);
        // SAFETY: the mapping is read+execute (so readable) from `link` on
        // and never changes again; `len` is inside it (the functions were
        // laid out in it) and the slice borrows `self`, which owns it.
        unsafe { core::slice::from_raw_parts(self.mmap.as_ptr(), len) }
    }

    /// Each function's byte range in [`image`](Self::image).
    pub fn function_offsets(&self) -> &[Range<usize>] {
        &self.functions
    }

    /// The address of the mapping's first byte, from which
    /// [`function_offsets`](Self::function_offsets) count.
    pub fn base(&self) -> usize {
        self.mmap.as_ptr() as usize
    }

    /// Bytes `range` of the mapping (code, or what an image placed after
    /// it), or `None` past the mapping's end.
    pub fn bytes(&self, range: Range<usize>) -> Option<&[u8]> {
        if range.start > range.end || range.end > self.mmap.len() {
            return None;
        }
        // SAFETY: as in `image`: the whole mapping is readable from `link`
        // on and never changes; `range` is inside it.
        Some(unsafe {
            core::slice::from_raw_parts(self.mmap.as_ptr().add(range.start), range.len())
        })
    }

    /// The function containing address `pc` and `pc`'s offset in it, or
    /// `None` if `pc` is not in any function (padding included).
    pub fn lookup(&self, pc: usize) -> Option<(usize, u32)> {
        let offset = pc.checked_sub(self.mmap.as_ptr() as usize)?;
        // The last function starting at or before `offset`.
        let index = self
            .functions
            .partition_point(|range| range.start <= offset)
            .checked_sub(1)?;
        let range = &self.functions[index];
        // Function offsets fit in `u32` (the assembler's code offsets do).
        range
            .contains(&offset)
            .then(|| (index, (offset - range.start) as u32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mmap::tests::protection_at;
    use cranelift_asm::x64::{Assembler, CpuFeatures, Gpr, OperandSize::*};

    fn assemble(body: impl FnOnce(&mut Assembler)) -> FinishedCode {
        let mut asm = Assembler::new(CpuFeatures::baseline());
        body(&mut asm);
        asm.finish().expect("the test's code assembles")
    }

    /// `mov eax, 42; ret`.
    fn return_42() -> FinishedCode {
        assemble(|asm| {
            asm.mov_ri(S32, Gpr::RAX, 42);
            asm.ret();
        })
    }

    /// Calls `callee` (through a `CallPcRel32` relocation) and adds one.
    fn call_and_add_one(callee: ExternalName) -> FinishedCode {
        assemble(|asm| {
            asm.push_r(Gpr::RBP);
            asm.mov_rr(S64, Gpr::RBP, Gpr::RSP);
            asm.call_external(callee);
            asm.add_ri(S32, Gpr::RAX, 1);
            asm.pop_r(Gpr::RBP);
            asm.ret();
        })
    }

    /// Returns `target + addend` through an `Abs64` relocation on a
    /// `movabs rax, imm64`.
    fn address_of(target: ExternalName, addend: i64) -> FinishedCode {
        assemble(|asm| {
            let field = asm.buffer().cur_offset() + 2; // REX.W B8 imm64
            asm.mov_ri(S64, Gpr::RAX, 0x1122_3344_5566_7788);
            asm.buffer_mut()
                .add_reloc_at_offset(field, RelocKind::Abs64, target, addend);
            asm.ret();
        })
    }

    /// Calls the code at `address` as `extern "sysv64" fn() -> u64`.
    ///
    /// # Safety
    ///
    /// `address` must be executable code with that signature.
    unsafe fn call(address: *const u8) -> u64 {
        // SAFETY: the caller promises a function of this type at `address`.
        let function: extern "sysv64" fn() -> u64 = unsafe { core::mem::transmute(address) };
        function()
    }

    #[test]
    fn functions_are_linked_and_callable() {
        let functions = [
            return_42(),
            call_and_add_one(ExternalName::new(0, 0)),
            address_of(ExternalName::new(0, 1), 8),
        ];
        let unlinked = UnlinkedCode::new(&functions).unwrap();
        let addresses: Vec<usize> = unlinked.function_addresses().collect();
        assert_eq!(addresses.len(), 3);
        for (address, function) in addresses.iter().zip(&functions) {
            assert_eq!(address % function.alignment() as usize, 0);
        }
        let code = unlinked
            .link(|name| match name.namespace {
                0 => addresses.get(name.index as usize).copied(),
                _ => None,
            })
            .unwrap();
        assert_eq!(code.len(), 3);
        let f = |i| code.function(i).unwrap();
        assert_eq!(f(0) as usize, addresses[0]);
        // SAFETY: each function was assembled above with this signature
        // (`mov eax` zero-extends into rax) and is linked.
        unsafe {
            assert_eq!(call(f(0)), 42);
            assert_eq!(call(f(1)), 43);
            assert_eq!(call(f(2)), addresses[1] as u64 + 8);
        }
        assert_eq!(protection_at(addresses[0]).as_deref(), Some("r-xp"));
    }

    /// Links `functions` (namespace 0 names function `index`) where a
    /// fresh mapping puts them.
    fn link_in_place(unlinked: UnlinkedCode) -> CodeMemory {
        let addresses: Vec<usize> = unlinked.function_addresses().collect();
        unlinked
            .link(|name| match name.namespace {
                0 => addresses.get(name.index as usize).copied(),
                _ => None,
            })
            .unwrap()
    }

    /// The image of linked code, loaded at another address: the call
    /// between its functions (PC-relative) still lands, and the absolute
    /// address (`Abs64`, applied again) is the new one.
    #[test]
    fn an_image_runs_wherever_it_is_loaded() {
        let functions = [
            return_42(),
            call_and_add_one(ExternalName::new(0, 0)),
            address_of(ExternalName::new(0, 1), 8),
        ];
        let first = link_in_place(UnlinkedCode::new(&functions).unwrap());
        let image = first.image().to_vec();
        let ranges = first.function_offsets().to_vec();
        let relocations = functions
            .iter()
            .enumerate()
            .flat_map(|(i, function)| function.relocations().iter().map(move |&r| (i, r)));
        // `movabs rax, imm64` at the start of function 2: REX.W B8, then
        // the field.
        let field = ranges[2].start + 2;
        let second = link_in_place(UnlinkedCode::from_image(&image, ranges, relocations).unwrap());
        assert_ne!(second.function(0), first.function(0));
        let loaded = second.image();
        assert_eq!(loaded.len(), image.len());
        assert_eq!(
            loaded[..field],
            image[..field],
            "only the Abs64 field differs"
        );
        assert_eq!(
            loaded[field + 8..],
            image[field + 8..],
            "only the Abs64 field differs"
        );
        let f = |i| second.function(i).unwrap();
        // SAFETY: the functions were assembled above with this signature
        // and are linked.
        unsafe {
            assert_eq!(call(f(1)), 43);
            assert_eq!(call(f(2)), f(1) as u64 + 8);
        }
        drop(first);
        // SAFETY: as above; the first copy is gone.
        unsafe { assert_eq!(call(f(1)), 43) };
    }

    /// The image of linked code written into a file at a page offset and
    /// mapped from there in place: without absolute relocations its pages
    /// are the file's (the mapping names the file) and read+execute; with
    /// one, the patched field holds the new address and the rest of the
    /// image is as in the file.
    #[test]
    fn an_image_mapped_from_a_file_runs_in_place() {
        use crate::mmap::tests::maps_line_at;
        let functions = [
            return_42(),
            call_and_add_one(ExternalName::new(0, 0)),
            address_of(ExternalName::new(0, 1), 8),
        ];
        let first = link_in_place(UnlinkedCode::new(&functions).unwrap());
        let image = first.image().to_vec();
        let ranges = first.function_offsets().to_vec();
        let page = Mmap::page_size();
        let path = std::env::temp_dir().join(format!(
            "duet-code-image-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        // A page of something else first, then the image, then a tail.
        let contents = [&vec![0x5a; page][..], &image, &[0xa5; 16]].concat();
        std::fs::write(&path, contents).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let relocations = || {
            functions
                .iter()
                .enumerate()
                .flat_map(|(i, function)| function.relocations().iter().map(move |&r| (i, r)))
        };

        // Without absolute relocations (function 2 left out of the list):
        // the code runs from the file's pages.
        let plain = UnlinkedCode::from_file(
            &file,
            page as u64,
            image.len(),
            ranges.clone(),
            relocations().filter(|(i, _)| *i != 2),
        )
        .unwrap();
        let plain = link_in_place(plain);
        let line = maps_line_at(plain.base()).unwrap();
        assert!(line.contains("r-xp"), "{line}");
        assert!(line.ends_with(path.to_str().unwrap()), "{line}");
        assert_eq!(plain.image(), image);
        // SAFETY: assembled above with this signature and linked.
        unsafe { assert_eq!(call(plain.function(1).unwrap()), 43) };

        // With the Abs64 relocation: patched, copy-on-write.
        let patched = link_in_place(
            UnlinkedCode::from_file(
                &file,
                page as u64,
                image.len(),
                ranges.clone(),
                relocations(),
            )
            .unwrap(),
        );
        let field = ranges[2].start + 2;
        assert_eq!(patched.image()[..field], image[..field]);
        assert_eq!(patched.image()[field + 8..], image[field + 8..]);
        assert_eq!(
            protection_at(patched.base()).as_deref(),
            Some("r-xp"),
            "never writable and executable at once"
        );
        let f = |i| patched.function(i).unwrap();
        // SAFETY: as above.
        unsafe {
            assert_eq!(call(f(1)), 43);
            assert_eq!(call(f(2)), f(1) as u64 + 8);
        }
        // The file is unchanged (the mapping is private).
        assert_eq!(
            std::fs::read(&path).unwrap()[page..page + image.len()],
            image
        );

        // An offset that is not page-aligned is an error, not a mapping.
        assert!(matches!(
            UnlinkedCode::from_file(&file, 1, image.len(), ranges, core::iter::empty()),
            Err(CodeError::Mmap(_))
        ));
        drop(file);
        std::fs::remove_file(&path).ok();
    }

    #[test]
    fn an_image_with_ranges_out_of_order_or_past_its_end_is_refused() {
        let image = [0xc3u8; 32];
        let none = core::iter::empty();
        for ranges in [
            vec![0..8, 4..12],
            vec![0..4, Range { start: 8, end: 4 }],
            vec![0..4, 4..33],
            vec![16..24, 0..8],
        ] {
            let error = UnlinkedCode::from_image(&image, ranges.clone(), none.clone()).unwrap_err();
            assert!(
                matches!(error, CodeError::BadImage { .. }),
                "{ranges:?}: {error}"
            );
        }
        assert!(UnlinkedCode::from_image(&image, vec![0..8, 8..32], none).is_ok());
    }

    #[test]
    fn lookup_maps_addresses_to_functions() {
        let functions = [
            return_42(),
            return_42(),
            call_and_add_one(ExternalName::new(0, 0)),
        ];
        let unlinked = UnlinkedCode::new(&functions).unwrap();
        let first = unlinked.function_address(0);
        let code = unlinked.link(|_| Some(first)).unwrap();
        assert_eq!(code.lookup(first), Some((0, 0)));
        let r0 = code.function_range(0).unwrap();
        assert_eq!(r0.len(), 6, "mov eax, imm32 (5) + ret (1)");
        assert_eq!(code.lookup(r0.end - 1), Some((0, 5)));
        // The padding after function 0 belongs to no function.
        let r1 = code.function_range(1).unwrap();
        assert!(r1.start > r0.end);
        assert_eq!(code.lookup(r0.end), None);
        assert_eq!(code.lookup(r1.start + 1), Some((1, 1)));
        let r2 = code.function_range(2).unwrap();
        assert_eq!(code.lookup(r2.end - 1), Some((2, (r2.len() - 1) as u32)));
        assert_eq!(code.lookup(r2.end), None);
        assert_eq!(code.lookup(first - 1), None);
        assert_eq!(code.lookup(0), None);
        assert_eq!(code.lookup(usize::MAX), None);
        assert_eq!(code.function(3), None);
    }

    #[test]
    fn an_unresolved_name_is_an_error_naming_it() {
        let functions = [return_42(), call_and_add_one(ExternalName::new(7, 5))];
        let e = CodeMemory::new(&functions, |_| None).unwrap_err();
        assert!(
            matches!(
                e,
                CodeError::UnresolvedName {
                    function: 1,
                    name: ExternalName {
                        namespace: 7,
                        index: 5
                    },
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("unresolved name u7:5"), "{e}");
    }

    #[test]
    fn a_call_too_far_away_is_an_error() {
        let functions = [call_and_add_one(ExternalName::new(0, 0))];
        let unlinked = UnlinkedCode::new(&functions).unwrap();
        let far = unlinked.function_address(0).wrapping_add(1 << 40);
        let e = unlinked.link(|_| Some(far)).unwrap_err();
        assert!(
            matches!(
                e,
                CodeError::DisplacementOutOfRange {
                    kind: RelocKind::CallPcRel32,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn a_relocation_outside_its_function_is_an_error() {
        let bad = assemble(|asm| {
            asm.ret();
            asm.buffer_mut()
                .add_reloc_at_offset(0, RelocKind::Abs64, ExternalName::new(0, 0), 0);
        });
        let e = CodeMemory::new([&bad], |_| Some(0)).unwrap_err();
        assert!(
            matches!(e, CodeError::RelocationOutsideFunction { function: 0, .. }),
            "{e}"
        );
    }

    #[test]
    fn no_functions_is_fine() {
        let code = CodeMemory::new([], |_| None).unwrap();
        assert!(code.is_empty());
        assert_eq!(code.lookup(0x1000), None);
    }
}
