//! Entering WebAssembly from the host, and leaving it when it traps.
//!
//! The host calls a wasm function through an *entry trampoline*, generated
//! per function type by [`crate::trampoline`], with the System V convention:
//!
//! ```text
//! extern "sysv64" fn(callee_vmctx: *mut VMContext,
//!                    callee: *const u8,           // wasm calling convention
//!                    values: *mut [u8; 16],       // arguments in, results out
//!                    state: *mut EntryState) -> u32
//! ```
//!
//! The trampoline saves the callee-saved registers, records in `*state`
//! where execution resumes after a trap (`resume_sp`, `resume_pc`), moves
//! the arguments from `values` (one 16-byte slot each, in order; scalars in
//! the slot's low bytes) into their places, calls `callee`, stores the
//! results into `values` (slot `i` for result `i`), and returns 0.
//!
//! When wasm code traps (a fault at an instruction in the trap table), the
//! runtime's signal handler sets `rsp = resume_sp`, `rip = resume_pc` and
//! `rax` to a non-zero value, and returns. The code at `resume_pc` is the
//! trampoline's own return path (the normal path also passes through it with
//! `rsp == resume_sp` and `eax == 0`): it restores the callee-saved registers
//! from the trampoline's frame and returns to the host. Every wasm frame
//! below the trampoline is abandoned; wasm frames hold nothing that needs
//! releasing.
//!
//! ```text
//!   host frame ── call ──► trampoline frame: saved rbp, rbx, r12-r15
//!                          (resume_sp points here) ──► wasm frames ──► fault
//!        ▲                          │                                    │
//!        └── ret ◄── resume_pc ◄────┴──── signal handler: rsp, rip, rax ◄┘
//! ```

/// The record an entry trampoline fills in before calling wasm.
pub struct EntryState;

impl EntryState {
    /// `usize`: the stack pointer to resume with after a trap.
    pub const RESUME_SP: u32 = 0;
    /// `usize`: the address to resume at after a trap.
    pub const RESUME_PC: u32 = 8;
    /// Size in bytes.
    pub const SIZE: u32 = 16;
}

/// The size of one argument or result slot in the `values` array.
pub const VALUE_SLOT_SIZE: u32 = 16;

/// What an imported host function's `VMFunctionImport::vmctx` points to.
///
/// Wasm calls a host function through a *host trampoline*, generated per
/// function type and installed as the import's `wasm_call`. The trampoline
/// receives the wasm calling convention (`rdi` = this context), stores the
/// arguments into a `values` array on its stack (one 16-byte slot each),
/// and calls
///
/// ```text
/// extern "sysv64" fn(context: *mut VMHostContext, values: *mut [u8; 16]) -> u32
/// ```
///
/// read from [`VMHostContext::FUNC`]. On 0 it returns the results from
/// `values` (slot `i` for result `i`) in the wasm convention's locations;
/// otherwise the host function failed, and the trampoline executes `ud2`
/// tagged [`Trap::HostError`](crate::trap::Trap::HostError), which unwinds
/// to the entry trampoline like any trap (the runtime keeps the host's error
/// to report). A context is made per import of each instance, so the host
/// function knows which instance called it (for its memory, say); the rest
/// of the record is the runtime's.
pub struct VMHostContext;

impl VMHostContext {
    /// The host function's address.
    pub const FUNC: u32 = 0;
}
