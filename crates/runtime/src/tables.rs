//! A module's code tables in the form they are searched: where each
//! function is, which instructions trap and why, and which wasm offset
//! each byte of code came from. One flat, position-independent byte
//! string per module, the same for freshly compiled code (built once, in
//! a heap buffer) and for a precompiled module (used in place, from the
//! artifact's mapping): nothing is decoded or copied to load it.
//!
//! ```text
//!  offset          contents (every number a little-endian u32 unless said)
//!  0               F functions, T trap records, S source-location ranges, 0
//!  16              F function starts   (byte offsets in the code image,
//!  16 + 4F         F function ends      increasing, start <= end <= next start)
//!  16 + 8F         F + 1 trap bounds   (function i's traps are bounds[i]..bounds[i+1])
//!  20 + 12F        F + 1 srcloc bounds (likewise for source-location ranges)
//!  24 + 16F        T trap offsets      (in the function, sorted per function)
//!  ..  + 4T        S srcloc starts     (in the function, sorted per function)
//!  ..  + 4S        S srcloc ends
//!  ..  + 4S        S wasm offsets
//!  ..  + 4S        T trap codes, one byte each (0 = none)
//!  ..  + T         end
//! ```
//!
//! Columns rather than records: a binary search over trap offsets or
//! source-location starts touches only that column's cache lines.
//!
//! **What is checked, and when.** [`CodeTables::parse`] checks what any
//! lookup relies on, in time linear in the number of functions (not of
//! records): the length is exactly what the counts say; the functions'
//! ranges are in order and inside the code; the bounds start at 0, never
//! decrease and end at the counts. Every later read is then in bounds. The
//! order of records within a function is not checked (a million records);
//! an artifact whose checksum matches has the order `serialize` wrote, and
//! a hand-made one out of order can make a lookup miss, never read out of
//! bounds or panic. Reads go through byte slices (`u32::from_le_bytes`),
//! so the table needs no alignment wherever it lies.

use core::borrow::Borrow;
use core::fmt;
use core::ops::Range;
use std::sync::Arc;

use cranelift_asm::buffer::SrcLocRange;
use cranelift_asm::{FinishedCode, SourceLoc, TrapCode};

/// Bytes owned by something shared (a heap buffer, a file mapping): a
/// cheap handle that keeps the owner alive. Reading them is a call of the
/// owner's `AsRef::as_ref` (a `Vec`'s or a `memmap2::Mmap`'s: a pointer
/// and a length, no lock, no allocation), so the signal handler may.
#[derive(Clone)]
pub(crate) struct SharedBytes {
    owner: Arc<dyn AsRef<[u8]> + Send + Sync>,
    range: Range<usize>,
}

impl SharedBytes {
    /// All of `bytes`.
    pub(crate) fn owned(bytes: Vec<u8>) -> SharedBytes {
        let range = 0..bytes.len();
        SharedBytes {
            owner: Arc::new(bytes),
            range,
        }
    }

    /// `range` of `owner`'s bytes; `None` if it is not inside them.
    pub(crate) fn slice_of(
        owner: Arc<dyn AsRef<[u8]> + Send + Sync>,
        range: Range<usize>,
    ) -> Option<SharedBytes> {
        (*owner).as_ref().get(range.clone())?;
        Some(SharedBytes { owner, range })
    }

    /// The bytes.
    pub(crate) fn as_slice(&self) -> &[u8] {
        &(*self.owner).as_ref()[self.range.clone()]
    }
}

impl fmt::Debug for SharedBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SharedBytes({} bytes)", self.range.len())
    }
}

/// Where each column starts, in bytes from the table's start.
#[derive(Copy, Clone, Debug)]
struct Layout {
    functions: usize,
    starts: usize,
    ends: usize,
    trap_bounds: usize,
    srcloc_bounds: usize,
    trap_offsets: usize,
    srcloc_starts: usize,
    srcloc_ends: usize,
    srcloc_locs: usize,
    trap_codes: usize,
    /// The whole table's length in bytes.
    total: usize,
}

/// The fixed part before the columns: the three counts and a zero.
const HEADER_LEN: usize = 16;

