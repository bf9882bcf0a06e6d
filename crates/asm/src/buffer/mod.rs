//! The MachBuffer: turns emitted bytes, labels and label uses into final
//! code with its metadata. ISA-independent; an ISA plugs in through
//! [`MachTarget`] and its [`LabelUse`] kinds.
//!
//! # What it does
//!
//! An ISA's assembler appends instruction bytes with [`MachBuffer::put_bytes`]
//! and refers to code positions through [`Label`]s. A label is bound once, to
//! the offset the code has reached when [`MachBuffer::bind_label`] is called;
//! references to it (*label uses*, or *fix-ups*) may come before or after it
//! is bound. The buffer patches every use once its label's offset is known,
//! and in the meantime:
//!
//! * simplifies branches at the tail of the code (below);
//! * keeps a constant pool and a list of deferred trap stubs, emitted at the
//!   next island or at the end;
//! * places *islands* in the middle of the code when a short-range use would
//!   otherwise go out of reach, with *veneers* that extend it;
//! * records the trap table, relocations, call sites, source-location
//!   ranges and unwind records ([`crate::unwind`]) that [`FinishedCode`]
//!   hands to the runtime.
//!
//! ```text
//!   ISA assembler ──put_bytes / put_uncond_branch / put_cond_branch──►  data
//!        │        ──use_label_at_offset──────────────────────────────►  fix-ups (pending)
//!        │        ──bind_label──► label offsets ──► optimize_branches (tail rewrites)
//!        │        ──island_needed? / emit_island──► traps, constants, veneers, patches
//!        ▼
//!     finish() ──► FinishedCode { bytes, alignment, traps, relocations,
//!                                 call sites, source locations, unwind records,
//!                                 label offsets }
//! ```
//!
//! # State
//!
//! * `data`: the bytes emitted so far; `cur_offset()` is its length.
//! * `label_offsets[l]`: where label `l` is bound, or `UNBOUND`.
//! * `label_aliases[l]`: a label `l` is redirected to (branch threading,
//!   rewrite 2). An aliased label is not bound; its offset is its alias's.
//!   Following aliases from any label ends, after finitely many steps, at a
//!   label that is not aliased (*resolving* the label).
//! * `fixups`: pending label uses `{label, offset, kind}` in emission order.
//! * `branches`: the most recent branch instructions, contiguous, the last
//!   one ending at the tail of the code (the list is dropped as soon as
//!   other bytes follow a branch). Each remembers its byte range, its
//!   target, its fix-up, whether it is conditional (and then, optionally,
//!   the encoding with the opposite condition) and the labels bound at its
//!   first byte (`labels_at_this_branch`).
//! * `labels_at_tail` / `labels_at_tail_offset`: the labels bound at the
//!   current end of the code.
//! * the constant pool, pending deferred traps, the trap table, relocations,
//!   call sites, source-location ranges and the open source location, unwind
//!   records;
//! * `island_deadline` and a conservative worst-case island size;
//! * a sticky [`BufferError`] that [`MachBuffer::finish`] reports.
//!
//! # Branch simplification
//!
//! Each time a label is bound (so the code's tail is the target of
//! something), the buffer looks at the last recorded branch `b`, which
//! ends at the tail, and applies the first rewrite that fits; it repeats
//! until none fits. Every rewrite either removes `b` from the end of the code
//! or changes only what labels mean or how `p`, the branch just before `b`,
//! is encoded. In the pictures `here` is the tail of the code.
//!
//! **1. A branch to the next instruction is removed.**
//!
//! ```text
//!   before:  L1:  jmp/jcc M            after:  L1: M:  (tail)
//!             M:  (tail)
//! ```
//!
//! Taken or not, `b` continues at `here`; without it, execution falls
//! through to `here` directly. The labels at `b` (`L1`) and at the tail (`M`)
//! move to `b`'s start, which is now the tail: they name the same next
//! instruction as before.
//!
//! **2. A label bound at an unconditional jump is aliased to the jump's
//! target (branch threading).**
//!
//! ```text
//!   before:  L1:  jmp T                after:  (L1 → T)   jmp T
//! ```
//!
//! Arriving at `L1` meant executing `jmp T` and arriving at `T`, so a use of
//! `L1` may as well go to `T` directly. `L1` becomes an alias of `T` and is no
//! longer bound at the jump. Not done when `T` resolves to one of the labels
//! at the jump itself (`L1: jmp L1`, or `L1: L2: jmp L2`): that would make an
//! alias cycle, and the jump is a self-loop whose meaning depends on its
//! label staying where it is.
//!
//! **3. An unconditional jump right after another one is removed.**
//!
//! ```text
//!   before:       jmp A                after:       jmp A
//!                 jmp B   (no labels)               (tail)
//!                 (tail)
//! ```
//!
//! Nothing falls through into the second jump and no label names it (rewrite
//! 2 has moved its labels away), so it can never execute.
//!
//! **4. A conditional branch over an unconditional jump becomes one inverted
//! conditional branch.**
//!
//! ```text
//!   before:       jcc  L               after:       jncc B
//!                 jmp  B  (no labels)          L:   (tail)
//!            L:   (tail)
//! ```
//!
//! Before: if `cc`, go to `L` (the tail); otherwise go to `B`. After: if not
//! `cc`, go to `B`; otherwise fall through to the tail, which is where `L` now
//! is. The jump had no labels, so nothing else entered it. The inverted
//! encoding has the same length and field layout as the original, so only
//! the condition and the fix-up's label change. Not done when `B` is the
//! jump's own start (a self-loop), where falling through would change
//! meaning, nor when the ISA supplied no inverted encoding or encoded the
//! displacement itself.
//!
//! *Removing* a branch (rewrites 1, 3, 4) truncates the code to its start,
//! drops its fix-up (the last one), trims source-location ranges to its
//! start and moves unwind records made after it to its start; the labels at the tail and at the branch move to its start and
//! become the labels at the tail. A branch is only removed when nothing
//! else (a trap, a relocation, a call site, another fix-up) has been
//! recorded since it was emitted.
//!
//! [`MachBuffer::set_branch_simplification`] turns all four rewrites off;
//! the bytes are then exactly what the ISA emitted.
//!
//! # Invariants
//!
//! 1. **A label moves only when everything after it is truncated.** The only
//!    change to a bound label's offset is the truncation above, which moves
//!    labels from a branch's end to its start after deleting the branch, and
//!    nothing follows the branch.
//! 2. **A displacement the ISA encoded itself never goes stale.** An ISA
//!    may encode a branch to an *already bound* label itself (x64's 2-byte
//!    backward `jmp rel8`), passing no label use. Its target `T` is bound at or
//!    before the branch's start. By (1), `T` could move only if the branch
//!    itself were truncated first. Rewrite 2 aliases only labels at the last
//!    branch: if `T` sat at the start of this branch, it is in the branch's
//!    label list (labels bound at the tail when a branch is emitted are
//!    recorded with it) and the rewrite is refused as a self-loop. So `T`
//!    keeps its offset while the branch exists.
//! 3. **Every label bound at the tail is in `labels_at_tail`** (when
//!    `labels_at_tail_offset` is the tail), so truncation moves all of them
//!    and no label is left pointing past the end of the code.
//! 4. **Aliases never form cycles.** A label is aliased only to a target that
//!    does not resolve to it, and an aliased label can never be bound again,
//!    so no later alias can lead back to it.
//! 5. **Recorded branches are contiguous and end at the tail.** Any other
//!    byte (including an island) clears the list, and so does
//!    [`MachBuffer::patch_bytes`] into a branch.
//!
//! # Islands, veneers and deadlines
//!
//! Some label-use kinds have a short reach (the test target's `rel8`; on
//! AArch64 a conditional branch's 1 MiB). Each use of a label that is not
//! already bound within reach behind it sets a *deadline*: `use offset +
//! max_pos_range`, the last offset its label or a veneer for it can be at.
//! The buffer keeps the earliest deadline (`island_deadline`) and a
//! conservative worst-case size of the next island: one worst-case veneer
//! per such use, plus pending constants (with alignment padding) and trap
//! stubs.
//!
//! Before emitting up to `distance` more bytes, the ISA asks
//! [`MachBuffer::island_needed`]: is `cur_offset + distance + worst case >
//! island_deadline`? If so, it emits a jump over the island and calls
//! [`MachBuffer::emit_island`], which places pending trap stubs and
//! constants, then goes over every pending fix-up:
//!
//! * label bound and in reach: patched now;
//! * label bound but out of reach (backward too far), or unbound with a
//!   deadline that would pass before the next island could come: a *veneer*
//!   is emitted here ([`LabelUse::generate_veneer`]), the use is patched to
//!   the veneer, and the veneer's own use (longer reach) takes its place;
//! * a kind without a veneer that cannot reach: [`BufferError::OutOfRange`];
//! * otherwise it stays pending.
//!
//! The deadline and worst case are then recomputed from what is left.
//! x64's `rel32` reaches every offset of a function the buffer accepts, so on
//! x64 islands only ever carry constants and trap stubs when the ISA asks
//! for them.
//!
//! # Constants
//!
//! [`MachBuffer::add_constant`] deduplicates by content: the same bytes give
//! the same [`Constant`]. Asking again with a larger alignment raises the
//! alignment of a constant not yet emitted (or makes a new one when the old
//! one was already emitted with less). [`MachBuffer::constant_label`]
//! schedules the constant for the next island or the end, where it is emitted
//! aligned (padded with [`MachTarget::PADDING_BYTE`]). The finished code's
//! alignment is the larger of [`MachTarget::FUNCTION_ALIGNMENT`] and the
//! largest constant alignment, so an aligned offset is an aligned address.
//! Code aligned to more than the function alignment (a loop header, say)
//! raises it the same way with [`MachBuffer::require_alignment`].
//!
//! # Deferred traps
//!
//! [`MachBuffer::defer_trap`] returns a fresh label for a trap stub and
//! remembers the trap code and the open source location. At the next island
//! or at the end each stub is bound, gets a trap-table entry and a
//! source-location range, and consists of [`MachTarget::TRAP_INSTRUCTION`].
//! Stubs are not shared: each keeps its own source location.
//!
//! # Errors
//!
//! Misuse that would produce wrong code is an error, never wrong code:
//! binding a label twice ([`BufferError::LabelBoundTwice`], returned by
//! `bind_label` and again by `finish`), finishing with a used label unbound
//! ([`BufferError::UnboundLabel`]; unused unbound labels are fine), a use
//! that cannot reach its label ([`BufferError::OutOfRange`]) and code over
//! `i32::MAX` bytes ([`BufferError::CodeTooLarge`]). Errors found before
//! `finish` are kept (the first one) and reported by `finish`.
//!
//! Broken contracts between the buffer and the ISA (a label or constant from
//! another buffer, a use whose field was never emitted) are internal
//! invariants and panic with a message saying which.
//!
//! # Contract with the ISA
//!
//! * `put_uncond_branch` / `put_cond_branch` get the whole branch
//!   instruction. `label_use = Some((offset_within_bytes, kind))` registers
//!   the displacement field; `None` means the ISA encoded the displacement
//!   itself, which it may only do for a target already bound (a backward
//!   branch). The inverted encoding, when given, has the same length and
//!   field layout and the same initial field contents.
//! * Label offsets returned by [`MachBuffer::label_offset`] may be baked into
//!   bytes only through such a branch; anything else goes through a label
//!   use.

