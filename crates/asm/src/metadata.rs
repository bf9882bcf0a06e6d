//! What finished code carries besides its bytes: trap codes, source
//! locations, external names and relocation kinds.
//!
//! These are plain values shared by the buffer, both compilers and the
//! runtime. Their *meaning* (which trap code is "out of bounds", what an
//! external name's namespace denotes) is assigned by `duet-environ`; the
//! assembler only carries them from the instruction that produced them to the
//! tables in [`FinishedCode`](crate::FinishedCode).

use core::fmt;
use core::num::NonZeroU8;

/// Why a trapping instruction trapped. Opaque to the assembler: the
/// embedder (duet-environ) assigns the codes.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrapCode(NonZeroU8);

impl TrapCode {
    /// The trap code numbered `code` (1 to 255).
    pub const fn new(code: NonZeroU8) -> Self {
        TrapCode(code)
    }

    /// The trap code numbered `code`; `None` for zero.
    pub const fn from_u8(code: u8) -> Option<Self> {
        match NonZeroU8::new(code) {
            Some(code) => Some(TrapCode(code)),
            None => None,
        }
    }

    /// The code's number.
    pub const fn as_u8(self) -> u8 {
        self.0.get()
    }
}

impl fmt::Debug for TrapCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "trap{}", self.0)
    }
}

impl fmt::Display for TrapCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A position in the source program (for WebAssembly, the byte offset of an
/// operator in the module). Code ranges are tagged with these so that traps
/// and backtraces can name the operator that was executing.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct SourceLoc(pub u32);

impl fmt::Display for SourceLoc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@{:#x}", self.0)
    }
}

/// A symbol outside the function being assembled: another function, a
/// runtime builtin. The runtime resolves it when it links the code.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct ExternalName {
    /// Which kind of thing `index` counts (assigned by the embedder).
    pub namespace: u32,
    /// The thing's number within its namespace.
    pub index: u32,
}

impl ExternalName {
    /// The external name `index` in `namespace`.
    pub const fn new(namespace: u32, index: u32) -> Self {
        ExternalName { namespace, index }
    }
}

impl fmt::Display for ExternalName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "u{}:{}", self.namespace, self.index)
    }
}

/// How a relocation's field is computed once the target's address `S` is
/// known. `A` is the relocation's addend and `P` the field's address.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum RelocKind {
    /// 8 bytes: `S + A`.
    Abs64,
    /// 4 bytes, signed: `S + A - P` (x86-64 RIP-relative operand).
    PcRel32,
    /// 4 bytes, signed: `S + A - P`, the operand of a call instruction (the
    /// linker may route it through a veneer when the target is far).
    CallPcRel32,
}

impl RelocKind {
    /// How many bytes the relocation patches.
    pub const fn size(self) -> usize {
        match self {
            RelocKind::Abs64 => 8,
            RelocKind::PcRel32 | RelocKind::CallPcRel32 => 4,
        }
    }
}