impl Layout {
    /// The layout for these counts, or `None` if it overflows.
    fn new(functions: usize, traps: usize, srclocs: usize) -> Option<Layout> {
        let words = |n: usize| n.checked_mul(4);
        let starts = HEADER_LEN;
        let ends = starts.checked_add(words(functions)?)?;
        let trap_bounds = ends.checked_add(words(functions)?)?;
        let srcloc_bounds = trap_bounds.checked_add(words(functions.checked_add(1)?)?)?;
        let trap_offsets = srcloc_bounds.checked_add(words(functions + 1)?)?;
        let srcloc_starts = trap_offsets.checked_add(words(traps)?)?;
        let srcloc_ends = srcloc_starts.checked_add(words(srclocs)?)?;
        let srcloc_locs = srcloc_ends.checked_add(words(srclocs)?)?;
        let trap_codes = srcloc_locs.checked_add(words(srclocs)?)?;
        let total = trap_codes.checked_add(traps)?;
        Some(Layout {
            functions,
            starts,
            ends,
            trap_bounds,
            srcloc_bounds,
            trap_offsets,
            srcloc_starts,
            srcloc_ends,
            srcloc_locs,
            trap_codes,
            total,
        })
    }
}

/// A module's code tables. See the [module docs](self).
#[derive(Clone, Debug)]
pub(crate) struct CodeTables {
    bytes: SharedBytes,
    layout: Layout,
}