use crate::metadata::{ExternalName, RelocKind, SourceLoc, TrapCode};
use crate::unwind::{UnwindInst, UnwindRecord};
use core::cell::Cell;
use core::fmt;
use core::marker::PhantomData;
use std::collections::HashMap;

#[cfg(feature = "serde")]
mod records;
#[cfg(test)]
mod tests;

/// A byte offset from the start of the function's code.
pub type CodeOffset = u32;

/// A position in the code, bound at most once; branches and other label
/// uses may refer to it before or after it is bound.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label(u32);

impl Label {
    /// The label's number within its buffer.
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Debug for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "label{}", self.0)
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A kind of reference to a label that the ISA knows how to patch: a branch
/// displacement, a PC-relative load offset, a jump-table entry.
///
/// Distances are measured as `label_offset - use_offset`, where `use_offset`
/// is the offset of the patched field.
pub trait LabelUse: Copy + Eq + fmt::Debug {
    /// The largest forward distance (`label_offset - use_offset`) this kind
    /// can encode.
    fn max_pos_range(self) -> CodeOffset;
    /// The largest backward distance (`use_offset - label_offset`).
    fn max_neg_range(self) -> CodeOffset;
    /// Size in bytes of the patched field.
    fn patch_size(self) -> CodeOffset;
    /// Writes the reference into `field` (exactly `patch_size` bytes, at
    /// `use_offset`), given the label's final offset. The field's previous
    /// contents may carry an addend the kind defines.
    fn patch(self, field: &mut [u8], use_offset: CodeOffset, label_offset: CodeOffset);
    /// The size of a veneer that extends this kind's range, or `None` when
    /// the kind cannot be extended.
    fn veneer_size(self) -> Option<CodeOffset>;
    /// The largest veneer any kind needs (0 when none has one).
    fn worst_case_veneer_size() -> CodeOffset;
    /// Writes a veneer into `veneer` (`veneer_size` bytes, at
    /// `veneer_offset`): code that continues to the label with a longer
    /// reach. Returns the offset within the veneer of the veneer's own label
    /// use and that use's kind.
    fn generate_veneer(self, veneer: &mut [u8], veneer_offset: CodeOffset) -> (CodeOffset, Self);
}

/// What the buffer needs to know about an ISA.
pub trait MachTarget {
    /// The ISA's kinds of label reference.
    type LabelUse: LabelUse;
    /// An instruction that always traps (deferred trap stubs are made of it).
    const TRAP_INSTRUCTION: &'static [u8];
    /// The byte that pads between code and data (never executed).
    const PADDING_BYTE: u8;
    /// The alignment every function's code starts at.
    const FUNCTION_ALIGNMENT: u32;
}

/// A constant-pool entry; see [`MachBuffer::add_constant`].
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub struct Constant(u32);

