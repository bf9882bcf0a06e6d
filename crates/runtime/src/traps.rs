//! Traps as values: a fault in compiled wasm code becomes a [`TrapInfo`]
//! the host receives, and the host process goes on.
//!
//! This implements the contract of `duet_environ::entry`: the host enters
//! wasm through an entry trampoline that records in an [`EntryState`]
//! record where execution resumes after a trap, and the signal handler
//! sends a trapping thread there.
//!
//! ```text
//!  call_wasm ── pushes an Activation { entry record, trap slot, previous }
//!     │         onto this thread's activation list (CURRENT_ACTIVATION)
//!     ▼
//!  trampoline ── fills the entry record: resume_sp, resume_pc ──► wasm ──► fault
//!     ▲                                                                      │
//!     │       signal handler (on the thread's alternate signal stack) ◄─────┘
//!     │        1. CURRENT_ACTIVATION is non-null          } otherwise: not a
//!     │        2. the pc is in registered code            } wasm trap; chain
//!     │        3. the pc has an entry in the trap table   } to the previous
//!     │        4. record Trap, pc, rbp, the frames        } handler
//!     │        5. rsp = resume_sp, rip = resume_pc, rax = 1; return
//!     └── the trampoline's landing restores callee-saved registers and
//!         returns 1; call_wasm pops the activation and returns Err(TrapInfo)
//! ```
//!
//! # The pieces
//!
//! * [`RegisteredCode`]: a [`CodeMemory`](crate::code::CodeMemory) whose
//!   function ranges, trap tables and source locations are in a
//!   process-wide registry while it lives (the `registry` submodule).
//! * The signal handler for SIGSEGV, SIGBUS, SIGILL and SIGFPE, installed
//!   once per process ([`init_traps`]) with `SA_SIGINFO | SA_ONSTACK |
//!   SA_NODEFER`, remembering the actions it replaced (the `handler`
//!   submodule). Each thread that enters wasm gets an alternate signal stack
//!   of 64 KiB (with a guard page) unless it has one at least that large,
//!   so a trap can be handled on an exhausted or unusable stack.
//! * [`call_wasm`]: the activation list and the call through a trampoline.
//!
//! # What the handler does not own goes elsewhere
//!
//! A fault is a wasm trap only if this thread is inside [`call_wasm`], the
//! faulting pc is in registered code, and that pc is in a trap table with a
//! code [`Trap::from_code`] knows. Anything else (a bug in the host, a
//! fault in wasm code at an instruction nobody tagged, another library's
//! use of these signals) is passed to the handler that was installed
//! before ours: called with the same arguments, or, if it was the default
//! action, the default is restored and the handler returns so that the
//! instruction faults again and the process dies with the signal, exactly
//! as it would have without us. (Rust's own SIGSEGV handler, which reports
//! stack overflows of host code, is such a previous handler.)
//!
//! # Backtraces
//!
//! The handler walks the frame-pointer chain while the wasm frames are
//! still on the stack (once the trampoline returns, the host's next call
//! overwrites them): the faulting pc is frame 0; from its `rbp`, each
//! frame's return address is `[rbp + 8]` and its caller's frame `[rbp]`.
//! The walk stops at the first frame whose caller's frame is at or above
//! `resume_sp` (that caller is the trampoline: every wasm frame of the
//! activation lies below `resume_sp`), or whose return address is not in
//! registered code, or after [`MAX_BACKTRACE_FRAMES`] frames. Stopping by
//! `resume_sp` rather than only by "not wasm code" keeps the trampoline out
//! of the backtrace even when it was loaded into the same registered code
//! as the wasm functions. Each frame names the code, the function, the
//! offset in it, and the wasm bytecode offset from the function's source
//! locations (for a return address, that of the call before it).
//!
//! The walk reads frame pointers only, never the unwind tables the runtime
//! registers with the system unwinder (`crate::unwind`): trap backtraces
//! work the same with `Config::native_unwind_info(false)`, and nothing the
//! system unwinder does runs in the signal handler.
//!
//! A trap raised before the faulting function has set up its frame (a
//! prologue stack check, which runs before `push rbp`) leaves `rbp` at the
//! caller's frame, so the caller is missing from the backtrace: frame 0 is
//! right and frame 1 is the caller's caller.
//!
//! # Why the handler is sound
//!
//! A signal handler may interrupt any code, including `malloc` holding its
//! lock, so it must not allocate, take a lock it could wait for, or touch
//! state the interrupted code may be changing. Ours:
//!
//! * reads `CURRENT_ACTIVATION`, a `const`-initialised thread-local `Cell`
//!   without a destructor: a plain TLS access, no lazy initialisation;
//! * reads the activation's entry record and writes its trap slot. The
//!   activation lives in the frame of the innermost `call_wasm` on this
//!   thread, which is suspended in wasm code below it and reads the slot
//!   only after the trampoline returns; nothing else touches it. (A fault
//!   can only be ours while wasm runs, and then the host is not in the
//!   middle of pushing or popping an activation.)
//! * takes the registry's read lock with `try_read` only, retrying for at
//!   most two seconds (a writer may be descheduled while it holds the lock
//!   on a loaded machine), and not at all on a thread that holds the write
//!   lock, where a fault cannot be a wasm trap: it cannot wait forever,
//!   even when it interrupted the writer itself. Lookups are binary searches over slices and a `BTreeMap` range
//!   query, which allocate nothing. Dropping the guard is an atomic
//!   operation and possibly a futex wake, both async-signal-safe.
//! * reads the wasm stack between the faulting `rsp` and `resume_sp` only
//!   (the walk checks every frame pointer against those bounds);
//! * edits the interrupted context and returns: the kernel's `sigreturn`
//!   then restores the signal mask and the rest of the register state, and
//!   execution continues at the trampoline's landing, which runs with
//!   `rsp == resume_sp` exactly as on the trampoline's normal return path.
//!   Only wasm frames are abandoned, and they hold nothing to release; no
//!   Rust frame is skipped, because wasm is only entered through
//!   `call_wasm` (a host function that wasm calls enters wasm again through
//!   `call_wasm`, which pushes its own activation).
//! * calls `sigaction` (to restore a default action) and `sched_yield`,
//!   plain system calls, and preserves `errno`.
//!
//! The registry is written only outside handlers: entries are built before
//! the write lock is taken and dropped after it is released. Code is
//! unregistered before it is unmapped, so a pc the registry maps is always
//! mapped code.
//!
//! # Limits
//!
//! A handler we chain to is called directly, in our handler's context: its
//! own `sa_mask` and flags (`SA_RESETHAND`, `SA_ONSTACK`) are not applied.
//! A trap code that is not a [`Trap`] is not a trap (the fault is chained).