/// Word `index` of the column at `column` (in bounds: see `parse`).
fn word(bytes: &[u8], column: usize, index: usize) -> u32 {
    let at = column + 4 * index;
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

/// The first index in `range` for which `below` is false, `below` being
/// true for a prefix of `range` (a binary search over a column).
fn partition_point(range: Range<usize>, below: impl Fn(usize) -> bool) -> usize {
    let (mut low, mut high) = (range.start, range.end);
    while low < high {
        let middle = low + (high - low) / 2;
        if below(middle) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    low
}

impl CodeTables {
    /// The tables of code whose function `i`, compiled as `functions[i]`,
    /// lies at `ranges[i]` of its image. `None` if an offset does not fit
    /// in 32 bits (an image of 4 GiB or more).
    pub(crate) fn build<F: Borrow<FinishedCode>>(
        ranges: &[Range<usize>],
        functions: &[F],
    ) -> Option<CodeTables> {
        let functions: Vec<&FinishedCode> = functions.iter().map(Borrow::borrow).collect();
        assert_eq!(
            ranges.len(),
            functions.len(),
            "CodeTables::build: a range for each function"
        );
        let traps: usize = functions.iter().map(|f| f.traps().len()).sum();
        let srclocs: usize = functions.iter().map(|f| f.srclocs().len()).sum();
        let layout = Layout::new(functions.len(), traps, srclocs)?;
        let mut out = Vec::with_capacity(layout.total);
        let push = |out: &mut Vec<u8>, value: usize| -> Option<()> {
            out.extend_from_slice(&u32::try_from(value).ok()?.to_le_bytes());
            Some(())
        };
        for count in [functions.len(), traps, srclocs, 0] {
            push(&mut out, count)?;
        }
        for range in ranges {
            push(&mut out, range.start)?;
        }
        for range in ranges {
            push(&mut out, range.end)?;
        }
        let trap_counts = functions.iter().map(|f| f.traps().len());
        let srcloc_counts = functions.iter().map(|f| f.srclocs().len());
        for counts in [trap_counts.collect::<Vec<_>>(), srcloc_counts.collect()] {
            let mut bound = 0;
            push(&mut out, 0)?;
            for count in counts {
                bound += count;
                push(&mut out, bound)?;
            }
        }
        for function in &functions {
            for trap in function.traps() {
                out.extend_from_slice(&trap.offset.to_le_bytes());
            }
        }
        let srcloc_columns: [fn(&SrcLocRange) -> u32; 3] = [|r| r.start, |r| r.end, |r| r.loc.0];
        for column in srcloc_columns {
            for function in &functions {
                for range in function.srclocs() {
                    out.extend_from_slice(&column(range).to_le_bytes());
                }
            }
        }
        for function in &functions {
            out.extend(function.traps().iter().map(|t| t.code.as_u8()));
        }
        debug_assert_eq!(out.len(), layout.total);
        Some(CodeTables {
            bytes: SharedBytes::owned(out),
            layout,
        })
    }

    /// Checks `bytes` as the tables of a code image of `code_len` bytes
    /// (see the [module docs](self) for what is checked); the error says
    /// what is wrong.
    pub(crate) fn parse(bytes: SharedBytes, code_len: usize) -> Result<CodeTables, String> {
        let slice = bytes.as_slice();
        if slice.len() < HEADER_LEN {
            return Err(format!(
                "its code tables have {} bytes, fewer than their {HEADER_LEN}-byte header",
                slice.len()
            ));
        }
        let count = |i| word(slice, 0, i) as usize;
        let (functions, traps, srclocs) = (count(0), count(1), count(2));
        let layout = Layout::new(functions, traps, srclocs)
            .filter(|layout| layout.total == slice.len())
            .ok_or_else(|| {
                format!(
                    "its code tables have {} bytes, not what {functions} functions, {traps} trap \
                     records and {srclocs} source-location ranges take",
                    slice.len()
                )
            })?;
        let mut end = 0;
        for i in 0..functions {
            let (start, stop) = (
                word(slice, layout.starts, i) as usize,
                word(slice, layout.ends, i) as usize,
            );
            if start < end || stop < start || stop > code_len {
                return Err(format!(
                    "its code tables put function {i} at {start}..{stop}, out of order or \
                     outside the code's {code_len} bytes"
                ));
            }
            end = stop;
        }
        for (column, total, what) in [
            (layout.trap_bounds, traps, "trap"),
            (layout.srcloc_bounds, srclocs, "source-location"),
        ] {
            let bound = |i| word(slice, column, i) as usize;
            let monotonic = (0..functions).all(|i| bound(i) <= bound(i + 1));
            if bound(0) != 0 || !monotonic || bound(functions) != total {
                return Err(format!(
                    "its code tables' {what} bounds do not run from 0 to {total} in order"
                ));
            }
        }
        Ok(CodeTables { bytes, layout })
    }

    /// The tables as bytes (what [`parse`](Self::parse) reads back).
    pub(crate) fn bytes(&self) -> &[u8] {
        self.bytes.as_slice()
    }

    /// The number of functions.
    pub(crate) fn len(&self) -> usize {
        self.layout.functions
    }

    /// Function `index`'s byte range in the code image.
    pub(crate) fn function_range(&self, index: usize) -> Range<usize> {
        let bytes = self.bytes();
        word(bytes, self.layout.starts, index) as usize
            ..word(bytes, self.layout.ends, index) as usize
    }

    /// Every function's byte range, in order.
    pub(crate) fn function_ranges(&self) -> Vec<Range<usize>> {
        (0..self.len()).map(|i| self.function_range(i)).collect()
    }

    /// The function containing byte `offset` of the image and the offset
    /// in it, or `None` outside every function (padding included).
    pub(crate) fn lookup(&self, offset: usize) -> Option<(usize, u32)> {
        let bytes = self.bytes();
        let layout = &self.layout;
        let index = partition_point(0..layout.functions, |i| {
            word(bytes, layout.starts, i) as usize <= offset
        })
        .checked_sub(1)?;
        let start = word(bytes, layout.starts, index) as usize;
        let end = word(bytes, layout.ends, index) as usize;
        // Offsets in the image fit in `u32` (`build` and `parse` ensure).
        (offset < end).then(|| (index, (offset - start) as u32))
    }

    /// Function `function`'s records in the column with bounds at
    /// `bounds`: the index range.
    fn records(&self, bounds: usize, function: usize) -> Range<usize> {
        let bytes = self.bytes();
        word(bytes, bounds, function) as usize..word(bytes, bounds, function + 1) as usize
    }

    /// The trap code of the instruction at `offset` of function
    /// `function`, if it may trap.
    pub(crate) fn trap_code(&self, function: usize, offset: u32) -> Option<TrapCode> {
        let bytes = self.bytes();
        let layout = &self.layout;
        let traps = self.records(layout.trap_bounds, function);
        let index = partition_point(traps.clone(), |i| {
            word(bytes, layout.trap_offsets, i) < offset
        });
        if index < traps.end && word(bytes, layout.trap_offsets, index) == offset {
            TrapCode::from_u8(bytes[layout.trap_codes + index])
        } else {
            None
        }
    }

    /// The wasm offset of the code byte at `offset` of function
    /// `function`, if the compiler recorded one.
    pub(crate) fn srcloc_at(&self, function: usize, offset: u32) -> Option<u32> {
        let bytes = self.bytes();
        let layout = &self.layout;
        let ranges = self.records(layout.srcloc_bounds, function);
        let index = partition_point(ranges.clone(), |i| {
            word(bytes, layout.srcloc_starts, i) <= offset
        })
        .checked_sub(1)
        .filter(|&i| i >= ranges.start)?;
        (offset < word(bytes, layout.srcloc_ends, index))
            .then(|| word(bytes, layout.srcloc_locs, index))
    }

    /// Function `function`'s source-location ranges (for debug
    /// information).
    pub(crate) fn srclocs(&self, function: usize) -> Vec<SrcLocRange> {
        let bytes = self.bytes();
        let layout = &self.layout;
        self.records(layout.srcloc_bounds, function)
            .map(|i| SrcLocRange {
                start: word(bytes, layout.srcloc_starts, i),
                end: word(bytes, layout.srcloc_ends, i),
                loc: SourceLoc(word(bytes, layout.srcloc_locs, i)),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cranelift_asm::x64::{Assembler, CpuFeatures};

    /// `nop; nop; [srcloc 7: ud2 (code 3)]; ret`, then `[srcloc 9: ret]`.
    fn functions() -> Vec<FinishedCode> {
        let mut asm = Assembler::new(CpuFeatures::baseline());
        asm.nop(2);
        asm.start_srcloc(SourceLoc(7));
        asm.ud2(TrapCode::from_u8(3).unwrap());
        asm.end_srcloc();
        asm.ret();
        let first = asm.finish().unwrap();
        let mut asm = Assembler::new(CpuFeatures::baseline());
        asm.start_srcloc(SourceLoc(9));
        asm.ret();
        asm.end_srcloc();
        vec![first, asm.finish().unwrap()]
    }

    fn tables() -> CodeTables {
        CodeTables::build(&[0..5, 16..17], &functions()).unwrap()
    }

    /// The lookups agree with the `FinishedCode`s the tables were built
    /// from (the oracle), at every offset, and parsing the bytes again
    /// gives the same answers.
    #[test]
    fn lookups_agree_with_the_finished_code() {
        let functions = functions();
        let built = tables();
        let parsed = CodeTables::parse(SharedBytes::owned(built.bytes().to_vec()), 17).unwrap();
        for tables in [&built, &parsed] {
            assert_eq!(tables.len(), 2);
            assert_eq!(tables.function_ranges(), [0..5, 16..17]);
            for offset in 0..20 {
                let expected = match offset {
                    0..5 => Some((0, offset as u32)),
                    16 => Some((1, 0)),
                    _ => None,
                };
                assert_eq!(tables.lookup(offset), expected, "offset {offset}");
            }
            for (index, function) in functions.iter().enumerate() {
                for offset in 0..8 {
                    assert_eq!(
                        tables.trap_code(index, offset),
                        function.trap_at(offset),
                        "function {index}, offset {offset}"
                    );
                    let expected = function
                        .srclocs()
                        .iter()
                        .find(|r| (r.start..r.end).contains(&offset))
                        .map(|r| r.loc.0);
                    assert_eq!(tables.srcloc_at(index, offset), expected);
                }
                assert_eq!(tables.srclocs(index), function.srclocs());
            }
        }
        assert_eq!(built.trap_code(0, 2), TrapCode::from_u8(3));
        assert_eq!(built.srcloc_at(1, 0), Some(9));
    }

    /// Every kind of damage `parse` looks for, each made by hand (as an
    /// artifact with a recomputed checksum would carry it): refused with
    /// a message, never a panic.
    #[test]
    fn damaged_tables_are_refused() {
        let good = tables().bytes().to_vec();
        let set = |bytes: &mut Vec<u8>, at: usize, value: u32| {
            bytes[at..at + 4].copy_from_slice(&value.to_le_bytes())
        };
        let layout = Layout::new(2, 1, 2).unwrap();
        let cases: Vec<(&str, Vec<u8>, usize)> = vec![
            ("too short for the header", good[..12].to_vec(), 17),
            ("one byte missing", good[..good.len() - 1].to_vec(), 17),
            ("one byte more", [&good[..], &[0]].concat(), 17),
            (
                "a count too large",
                {
                    let mut b = good.clone();
                    set(&mut b, 4, u32::MAX);
                    b
                },
                17,
            ),
            ("a function past the code", good.clone(), 16),
            (
                "functions out of order",
                {
                    let mut b = good.clone();
                    set(&mut b, layout.starts + 4, 2);
                    b
                },
                17,
            ),
            (
                "a function ending before it starts",
                {
                    let mut b = good.clone();
                    set(&mut b, layout.ends, 0);
                    set(&mut b, layout.starts, 3);
                    b
                },
                17,
            ),
            (
                "trap bounds past the count",
                {
                    let mut b = good.clone();
                    set(&mut b, layout.trap_bounds + 4, 2);
                    b
                },
                17,
            ),
            (
                "source-location bounds decreasing",
                {
                    let mut b = good.clone();
                    set(&mut b, layout.srcloc_bounds + 4, 2);
                    set(&mut b, layout.srcloc_bounds + 8, 1);
                    b
                },
                17,
            ),
        ];
        for (what, bytes, code_len) in cases {
            let error = CodeTables::parse(SharedBytes::owned(bytes), code_len).unwrap_err();
            assert!(error.contains("code tables"), "{what}: {error}");
        }
        assert!(CodeTables::parse(SharedBytes::owned(good), 17).is_ok());
    }

    #[test]
    fn no_functions_make_a_header_and_two_bounds() {
        let tables = CodeTables::build::<FinishedCode>(&[], &[]).unwrap();
        assert_eq!(tables.bytes().len(), HEADER_LEN + 8);
        assert_eq!(tables.lookup(0), None);
        assert!(CodeTables::parse(SharedBytes::owned(tables.bytes().to_vec()), 0).is_ok());
    }
}