/// A misuse of the buffer that would otherwise produce wrong code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BufferError {
    /// `bind_label` was called twice for one label.
    #[error("{0} is bound twice")]
    LabelBoundTwice(Label),
    /// A label is referred to but was never bound.
    #[error("{0} is used but never bound")]
    UnboundLabel(Label),
    /// A label use cannot reach its label and its kind has no veneer.
    #[error(
        "the reference at offset {use_offset:#x} cannot reach {label} at offset {label_offset:#x}"
    )]
    OutOfRange {
        /// Where the reference is.
        use_offset: CodeOffset,
        /// The label it refers to.
        label: Label,
        /// Where the label is.
        label_offset: CodeOffset,
    },
    /// The code outgrew the 32-bit offsets (or the ISA's reach).
    #[error("the function's code is {0} bytes, more than the assembler supports")]
    CodeTooLarge(usize),
}

/// A trap-table entry: the instruction at `offset` traps with `code`.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct TrapRecord {
    /// Offset of the trapping instruction's first byte.
    pub offset: CodeOffset,
    /// Why it traps.
    pub code: TrapCode,
}

/// A relocation the runtime applies when it links the code.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct Relocation {
    /// Offset of the patched field.
    pub offset: CodeOffset,
    /// How the field is computed.
    pub kind: RelocKind,
    /// The symbol it refers to.
    pub target: ExternalName,
    /// The addend `A`.
    pub addend: i64,
}

/// A call site: the offset just after a call instruction (its return
/// address).
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct CallSite {
    /// The return address's offset.
    pub return_offset: CodeOffset,
}

/// Code in `start..end` came from source location `loc`.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct SrcLocRange {
    /// First byte.
    pub start: CodeOffset,
    /// One past the last byte.
    pub end: CodeOffset,
    /// The source location.
    pub loc: SourceLoc,
}

/// The buffer's result: final bytes and metadata.
///
/// With the `serde` feature it serializes as its metadata only: the
/// bytes and the label offsets (which matter only while code is being
/// built) are left out, and a deserialized value has none
/// ([`FinishedCode::strip_code`]'s state). A precompiled module (the
/// runtime's `artifact` module) stores the bytes of all its functions as
/// one linked image beside this metadata.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct FinishedCode {
    #[cfg_attr(feature = "serde", serde(skip))]
    code: Vec<u8>,
    alignment: u32,
    #[cfg_attr(feature = "serde", serde(with = "records"))]
    relocations: Vec<Relocation>,
    #[cfg_attr(feature = "serde", serde(with = "records"))]
    traps: Vec<TrapRecord>,
    #[cfg_attr(feature = "serde", serde(with = "records"))]
    call_sites: Vec<CallSite>,
    #[cfg_attr(feature = "serde", serde(with = "records"))]
    srclocs: Vec<SrcLocRange>,
    #[cfg_attr(feature = "serde", serde(with = "records"))]
    unwind: Vec<UnwindRecord>,
    #[cfg_attr(feature = "serde", serde(skip))]
    label_offsets: Vec<CodeOffset>,
}

impl FinishedCode {
    /// The machine code, followed by constants and trap stubs.
    pub fn code(&self) -> &[u8] {
        &self.code
    }
    /// The alignment the code must be placed at.
    pub fn alignment(&self) -> u32 {
        self.alignment
    }
    /// Relocations, by offset.
    pub fn relocations(&self) -> &[Relocation] {
        &self.relocations
    }
    /// The trap table, sorted by offset.
    pub fn traps(&self) -> &[TrapRecord] {
        &self.traps
    }
    /// Call sites, by offset.
    pub fn call_sites(&self) -> &[CallSite] {
        &self.call_sites
    }
    /// Source-location ranges, by offset.
    pub fn srclocs(&self) -> &[SrcLocRange] {
        &self.srclocs
    }
    /// The unwind records, in code order ([`crate::unwind`]); empty for
    /// code that recorded no frame.
    pub fn unwind(&self) -> &[UnwindRecord] {
        &self.unwind
    }
    /// The final offset of `label` (after aliases), if it was bound.
    pub fn label_offset(&self, label: Label) -> Option<CodeOffset> {
        self.label_offsets
            .get(label.index())
            .copied()
            .filter(|&o| o != u32::MAX)
    }
    /// Frees the bytes and the label offsets, keeping what describes the
    /// code once it is loaded elsewhere: alignment, relocations, traps,
    /// call sites, source locations and unwind records. Afterwards
    /// [`code`](Self::code) is empty and [`label_offset`](Self::label_offset)
    /// finds nothing.
    pub fn strip_code(&mut self) {
        self.code = Vec::new();
        self.label_offsets = Vec::new();
    }
    /// The trap code recorded at `offset`, if any.
    pub fn trap_at(&self, offset: CodeOffset) -> Option<TrapCode> {
        self.traps
            .binary_search_by_key(&offset, |t| t.offset)
            .ok()
            .map(|i| self.traps[i].code)
    }
}

/// Emitted code under construction. See the [module docs](self).
pub struct MachBuffer<T: MachTarget> {
    /// The bytes emitted so far.
    data: Vec<u8>,
    /// Per label: its offset, or [`UNBOUND`] (never bound, or aliased).
    label_offsets: Vec<CodeOffset>,
    /// Per label: the label it was redirected to by rewrite 2.
    /// Resolving compresses paths (see [`MachBuffer::resolve_label`]),
    /// hence the cells.
    label_aliases: Vec<Cell<Option<Label>>>,
    /// Label uses not yet patched, in emission order.
    fixups: Vec<Fixup<T::LabelUse>>,
    /// The most recent branches: contiguous, the last one ending at the tail
    /// (checked lazily: a list whose last branch does not end at the tail is
    /// stale and gets cleared).
    branches: Vec<Branch>,
    /// The labels bound at `labels_at_tail_offset`; meaningful only while
    /// that offset is the tail.
    labels_at_tail: Vec<Label>,
    labels_at_tail_offset: CodeOffset,
    /// Every constant ever added, indexed by [`Constant`].
    constants: Vec<PoolConstant>,
    /// Deduplication: the constant that currently stands for these bytes.
    constants_by_content: HashMap<Vec<u8>, Constant>,
    /// Constants whose label was asked for and that are not yet emitted.
    pending_constants: Vec<Constant>,
    /// The largest alignment asked of an offset in the code: a constant's
    /// or [`MachBuffer::require_alignment`]'s.
    largest_alignment: u32,
    /// Trap stubs to emit at the next island or at the end.
    pending_traps: Vec<DeferredTrap>,
    traps: Vec<TrapRecord>,
    relocations: Vec<Relocation>,
    call_sites: Vec<CallSite>,
    srclocs: Vec<SrcLocRange>,
    /// The source location being tagged and where it started.
    open_srcloc: Option<(CodeOffset, SourceLoc)>,
    /// In code order (every record is made at the tail).
    unwind: Vec<UnwindRecord>,
    /// The earliest offset by which some pending use must be resolved or
    /// given a veneer.
    island_deadline: CodeOffset,
    /// Worst-case size of the veneers the next island may need.
    island_veneers_worst_case: CodeOffset,
    /// Worst-case size of the pending constants (with padding) and trap
    /// stubs.
    island_data_worst_case: CodeOffset,
    simplify_branches: bool,
    /// The first error found before `finish`.
    error: Option<BufferError>,
    _target: PhantomData<T>,
}

/// `label_offsets` value of a label that is not bound.
const UNBOUND: CodeOffset = CodeOffset::MAX;