mod handler;
mod registry;

use core::cell::{Cell, UnsafeCell};
use core::fmt;
use core::mem::MaybeUninit;
use core::ptr;

use duet_environ::entry::EntryState;
use duet_environ::trap::Trap;

pub use handler::init_traps;
pub use registry::{CodeId, RegisteredCode};

/// The most frames a trap's backtrace holds; deeper stacks are cut off
/// (the innermost frames are kept) and [`Backtrace::is_truncated`] says so.
pub const MAX_BACKTRACE_FRAMES: usize = 64;

/// The record a trampoline fills in: `duet_environ`'s [`EntryState`]
/// layout.
#[repr(C)]
#[derive(Copy, Clone, Debug)]
struct EntryRecord {
    resume_sp: usize,
    resume_pc: usize,
}

const _: () = {
    assert!(core::mem::offset_of!(EntryRecord, resume_sp) == EntryState::RESUME_SP as usize);
    assert!(core::mem::offset_of!(EntryRecord, resume_pc) == EntryState::RESUME_PC as usize);
    assert!(size_of::<EntryRecord>() == EntryState::SIZE as usize);
};

/// One wasm frame of a backtrace.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct WasmFrame {
    /// The faulting pc (frame 0) or the return address into this frame.
    pub pc: usize,
    /// The registered code the frame's function is in.
    pub code: CodeId,
    /// The function's index in that code.
    pub function: usize,
    /// `pc`'s offset in the function.
    pub offset: u32,
    /// The wasm bytecode offset (source location) of the faulting
    /// instruction, or of the call a return address follows, when the
    /// compiler recorded one.
    pub wasm_offset: Option<u32>,
}

impl fmt::Display for WasmFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "code {} function {} offset {:#x}",
            self.code.as_u64(),
            self.function,
            self.offset
        )?;
        if let Some(wasm_offset) = self.wasm_offset {
            write!(f, " (wasm {wasm_offset:#x})")?;
        }
        Ok(())
    }
}

/// The wasm frames on the stack when a trap happened, innermost first.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Backtrace {
    frames: Vec<WasmFrame>,
    truncated: bool,
}

impl Backtrace {
    /// The frames, innermost (the trapping one) first.
    pub fn frames(&self) -> &[WasmFrame] {
        &self.frames
    }

    /// Whether outer frames were left out (more than
    /// [`MAX_BACKTRACE_FRAMES`]).
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }
}

/// A trap of wasm code, as the host receives it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TrapInfo {
    /// Why it trapped.
    pub trap: Trap,
    /// The trapping instruction's address.
    pub pc: usize,
    /// The frame pointer (`rbp`) at the trap.
    pub fp: usize,
    /// The wasm frames at the trap.
    pub backtrace: Backtrace,
}

impl fmt::Display for TrapInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "wasm trap: {}", self.trap)?;
        for (index, frame) in self.backtrace.frames.iter().enumerate() {
            write!(f, "\n  {index}: {frame}")?;
        }
        if self.backtrace.truncated {
            write!(f, "\n  ...")?;
        }
        Ok(())
    }
}

