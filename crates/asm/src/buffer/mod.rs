//! The MachBuffer: turns emitted bytes, labels and label uses into final
//! code with its metadata. ISA-independent; an ISA plugs in through
//! [`MachTarget`] and its [`LabelUse`] kinds.
//!
//! (Module design documentation: to be written with the implementation.)

use crate::metadata::{ExternalName, RelocKind, SourceLoc, TrapCode};
use core::fmt;

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
    #[error("the reference at offset {use_offset:#x} cannot reach {label} at offset {label_offset:#x}")]
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
#[derive(Clone, Debug)]
pub struct FinishedCode {
    code: Vec<u8>,
    alignment: u32,
    relocations: Vec<Relocation>,
    traps: Vec<TrapRecord>,
    call_sites: Vec<CallSite>,
    srclocs: Vec<SrcLocRange>,
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
    /// The final offset of `label` (after aliases), if it was bound.
    pub fn label_offset(&self, label: Label) -> Option<CodeOffset> {
        self.label_offsets.get(label.index()).copied().filter(|&o| o != u32::MAX)
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
    _target: core::marker::PhantomData<T>,
}

impl<T: MachTarget> Default for MachBuffer<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: MachTarget> MachBuffer<T> {
    /// An empty buffer with branch simplification on.
    pub fn new() -> Self {
        todo!()
    }
    /// Turns branch simplification on or off (it is on by default).
    pub fn set_branch_simplification(&mut self, on: bool) {
        let _ = on;
        todo!()
    }
    /// The offset the next byte will have.
    pub fn cur_offset(&self) -> CodeOffset {
        todo!()
    }
    /// The bytes emitted so far.
    pub fn data(&self) -> &[u8] {
        todo!()
    }
    /// Appends bytes.
    pub fn put_bytes(&mut self, bytes: &[u8]) {
        let _ = bytes;
        todo!()
    }
    /// Overwrites already emitted bytes at `offset`.
    pub fn patch_bytes(&mut self, offset: CodeOffset, bytes: &[u8]) {
        let _ = (offset, bytes);
        todo!()
    }
    /// A new, unbound label.
    pub fn new_label(&mut self) -> Label {
        todo!()
    }
    /// Binds `label` to the current offset.
    pub fn bind_label(&mut self, label: Label) -> Result<(), BufferError> {
        let _ = label;
        todo!()
    }
    /// The offset `label` is bound at (following aliases), if bound.
    pub fn label_offset(&self, label: Label) -> Option<CodeOffset> {
        let _ = label;
        todo!()
    }
    /// Records that the field at `offset` refers to `label` with `kind`.
    pub fn use_label_at_offset(&mut self, offset: CodeOffset, label: Label, kind: T::LabelUse) {
        let _ = (offset, label, kind);
        todo!()
    }
    /// Emits an unconditional branch (see the module docs).
    pub fn put_uncond_branch(&mut self, bytes: &[u8], target: Label, label_use: Option<(CodeOffset, T::LabelUse)>) {
        let _ = (bytes, target, label_use);
        todo!()
    }
    /// Emits a conditional branch (see the module docs).
    pub fn put_cond_branch(
        &mut self,
        bytes: &[u8],
        inverted: Option<&[u8]>,
        target: Label,
        label_use: Option<(CodeOffset, T::LabelUse)>,
    ) {
        let _ = (bytes, inverted, target, label_use);
        todo!()
    }
    /// Adds a constant to the pool (deduplicated).
    pub fn add_constant(&mut self, data: &[u8], align: u32) -> Constant {
        let _ = (data, align);
        todo!()
    }
    /// The label of a constant; the constant is emitted at the next island or at the end.
    pub fn constant_label(&mut self, constant: Constant) -> Label {
        let _ = constant;
        todo!()
    }
    /// A label of a trap stub emitted later that traps with `code`.
    pub fn defer_trap(&mut self, code: TrapCode) -> Label {
        let _ = code;
        todo!()
    }
    /// Records that the instruction starting at the current offset traps with `code`.
    pub fn add_trap(&mut self, code: TrapCode) {
        let _ = code;
        todo!()
    }
    /// Records that the instruction starting at `offset` traps with `code`.
    pub fn add_trap_at(&mut self, offset: CodeOffset, code: TrapCode) {
        let _ = (offset, code);
        todo!()
    }
    /// Records a relocation of the field at `offset`.
    pub fn add_reloc_at_offset(&mut self, offset: CodeOffset, kind: RelocKind, target: ExternalName, addend: i64) {
        let _ = (offset, kind, target, addend);
        todo!()
    }
    /// Records a call site whose return address is the current offset.
    pub fn add_call_site(&mut self) {
        todo!()
    }
    /// Starts tagging code with `loc`.
    pub fn start_srcloc(&mut self, loc: SourceLoc) {
        let _ = loc;
        todo!()
    }
    /// Stops tagging code with the current source location.
    pub fn end_srcloc(&mut self) {
        todo!()
    }
    /// Whether an island must be emitted before `distance` more bytes.
    pub fn island_needed(&self, distance: CodeOffset) -> bool {
        let _ = distance;
        todo!()
    }
    /// Emits an island here.
    pub fn emit_island(&mut self, distance: CodeOffset) {
        let _ = distance;
        todo!()
    }
    /// Resolves everything and returns the code and metadata.
    pub fn finish(self) -> Result<FinishedCode, BufferError> {
        todo!()
    }
}