/// The largest code the buffer accepts: offsets and signed 32-bit
/// displacements between any two of them must not wrap.
const MAX_CODE_SIZE: usize = i32::MAX as usize;

/// The longest branch instruction whose inverted encoding the buffer keeps
/// (x86's maximum instruction length).
const MAX_BRANCH_SIZE: usize = 15;

/// A pending label use: the field at `offset` refers to `label` with `kind`.
#[derive(Copy, Clone, Debug)]
struct Fixup<U> {
    label: Label,
    offset: CodeOffset,
    kind: U,
}

/// How many fix-ups and metadata records exist; compared before and after a
/// branch to know that nothing but the branch's own fix-up refers to its
/// bytes.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
struct RecordCounts {
    fixups: usize,
    traps: usize,
    relocations: usize,
    call_sites: usize,
}

/// A branch encoding kept inline (branches are short).
#[derive(Copy, Clone, Debug)]
struct BranchBytes {
    len: u8,
    bytes: [u8; MAX_BRANCH_SIZE],
}

impl BranchBytes {
    /// `None` when `bytes` is too long to keep.
    fn new(bytes: &[u8]) -> Option<Self> {
        if bytes.len() > MAX_BRANCH_SIZE {
            return None;
        }
        let mut inline = [0; MAX_BRANCH_SIZE];
        inline[..bytes.len()].copy_from_slice(bytes);
        Some(BranchBytes {
            len: bytes.len() as u8,
            bytes: inline,
        })
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

#[derive(Copy, Clone, Debug)]
enum BranchKind {
    Unconditional,
    /// `inverted`: the same-length encoding with the opposite condition, if
    /// the ISA gave one (without it the branch is never inverted).
    Conditional {
        inverted: Option<BranchBytes>,
    },
}

/// A branch instruction at the tail of the code, kept so that it can be
/// rewritten (see the module docs).
#[derive(Clone, Debug)]
struct Branch {
    start: CodeOffset,
    end: CodeOffset,
    target: Label,
    /// Index of the branch's fix-up in `fixups`; `None` when the ISA encoded
    /// the displacement itself.
    fixup: Option<usize>,
    kind: BranchKind,
    /// The labels bound at `start`.
    labels_at_this_branch: Vec<Label>,
    /// Record counts just before and just after the branch was emitted.
    recorded_before: RecordCounts,
    recorded_after: RecordCounts,
}

/// Where a pool constant is in its life.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
enum ConstantPlacement {
    /// Added, but its label was never asked for.
    Unscheduled,
    /// Its label was asked for; emitted at the next island or at the end.
    Pending,
    /// Emitted (its label is bound).
    Emitted,
}

#[derive(Clone, Debug)]
struct PoolConstant {
    data: Vec<u8>,
    align: u32,
    label: Option<Label>,
    placement: ConstantPlacement,
}

#[derive(Copy, Clone, Debug)]
struct DeferredTrap {
    label: Label,
    code: TrapCode,
    loc: Option<SourceLoc>,
}

/// Whether a `kind` use at `use_offset` reaches `label_offset`.
fn reaches<U: LabelUse>(kind: U, use_offset: CodeOffset, label_offset: CodeOffset) -> bool {
    if label_offset >= use_offset {
        label_offset - use_offset <= kind.max_pos_range()
    } else {
        use_offset - label_offset <= kind.max_neg_range()
    }
}

impl<T: MachTarget> Default for MachBuffer<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: MachTarget> MachBuffer<T> {
    /// An empty buffer with branch simplification on.
    pub fn new() -> Self {
        MachBuffer {
            data: Vec::new(),
            label_offsets: Vec::new(),
            label_aliases: Vec::new(),
            fixups: Vec::new(),
            branches: Vec::new(),
            labels_at_tail: Vec::new(),
            labels_at_tail_offset: 0,
            constants: Vec::new(),
            constants_by_content: HashMap::new(),
            pending_constants: Vec::new(),
            largest_alignment: 1,
            pending_traps: Vec::new(),
            traps: Vec::new(),
            relocations: Vec::new(),
            call_sites: Vec::new(),
            srclocs: Vec::new(),
            open_srcloc: None,
            unwind: Vec::new(),
            island_deadline: CodeOffset::MAX,
            island_veneers_worst_case: 0,
            island_data_worst_case: 0,
            simplify_branches: true,
            error: None,
            _target: PhantomData,
        }
    }

    /// Turns branch simplification on or off (it is on by default). Branches
    /// emitted while it is off are never rewritten.
    pub fn set_branch_simplification(&mut self, on: bool) {
        self.simplify_branches = on;
        self.branches.clear();
    }

    /// Makes the finished code's alignment at least `align` (a power of
    /// two), so that offsets aligned to it here are aligned in memory.
    pub fn require_alignment(&mut self, align: u32) {
        debug_assert!(align.is_power_of_two());
        self.largest_alignment = self.largest_alignment.max(align);
    }

    /// The offset the next byte will have.
    pub fn cur_offset(&self) -> CodeOffset {
        // Past `MAX_CODE_SIZE` a `CodeTooLarge` error is already recorded.
        CodeOffset::try_from(self.data.len()).unwrap_or(CodeOffset::MAX)
    }

    /// The bytes emitted so far.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Appends bytes.
    pub fn put_bytes(&mut self, bytes: &[u8]) {
        self.data.extend_from_slice(bytes);
        if self.data.len() > MAX_CODE_SIZE {
            self.record_error(BufferError::CodeTooLarge(self.data.len()));
        }
    }

    /// Appends the first `len` bytes of `bytes`: one instruction, encoded
    /// into a fixed-size scratch array. Copying the whole array is a
    /// fixed-size move the compiler inlines, cheaper for a few bytes than the
    /// variable-length copy of [`put_bytes`](Self::put_bytes).
    #[inline]
    pub fn put_inst_bytes(&mut self, bytes: &[u8; 16], len: usize) {
        debug_assert!(len <= bytes.len());
        let end = self.data.len() + len;
        self.data.extend_from_slice(bytes);
        self.data.truncate(end);
        if end > MAX_CODE_SIZE {
            self.record_error(BufferError::CodeTooLarge(end));
        }
    }

    /// Overwrites already emitted bytes at `offset`.
    ///
    /// # Panics
    ///
    /// When the range was not emitted (an ISA bug).
    pub fn patch_bytes(&mut self, offset: CodeOffset, bytes: &[u8]) {
        let start = offset as usize;
        let end = start + bytes.len();
        let Some(target) = self.data.get_mut(start..end) else {
            panic!(
                "patch_bytes({offset:#x}, {} bytes) is past the end of the code ({:#x})",
                bytes.len(),
                self.data.len()
            );
        };
        target.copy_from_slice(bytes);
        // A recorded branch whose bytes changed can no longer be rewritten
        // from what the buffer knows about it.
        if self.branches.last().is_some_and(|b| offset < b.end) {
            self.branches.clear();
        }
    }

    /// A new, unbound label.
    pub fn new_label(&mut self) -> Label {
        let label = Label(u32::try_from(self.label_offsets.len()).expect("more than 2^32 labels"));
        self.label_offsets.push(UNBOUND);
        self.label_aliases.push(Cell::new(None));
        label
    }

    /// Binds `label` to the current offset.
    ///
    /// Fails (and makes `finish` fail) when `label` is already bound, or was
    /// bound and then aliased by branch simplification.
    pub fn bind_label(&mut self, label: Label) -> Result<(), BufferError> {
        self.check_label(label);
        if self.is_bound_or_aliased(label) {
            let error = BufferError::LabelBoundTwice(label);
            self.record_error(error.clone());
            return Err(error);
        }
        let here = self.cur_offset();
        self.label_offsets[label.index()] = here;
        if self.labels_at_tail_offset != here {
            self.labels_at_tail.clear();
            self.labels_at_tail_offset = here;
        }
        self.labels_at_tail.push(label);
        if self.simplify_branches {
            self.optimize_branches();
        }
        Ok(())
    }

    /// Before padding after which `label` will be bound: removes the
    /// branches at the tail that jump to `label` (branch simplification's
    /// first rule, applied before the padding hides them), so execution
    /// falls through the padding instead. Does nothing with branch
    /// simplification off.
    pub fn elide_branches_to(&mut self, label: Label) {
        self.check_label(label);
        if !self.simplify_branches {
            return;
        }
        let label = self.resolve_label(label);
        while let Some(b) = self.branches.last() {
            if b.end != self.cur_offset()
                || self.resolve_label(b.target) != label
                || !self.can_remove_last_branch()
            {
                return;
            }
            self.remove_last_branch();
        }
    }

    /// The offset `label` is bound at (following aliases), if bound.
    pub fn label_offset(&self, label: Label) -> Option<CodeOffset> {
        let offset = self.label_offsets[self.resolve_label(label).index()];
        (offset != UNBOUND).then_some(offset)
    }

    /// Records that the field at `offset` refers to `label` with `kind`. The
    /// field is patched at the next island or at the end; it may hold an
    /// addend the kind defines.
    pub fn use_label_at_offset(&mut self, offset: CodeOffset, label: Label, kind: T::LabelUse) {
        self.check_label(label);
        self.add_pending_fixup(Fixup {
            label,
            offset,
            kind,
        });
    }

    /// Emits an unconditional branch: `bytes` is the whole instruction,
    /// `label_use` its displacement field (`None` when the ISA encoded a
    /// backward displacement to the already bound `target` itself).
    pub fn put_uncond_branch(
        &mut self,
        bytes: &[u8],
        target: Label,
        label_use: Option<(CodeOffset, T::LabelUse)>,
    ) {
        self.put_branch(bytes, target, label_use, BranchKind::Unconditional);
    }

    /// Emits a conditional branch: like
    /// [`put_uncond_branch`](Self::put_uncond_branch), plus `inverted`, the
    /// same-length encoding with the opposite condition (same field layout
    /// and initial field contents), or `None` if the branch must never be
    /// inverted.
    pub fn put_cond_branch(
        &mut self,
        bytes: &[u8],
        inverted: Option<&[u8]>,
        target: Label,
        label_use: Option<(CodeOffset, T::LabelUse)>,
    ) {
        // An inverted encoding of another length cannot replace the branch
        // in place; treat it as absent.
        let inverted = inverted
            .filter(|inv| inv.len() == bytes.len())
            .and_then(BranchBytes::new);
        self.put_branch(
            bytes,
            target,
            label_use,
            BranchKind::Conditional { inverted },
        );
    }

    /// Adds a constant to the pool (deduplicated by content). `align` is
    /// rounded up to a power of two (0 means 1).
    pub fn add_constant(&mut self, data: &[u8], align: u32) -> Constant {
        let align = align.max(1).checked_next_power_of_two().unwrap_or(1 << 31);
        if let Some(&existing) = self.constants_by_content.get(data) {
            let entry = &mut self.constants[existing.0 as usize];
            match entry.placement {
                ConstantPlacement::Unscheduled => {
                    entry.align = entry.align.max(align);
                    return existing;
                }
                ConstantPlacement::Pending => {
                    if align > entry.align {
                        // Its padding may grow by the difference.
                        self.island_data_worst_case = self
                            .island_data_worst_case
                            .saturating_add(align - entry.align);
                        entry.align = align;
                    }
                    return existing;
                }
                // Already emitted at an offset aligned enough: reuse it.
                ConstantPlacement::Emitted if entry.align >= align => return existing,
                // Emitted with less alignment: a new copy below.
                ConstantPlacement::Emitted => {}
            }
        }
        let constant =
            Constant(u32::try_from(self.constants.len()).expect("more than 2^32 constants"));
        self.constants.push(PoolConstant {
            data: data.to_vec(),
            align,
            label: None,
            placement: ConstantPlacement::Unscheduled,
        });
        self.constants_by_content.insert(data.to_vec(), constant);
        constant
    }

    /// The label of a constant; the constant is emitted at the next island or
    /// at the end.
    ///
    /// The alignment `constant` is emitted at (it never decreases: asking
    /// for more alignment gives a new constant once this one is emitted).
    ///
    /// # Panics
    ///
    /// When `constant` comes from another buffer.
    pub fn constant_alignment(&self, constant: Constant) -> u32 {
        self.constants[constant.0 as usize].align
    }

    /// # Panics
    ///
    /// When `constant` comes from another buffer.
    pub fn constant_label(&mut self, constant: Constant) -> Label {
        let index = constant.0 as usize;
        assert!(
            index < self.constants.len(),
            "{constant:?} does not belong to this buffer"
        );
        let label = match self.constants[index].label {
            Some(label) => label,
            None => {
                let label = self.new_label();
                self.constants[index].label = Some(label);
                label
            }
        };
        let entry = &mut self.constants[index];
        if entry.placement == ConstantPlacement::Unscheduled {
            entry.placement = ConstantPlacement::Pending;
            let worst_case = (entry.data.len() as u32).saturating_add(entry.align - 1);
            self.island_data_worst_case = self.island_data_worst_case.saturating_add(worst_case);
            self.pending_constants.push(constant);
        }
        label
    }

    /// A label of a trap stub emitted later (at the next island or at the
    /// end) that traps with `code`, tagged with the current source location.
    pub fn defer_trap(&mut self, code: TrapCode) -> Label {
        let label = self.new_label();
        let loc = self.open_srcloc.map(|(_, loc)| loc);
        self.pending_traps.push(DeferredTrap { label, code, loc });
        self.island_data_worst_case = self
            .island_data_worst_case
            .saturating_add(T::TRAP_INSTRUCTION.len() as u32);
        label
    }

    /// Records that the instruction starting at the current offset traps with
    /// `code`.
    pub fn add_trap(&mut self, code: TrapCode) {
        self.add_trap_at(self.cur_offset(), code);
    }

    /// Records that the instruction starting at `offset` (at or before the
    /// current offset: the instruction being emitted) traps with `code`.
    pub fn add_trap_at(&mut self, offset: CodeOffset, code: TrapCode) {
        debug_assert!(
            offset <= self.cur_offset(),
            "trap recorded at {offset:#x}, past the code"
        );
        self.traps.push(TrapRecord { offset, code });
    }

    /// Records a relocation of the field at `offset`.
    pub fn add_reloc_at_offset(
        &mut self,
        offset: CodeOffset,
        kind: RelocKind,
        target: ExternalName,
        addend: i64,
    ) {
        self.relocations.push(Relocation {
            offset,
            kind,
            target,
            addend,
        });
    }

    /// Records a call site whose return address is the current offset.
    pub fn add_call_site(&mut self) {
        let return_offset = self.cur_offset();
        self.call_sites.push(CallSite { return_offset });
    }

    /// Starts tagging code with `loc` (ending the open source location, if
    /// any).
    pub fn start_srcloc(&mut self, loc: SourceLoc) {
        self.end_srcloc();
        self.open_srcloc = Some((self.cur_offset(), loc));
    }

    /// Stops tagging code with the current source location. A range that
    /// covers no bytes is dropped.
    pub fn end_srcloc(&mut self) {
        if let Some((start, loc)) = self.open_srcloc.take() {
            let end = self.cur_offset();
            if start < end {
                self.srclocs.push(SrcLocRange { start, end, loc });
            }
        }
    }

    /// Records that the frame changes as `inst` says from the current
    /// offset on (after the instruction just emitted; see
    /// [`crate::unwind`]). Emits nothing.
    pub fn add_unwind(&mut self, inst: UnwindInst) {
        let offset = self.cur_offset();
        self.unwind.push(UnwindRecord { offset, inst });
    }

    /// Whether an island must be emitted before `distance` more bytes: after
    /// them, the worst-case island would no longer fit before the earliest
    /// deadline of a pending label use.
    pub fn island_needed(&self, distance: CodeOffset) -> bool {
        let worst_case = self
            .island_veneers_worst_case
            .saturating_add(self.island_data_worst_case);
        self.cur_offset()
            .saturating_add(distance)
            .saturating_add(worst_case)
            > self.island_deadline
    }

    /// Emits an island here: pending trap stubs, pending constants, and the
    /// veneers of uses that could not wait for a later island. The ISA must
    /// already have emitted a jump over it; `distance` is how many bytes it
    /// may emit after the island before it next asks
    /// [`island_needed`](Self::island_needed).
    pub fn emit_island(&mut self, distance: CodeOffset) {
        // Data follows now: nothing before it may be truncated or rewritten,
        // and no label is at the tail of executable code any more.
        self.branches.clear();
        self.labels_at_tail.clear();
        let reopen = self.open_srcloc.map(|(_, loc)| loc);
        self.end_srcloc();

        self.emit_pending_traps();
        self.emit_pending_constants();

        let veneer_size = T::LabelUse::worst_case_veneer_size();
        let pending = core::mem::take(&mut self.fixups);
        self.island_deadline = CodeOffset::MAX;
        self.island_veneers_worst_case = 0;
        // Veneers the uses not yet looked at may still need here.
        let mut remaining_worst_case =
            veneer_size.saturating_mul(u32::try_from(pending.len()).unwrap_or(u32::MAX));
        for fixup in pending {
            remaining_worst_case = remaining_worst_case.saturating_sub(veneer_size);
            match self.label_offset(fixup.label) {
                Some(label_offset) if reaches(fixup.kind, fixup.offset, label_offset) => {
                    self.patch_use(fixup, label_offset);
                }
                Some(label_offset) => self.extend_with_veneer(fixup, Some(label_offset)),
                None => {
                    // The use can wait only if, after this island (at most
                    // `remaining_worst_case` more veneers), `distance` bytes
                    // and the next island (at most the same veneers again
                    // plus this one's), a veneer would still be in reach.
                    let deadline = fixup.offset.saturating_add(fixup.kind.max_pos_range());
                    let latest_next_veneer = self
                        .cur_offset()
                        .saturating_add(distance)
                        .saturating_add(remaining_worst_case.saturating_mul(2))
                        .saturating_add(veneer_size.saturating_mul(2));
                    let veneer_reachable_here =
                        reaches(fixup.kind, fixup.offset, self.cur_offset());
                    if deadline < latest_next_veneer
                        && fixup.kind.veneer_size().is_some()
                        && veneer_reachable_here
                    {
                        self.extend_with_veneer(fixup, None);
                    } else {
                        // Either it can wait, or nothing here helps: the
                        // label may still be bound within reach; if it is
                        // not, `finish` reports it.
                        self.add_pending_fixup(fixup);
                    }
                }
            }
        }

        if let Some(loc) = reopen {
            self.open_srcloc = Some((self.cur_offset(), loc));
        }
    }

    /// Resolves everything and returns the code and metadata.
    pub fn finish(mut self) -> Result<FinishedCode, BufferError> {
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        self.end_srcloc();
        self.emit_pending_traps();
        self.emit_pending_constants();

        // Uses that cannot reach their label get a veneer at the end; a
        // veneer's own use must then reach (no veneers of veneers here).
        let mut worklist: Vec<(Fixup<T::LabelUse>, bool)> = core::mem::take(&mut self.fixups)
            .into_iter()
            .map(|f| (f, false))
            .collect();
        let mut next = 0;
        while let Some(&(fixup, is_veneer_use)) = worklist.get(next) {
            next += 1;
            let Some(label_offset) = self.label_offset(fixup.label) else {
                return Err(BufferError::UnboundLabel(self.resolve_label(fixup.label)));
            };
            if reaches(fixup.kind, fixup.offset, label_offset) {
                self.patch_use(fixup, label_offset);
            } else if is_veneer_use {
                return Err(BufferError::OutOfRange {
                    use_offset: fixup.offset,
                    label: fixup.label,
                    label_offset,
                });
            } else {
                let veneer_use = self.emit_veneer(fixup, Some(label_offset))?;
                worklist.push((veneer_use, true));
            }
        }
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        if self.data.len() > MAX_CODE_SIZE {
            return Err(BufferError::CodeTooLarge(self.data.len()));
        }

        let label_offsets = (0..self.label_offsets.len())
            .map(|index| self.label_offset(Label(index as u32)).unwrap_or(UNBOUND))
            .collect();
        // Records almost always arrive in order; sort (stably: records at one
        // offset keep their order) only when they did not.
        fn sort_by_offset<R>(records: &mut [R], offset: impl Fn(&R) -> CodeOffset) {
            if !records.is_sorted_by_key(&offset) {
                records.sort_by_key(offset);
            }
        }
        sort_by_offset(&mut self.traps, |t| t.offset);
        sort_by_offset(&mut self.relocations, |r| r.offset);
        sort_by_offset(&mut self.call_sites, |c| c.return_offset);
        sort_by_offset(&mut self.srclocs, |s| s.start);
        // A module's finished functions all live until it is linked: the
        // vectors' spare capacity (up to half of each, from doubling) was
        // most of a small function's memory (1M functions peaked at
        // 1.7 GB). Shrinking copies each vector once.
        fn exact<R>(mut records: Vec<R>) -> Vec<R> {
            records.shrink_to_fit();
            records
        }
        Ok(FinishedCode {
            code: exact(self.data),
            alignment: T::FUNCTION_ALIGNMENT.max(self.largest_alignment),
            relocations: exact(self.relocations),
            traps: exact(self.traps),
            call_sites: exact(self.call_sites),
            srclocs: exact(self.srclocs),
            unwind: exact(self.unwind),
            label_offsets,
        })
    }

    // ---- labels ----

    fn check_label(&self, label: Label) {
        assert!(
            label.index() < self.label_offsets.len(),
            "{label} does not belong to this buffer"
        );
    }

    fn is_bound_or_aliased(&self, label: Label) -> bool {
        self.label_offsets[label.index()] != UNBOUND
            || self.label_aliases[label.index()].get().is_some()
    }

    /// Follows aliases to a label that is not aliased, then points every
    /// label on the way straight at it (path compression: nested
    /// constructs make chains as long as the nesting is deep, and every
    /// use of a label deep in one walked it all, quadratic in the nesting
    /// depth). Compressing changes no resolution: aliases are only ever
    /// added, and only from a label that is not aliased, so a label's
    /// resolution later is its resolution now, resolved further.
    fn resolve_label(&self, label: Label) -> Label {
        let mut root = label;
        // Invariant 4 (no alias cycles) bounds the chain by the label count.
        let mut steps = 0;
        while let Some(alias) = self.label_aliases[root.index()].get() {
            root = alias;
            steps += 1;
            assert!(
                steps <= self.label_aliases.len(),
                "label aliases form a cycle through {label} (invariant 4 broken)"
            );
        }
        let mut cursor = label;
        while let Some(alias) = self.label_aliases[cursor.index()].get() {
            self.label_aliases[cursor.index()].set(Some(root));
            cursor = alias;
        }
        root
    }

    /// Binds a label the buffer itself places (constants, trap stubs).
    fn bind_internal_label(&mut self, label: Label) {
        if self.is_bound_or_aliased(label) {
            // The ISA bound a label it got from `constant_label` or
            // `defer_trap`.
            self.record_error(BufferError::LabelBoundTwice(label));
            return;
        }
        self.label_offsets[label.index()] = self.cur_offset();
    }

    fn record_error(&mut self, error: BufferError) {
        self.error.get_or_insert(error);
    }

    // ---- fix-ups, islands and veneers ----

    /// Adds a use to the pending list, lowering the island deadline unless
    /// its label is already bound within reach behind it (then it can be
    /// patched whenever, since by invariant 1 that label cannot move while
    /// the use exists).
    fn add_pending_fixup(&mut self, fixup: Fixup<T::LabelUse>) {
        let bound_within_reach = self.label_offset(fixup.label).is_some_and(|at| {
            at <= fixup.offset && fixup.offset - at <= fixup.kind.max_neg_range()
        });
        if !bound_within_reach {
            let deadline = fixup.offset.saturating_add(fixup.kind.max_pos_range());
            self.island_deadline = self.island_deadline.min(deadline);
            self.island_veneers_worst_case = self
                .island_veneers_worst_case
                .saturating_add(T::LabelUse::worst_case_veneer_size());
        }
        self.fixups.push(fixup);
    }

    fn patch_use(&mut self, fixup: Fixup<T::LabelUse>, label_offset: CodeOffset) {
        let start = fixup.offset as usize;
        let end = start + fixup.kind.patch_size() as usize;
        let code_size = self.data.len();
        let Some(field) = self.data.get_mut(start..end) else {
            panic!(
                "the use of {} at {:#x} patches bytes past the end of the code ({code_size:#x}): \
                 the ISA registered a field it never emitted",
                fixup.label, fixup.offset
            );
        };
        fixup.kind.patch(field, fixup.offset, label_offset);
    }

    /// Emits a veneer for `fixup` here and patches the use to it; returns the
    /// veneer's own use. Errors when the kind has no veneer or the use cannot
    /// even reach here.
    fn emit_veneer(
        &mut self,
        fixup: Fixup<T::LabelUse>,
        label_offset: Option<CodeOffset>,
    ) -> Result<Fixup<T::LabelUse>, BufferError> {
        let veneer_offset = self.cur_offset();
        let out_of_range = BufferError::OutOfRange {
            use_offset: fixup.offset,
            label: fixup.label,
            label_offset: label_offset.unwrap_or(veneer_offset),
        };
        let Some(size) = fixup.kind.veneer_size() else {
            return Err(out_of_range);
        };
        if !reaches(fixup.kind, fixup.offset, veneer_offset) {
            return Err(out_of_range);
        }
        self.put_bytes(&vec![0; size as usize]);
        let veneer = &mut self.data[veneer_offset as usize..][..size as usize];
        let (use_within_veneer, kind) = fixup.kind.generate_veneer(veneer, veneer_offset);
        self.patch_use(fixup, veneer_offset);
        Ok(Fixup {
            label: fixup.label,
            offset: veneer_offset + use_within_veneer,
            kind,
        })
    }

    /// In an island: gives `fixup` a veneer here; the veneer's own use is
    /// patched now if it reaches, else it stays pending. Errors are sticky.
    fn extend_with_veneer(&mut self, fixup: Fixup<T::LabelUse>, label_offset: Option<CodeOffset>) {
        match self.emit_veneer(fixup, label_offset) {
            Ok(veneer_use) => match self.label_offset(veneer_use.label) {
                Some(at) if reaches(veneer_use.kind, veneer_use.offset, at) => {
                    self.patch_use(veneer_use, at)
                }
                _ => self.add_pending_fixup(veneer_use),
            },
            Err(error) => self.record_error(error),
        }
    }

    fn emit_pending_traps(&mut self) {
        for trap in core::mem::take(&mut self.pending_traps) {
            self.bind_internal_label(trap.label);
            let start = self.cur_offset();
            self.traps.push(TrapRecord {
                offset: start,
                code: trap.code,
            });
            self.put_bytes(T::TRAP_INSTRUCTION);
            if let Some(loc) = trap.loc {
                self.srclocs.push(SrcLocRange {
                    start,
                    end: self.cur_offset(),
                    loc,
                });
            }
        }
        self.island_data_worst_case = 0;
    }

    fn emit_pending_constants(&mut self) {
        for constant in core::mem::take(&mut self.pending_constants) {
            let index = constant.0 as usize;
            let align = self.constants[index].align;
            while !self.cur_offset().is_multiple_of(align) {
                self.put_bytes(&[T::PADDING_BYTE]);
            }
            let label = self.constants[index]
                .label
                .expect("a pending constant has a label");
            self.bind_internal_label(label);
            let data = core::mem::take(&mut self.constants[index].data);
            self.put_bytes(&data);
            self.constants[index].data = data;
            self.constants[index].placement = ConstantPlacement::Emitted;
            self.largest_alignment = self.largest_alignment.max(align);
        }
        self.island_data_worst_case = 0;
    }

    // ---- branches ----

    fn record_counts(&self) -> RecordCounts {
        RecordCounts {
            fixups: self.fixups.len(),
            traps: self.traps.len(),
            relocations: self.relocations.len(),
            call_sites: self.call_sites.len(),
        }
    }

    /// Whether a trap, relocation or call site was recorded at or after
    /// `offset` (looking at the most recent record of each).
    fn metadata_at_or_after(&self, offset: CodeOffset) -> bool {
        self.traps.last().is_some_and(|t| t.offset >= offset)
            || self.relocations.last().is_some_and(|r| r.offset >= offset)
            || self
                .call_sites
                .last()
                .is_some_and(|c| c.return_offset > offset)
    }

    fn put_branch(
        &mut self,
        bytes: &[u8],
        target: Label,
        label_use: Option<(CodeOffset, T::LabelUse)>,
        kind: BranchKind,
    ) {
        self.check_label(target);
        let start = self.cur_offset();
        debug_assert!(!bytes.is_empty(), "an empty branch instruction");
        debug_assert!(
            label_use.is_some() || self.label_offset(target).is_some_and(|at| at <= start),
            "a branch without a label use must target an already bound label (invariant 2)"
        );
        if self.branches.last().is_some_and(|b| b.end != start) {
            self.branches.clear();
        }
        // Branches carry no traps, relocations or call sites; if something
        // was recorded for these bytes anyway, never remove them.
        let pinned = self.metadata_at_or_after(start);
        let recorded_before = self.record_counts();
        self.put_bytes(bytes);
        let fixup = label_use.map(|(offset_within_bytes, use_kind)| {
            debug_assert!(offset_within_bytes + use_kind.patch_size() <= bytes.len() as u32);
            let index = self.fixups.len();
            self.use_label_at_offset(start + offset_within_bytes, target, use_kind);
            index
        });
        if !self.simplify_branches || pinned {
            self.branches.clear();
            return;
        }
        let labels_at_this_branch = if self.labels_at_tail_offset == start {
            self.labels_at_tail.clone()
        } else {
            Vec::new()
        };
        let recorded_after = self.record_counts();
        self.branches.push(Branch {
            start,
            end: self.cur_offset(),
            target,
            fixup,
            kind,
            labels_at_this_branch,
            recorded_before,
            recorded_after,
        });
    }

    /// Whether the last branch may be removed: it ends at the tail and
    /// nothing but its own fix-up was recorded since it was emitted.
    fn can_remove_last_branch(&self) -> bool {
        self.branches
            .last()
            .is_some_and(|b| b.end == self.cur_offset() && b.recorded_after == self.record_counts())
    }

    /// The four rewrites of the module docs, applied to the branches at the
    /// tail until none fits.
    fn optimize_branches(&mut self) {
        loop {
            let here = self.cur_offset();
            let Some(b) = self.branches.last() else {
                return;
            };
            if b.end != here {
                self.branches.clear();
                return;
            }
            let target = self.resolve_label(b.target);
            let target_offset = self.label_offsets[target.index()];

            // Rule 1: `b` jumps to the next instruction. Taken or not,
            // execution continues at `here`, which is what falling through
            // from `b.start` does once `b` is gone; the labels at `b` and at
            // the tail move to `b.start`, naming the same instruction.
            if target_offset == here && self.can_remove_last_branch() {
                self.remove_last_branch();
                continue;
            }

            if let BranchKind::Unconditional = b.kind {
                // Rule 2: arriving at a label at `b` means arriving at `b`'s
                // target next, so the label may name the target directly.
                // Refused when the target resolves to a label at `b` (a
                // self-loop, and an alias cycle otherwise; invariant 4).
                // Invariant 2 holds: a branch the ISA encoded itself against
                // a label at `b.start` can only be `b` itself, a self-loop.
                if !b.labels_at_this_branch.is_empty() && !b.labels_at_this_branch.contains(&target)
                {
                    let b = self.branches.last_mut().expect("checked above");
                    let aliased = core::mem::take(&mut b.labels_at_this_branch);
                    let b_start = b.start;
                    for label in aliased {
                        debug_assert_eq!(self.label_offsets[label.index()], b_start);
                        self.label_offsets[label.index()] = UNBOUND;
                        self.label_aliases[label.index()].set(Some(target));
                    }
                }

                let b = self.branches.last().expect("checked above");
                if b.labels_at_this_branch.is_empty() && self.branches.len() >= 2 {
                    let previous = &self.branches[self.branches.len() - 2];
                    let adjacent = previous.end == b.start && self.can_remove_last_branch();
                    // Rule 3: nothing falls through into `b` (the previous
                    // jump is unconditional) and no label names it, so it
                    // never executes.
                    if adjacent && matches!(previous.kind, BranchKind::Unconditional) {
                        self.remove_last_branch();
                        continue;
                    }
                    // Rule 4: `jcc L; jmp B; L:` becomes `jncc B; L:`. `jcc`
                    // must jump over `b` to the tail, be patchable (a fix-up)
                    // and invertible, have nothing recorded between it and
                    // `b`, and `b` must not be a self-loop (falling through
                    // to `b.start` would then mean something else).
                    let invertible =
                        matches!(previous.kind, BranchKind::Conditional { inverted: Some(_) })
                            && previous.fixup.is_some()
                            && previous.recorded_after == b.recorded_before;
                    if adjacent
                        && invertible
                        && self.label_offset(previous.target) == Some(here)
                        && target_offset != b.start
                    {
                        let new_target = b.target;
                        self.remove_last_branch();
                        self.invert_last_branch(new_target);
                        continue;
                    }
                }
            }
            return;
        }
    }

    /// Removes the last branch, which ends at the tail: truncates the code to
    /// its start and moves the labels there. Only everything after those
    /// labels is removed (invariant 1).
    fn remove_last_branch(&mut self) {
        let b = self.branches.pop().expect("a branch to remove");
        debug_assert_eq!(b.end, self.cur_offset());
        debug_assert_eq!(
            b.recorded_after,
            self.record_counts(),
            "only the branch's own fix-up refers to it"
        );
        let labels_at_end = if self.labels_at_tail_offset == b.end {
            core::mem::take(&mut self.labels_at_tail)
        } else {
            Vec::new()
        };

        self.data.truncate(b.start as usize);
        self.fixups.truncate(b.recorded_before.fixups);
        while let Some(range) = self.srclocs.last_mut() {
            if range.start >= b.start {
                self.srclocs.pop();
            } else {
                range.end = range.end.min(b.start);
                break;
            }
        }
        if let Some((start, _)) = &mut self.open_srcloc {
            *start = (*start).min(b.start);
        }
        // Records made after the branch (at its end, the tail) now describe
        // the instruction at its start, which is the same next instruction.
        for record in self.unwind.iter_mut().rev() {
            if record.offset <= b.start {
                break;
            }
            record.offset = b.start;
        }

        let mut labels = b.labels_at_this_branch;
        labels.retain(|l| self.label_offsets[l.index()] == b.start);
        for label in labels_at_end {
            // Aliased labels (no longer bound) stay where their alias is.
            if self.label_offsets[label.index()] == b.end {
                self.label_offsets[label.index()] = b.start;
                labels.push(label);
            }
        }
        self.labels_at_tail = labels;
        self.labels_at_tail_offset = b.start;
    }

    /// Rule 4's second half: the last branch (conditional, with a fix-up and
    /// an inverted encoding) takes the opposite condition and `new_target`.
    /// The inverted encoding has the same length and field layout, so the
    /// fix-up still covers its displacement field.
    fn invert_last_branch(&mut self, new_target: Label) {
        let p = self.branches.last_mut().expect("a branch to invert");
        let BranchKind::Conditional {
            inverted: Some(inverted),
        } = p.kind
        else {
            unreachable!("rule 4 checked the branch is conditional with an inverted encoding");
        };
        let range = p.start as usize..p.end as usize;
        let original = BranchBytes::new(&self.data[range.clone()]);
        self.data[range].copy_from_slice(inverted.as_slice());
        p.kind = BranchKind::Conditional { inverted: original };
        p.target = new_target;
        let fixup = p.fixup.expect("rule 4 checked the branch has a fix-up");
        self.fixups[fixup].label = new_target;
    }
}