impl std::error::Error for TrapInfo {}

/// Where the handler leaves a trap for `call_wasm`.
struct TrapSlot {
    trap: Option<Trap>,
    pc: usize,
    fp: usize,
    frames: [MaybeUninit<WasmFrame>; MAX_BACKTRACE_FRAMES],
    /// `frames[..frame_count]` are initialised.
    frame_count: usize,
    truncated: bool,
}

impl TrapSlot {
    fn new() -> TrapSlot {
        TrapSlot {
            trap: None,
            pc: 0,
            fp: 0,
            frames: [const { MaybeUninit::uninit() }; MAX_BACKTRACE_FRAMES],
            frame_count: 0,
            truncated: false,
        }
    }

    /// Appends a frame; the caller checks there is room.
    fn push(&mut self, frame: WasmFrame) {
        self.frames[self.frame_count] = MaybeUninit::new(frame);
        self.frame_count += 1;
    }

    fn backtrace(&self) -> Backtrace {
        let frames = self.frames[..self.frame_count]
            .iter()
            // SAFETY: the first `frame_count` frames were written by `push`.
            .map(|frame| unsafe { frame.assume_init() })
            .collect();
        Backtrace {
            frames,
            truncated: self.truncated,
        }
    }
}

/// One `call_wasm` in progress on this thread. It lives in `call_wasm`'s
/// frame; the signal handler reaches it through [`CURRENT_ACTIVATION`].
struct Activation {
    /// Filled in by the trampoline, read by the handler.
    entry: UnsafeCell<EntryRecord>,
    /// Filled in by the handler, read by `call_wasm` after the trampoline
    /// returned.
    trap: UnsafeCell<TrapSlot>,
    /// The activation this one is nested in (a host function called from
    /// wasm called `call_wasm` again), or null.
    previous: *const Activation,
}

thread_local! {
    /// The innermost activation of this thread, or null outside wasm.
    static CURRENT_ACTIVATION: Cell<*const Activation> = const { Cell::new(ptr::null()) };
}

/// Calls the wasm function `callee` through the entry `trampoline`, with
/// the arguments and results in `values` (see `duet_environ::entry`), and
/// turns a trap into `Err`.
///
/// Installs the trap handler if needed ([`init_traps`]) and gives the
/// thread an alternate signal stack. Calls may nest: a host function that
/// wasm calls may call `call_wasm` again, and a trap returns to the
/// innermost one.
///
/// # Safety
///
/// * `trampoline` is an entry trampoline following `duet_environ::entry`
///   exactly (its landing is its return path), for `callee`'s type;
/// * `callee` is wasm code that may run with `vmctx`, and `values` holds
///   its arguments and room for its results;
/// * every function the call can reach traps only at instructions of
///   [`RegisteredCode`] that stays registered until the call returns, keeps
///   frame pointers as `docs/abi.md` says, and enters wasm again only
///   through `call_wasm`.
pub unsafe fn call_wasm(
    trampoline: *const u8,
    vmctx: *mut u8,
    callee: *const u8,
    values: *mut [u8; 16],
) -> Result<(), TrapInfo> {
    init_traps();
    handler::ensure_alternate_stack();

    let activation = Activation {
        entry: UnsafeCell::new(EntryRecord {
            resume_sp: 0,
            resume_pc: 0,
        }),
        trap: UnsafeCell::new(TrapSlot::new()),
        previous: CURRENT_ACTIVATION.get(),
    };
    // SAFETY: the caller promises a trampoline with this signature.
    let trampoline: unsafe extern "sysv64" fn(
        *mut u8,
        *const u8,
        *mut [u8; 16],
        *mut EntryRecord,
    ) -> u32 = unsafe { core::mem::transmute(trampoline) };

    // The trampoline is opaque to the compiler and `activation`'s address
    // is published in a thread-local before it is called, so the handler's
    // writes to the slot are seen when it returns.
    CURRENT_ACTIVATION.set(&activation);
    // SAFETY: the caller promises a trampoline, callee, vmctx and values
    // that belong together. A trap returns here through the trampoline's
    // own return path with every callee-saved register restored.
    let status = unsafe { trampoline(vmctx, callee, values, activation.entry.get()) };
    CURRENT_ACTIVATION.set(activation.previous);

    if status == 0 {
        return Ok(());
    }
    // SAFETY: the activation is popped, so the handler no longer writes the
    // slot.
    let slot = unsafe { &*activation.trap.get() };
    let trap = slot
        .trap
        .expect("a trampoline returns non-zero only after the handler recorded a trap");
    Err(TrapInfo {
        trap,
        pc: slot.pc,
        fp: slot.fp,
        backtrace: slot.backtrace(),
    })
}
