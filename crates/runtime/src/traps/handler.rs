//! The signal handler, its installation, and the per-thread alternate
//! signal stacks it runs on. The [parent module's docs](super) say what the
//! handler does and why it is sound.

use core::ffi::{c_int, c_void};
use core::mem::MaybeUninit;
use core::ptr;
use std::cell::OnceCell;
use std::sync::{Once, OnceLock};

use duet_environ::trap::Trap;

use super::registry::Registry;
use super::{Activation, CURRENT_ACTIVATION, MAX_BACKTRACE_FRAMES, WasmFrame};
use crate::mmap::Mmap;

/// The signals a wasm trap raises: SIGSEGV and SIGBUS (an access to an
/// inaccessible page, e.g. a linear memory's guard region), SIGILL (`ud2`)
/// and SIGFPE (`div`/`idiv` by zero or overflowing).
const TRAP_SIGNALS: [c_int; 4] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE];

/// The actions installed before ours, by position in [`TRAP_SIGNALS`].
/// Written once, before our handler is installed; only read afterwards.
static PREVIOUS_ACTIONS: OnceLock<[libc::sigaction; 4]> = OnceLock::new();

static INSTALL_HANDLER: Once = Once::new();

/// Installs the trap handler for the whole process, once; later calls do
/// nothing. [`call_wasm`](super::call_wasm) calls it, so embedders need to
/// only when they want it installed earlier (e.g. before other libraries
/// install theirs, which then chain to ours).
pub fn init_traps() {
    INSTALL_HANDLER.call_once(|| {
        let mut previous = [empty_action(); 4];
        for (signal, previous) in TRAP_SIGNALS.iter().zip(&mut previous) {
            // SAFETY: a null new action only reads the current one into
            // `previous`, a valid `sigaction`.
            let status = unsafe { libc::sigaction(*signal, ptr::null(), previous) };
            assert_eq!(status, 0, "sigaction cannot fail for signal {signal}");
        }
        // Stored before our handler exists, so the handler always finds it.
        assert!(
            PREVIOUS_ACTIONS.set(previous).is_ok(),
            "PREVIOUS_ACTIONS is only set here, inside the Once"
        );

        let mut action = empty_action();
        action.sa_sigaction = handle_signal as *const () as usize;
        // SA_ONSTACK: run on the thread's alternate stack (the fault may be
        // a stack overflow). SA_NODEFER: the signal stays unblocked while
        // the handler runs, so a fault inside a handler we chain to comes
        // back here and is chained like any other, rather than the kernel
        // killing the process for a blocked synchronous signal.
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
        for signal in TRAP_SIGNALS {
            // SAFETY: `action` is a valid `sigaction` whose handler has the
            // SA_SIGINFO signature; the handler is sound for any signal
            // (see the module docs).
            let status = unsafe { libc::sigaction(signal, &action, ptr::null_mut()) };
            assert_eq!(status, 0, "sigaction cannot fail for signal {signal}");
        }
    });
}

/// A `sigaction` with no handler, no flags and an empty mask.
fn empty_action() -> libc::sigaction {
    // SAFETY: `sigaction` is plain data for which all-zero bytes are valid
    // (SIG_DFL, no flags, an empty mask, no restorer).
    unsafe { MaybeUninit::zeroed().assume_init() }
}

/// The handler: a wasm trap resumes at its trampoline's landing, anything
/// else goes to the previous handler.
extern "C" fn handle_signal(signal: c_int, info: *mut libc::siginfo_t, context: *mut c_void) {
    // Nothing below sets errno on success, but preserve it for the
    // interrupted code all the same, as a handler must.
    // SAFETY: `__errno_location` returns this thread's errno slot.
    let errno = unsafe { *libc::__errno_location() };
    // SAFETY: the kernel passes a valid `ucontext_t` to an SA_SIGINFO
    // handler, which nothing else accesses while the handler runs.
    let handled = unsafe { redirect_wasm_trap(&mut *context.cast::<libc::ucontext_t>()) };
    if !handled {
        // SAFETY: the arguments are the kernel's, passed on unchanged.
        unsafe { chain_to_previous_handler(signal, info, context) };
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

/// If the fault in `context` is a trap of the current thread's running
/// wasm code, records it in the activation, points `context` at the
/// trampoline's landing, and returns `true`.
///
/// # Safety
///
/// `context` is the interrupted thread's context, from the kernel.
unsafe fn redirect_wasm_trap(context: &mut libc::ucontext_t) -> bool {
    let activation = CURRENT_ACTIVATION.get();
    if activation.is_null() {
        return false;
    }
    // SAFETY: a non-null `CURRENT_ACTIVATION` points at the live
    // `Activation` of the innermost `call_wasm` on this thread (it is reset
    // before that frame returns).
    let activation: &Activation = unsafe { &*activation };
    // SAFETY: the trampoline wrote the record before calling wasm; if the
    // fault came earlier, it is still zero and we decline below.
    let entry = unsafe { *activation.entry.get() };
    if entry.resume_pc == 0 {
        return false;
    }

    let gregs = &mut context.uc_mcontext.gregs;
    let pc = gregs[libc::REG_RIP as usize] as usize;
    let fp = gregs[libc::REG_RBP as usize] as usize;
    let sp = gregs[libc::REG_RSP as usize] as usize;

    let Some(registry) = Registry::try_read() else {
        return false;
    };
    let Some(location) = registry.lookup(pc) else {
        return false;
    };
    let Some(trap) = location.trap_code().and_then(Trap::from_code) else {
        return false;
    };

    // SAFETY: only this handler writes the slot, and `call_wasm` reads it
    // only after the trampoline returned; the handler runs on the thread
    // that owns the activation, so nothing else accesses it now.
    let slot = unsafe { &mut *activation.trap.get() };
    slot.trap = Some(trap);
    slot.pc = pc;
    slot.fp = fp;
    slot.frame_count = 0;
    slot.truncated = false;
    slot.push(WasmFrame {
        pc,
        code: location.code_id(),
        function: location.function_index(),
        offset: location.offset,
        wasm_offset: location.srcloc_at(location.offset),
    });

    // Walk the frame-pointer chain. Every wasm frame of this activation
    // lies between the faulting `sp` and `resume_sp` (the trampoline's
    // frame); a frame whose saved rbp is at or above `resume_sp` was called
    // by the trampoline, which ends the walk. Frame pointers grow strictly,
    // so the walk ends.
    let mut frame = fp;
    while frame >= sp
        && frame.is_multiple_of(8)
        && frame
            .checked_add(16)
            .is_some_and(|end| end <= entry.resume_sp)
    {
        // SAFETY: `frame..frame + 16` lies in the stack between the
        // faulting `sp` and the trampoline's frame, which is mapped; wasm
        // frames keep `[rbp]` = caller's rbp and `[rbp + 8]` = return
        // address (docs/abi.md).
        let (caller_frame, return_address) =
            unsafe { (*(frame as *const usize), *((frame + 8) as *const usize)) };
        if caller_frame >= entry.resume_sp || caller_frame <= frame {
            break;
        }
        let Some(caller) = registry.lookup(return_address) else {
            break;
        };
        if slot.frame_count == MAX_BACKTRACE_FRAMES {
            slot.truncated = true;
            break;
        }
        slot.push(WasmFrame {
            pc: return_address,
            code: caller.code_id(),
            function: caller.function_index(),
            offset: caller.offset,
            // A return address follows its call: the call's location is
            // the byte before.
            wasm_offset: caller
                .offset
                .checked_sub(1)
                .and_then(|offset| caller.srcloc_at(offset)),
        });
        frame = caller_frame;
    }
    drop(registry);

    gregs[libc::REG_RSP as usize] = entry.resume_sp as i64;
    gregs[libc::REG_RIP as usize] = entry.resume_pc as i64;
    gregs[libc::REG_RAX as usize] = 1;
    true
}

/// Passes a signal that is not a wasm trap to the handler installed before
/// ours. If that was the default action (or "ignore", which the kernel does
/// not honour for a real fault either), the default is restored and the
/// handler returns: the faulting instruction runs again and the signal
/// takes its default action, killing the process.
///
/// # Safety
///
/// The arguments are the kernel's, as passed to [`handle_signal`].
unsafe fn chain_to_previous_handler(
    signal: c_int,
    info: *mut libc::siginfo_t,
    context: *mut c_void,
) {
    let previous = PREVIOUS_ACTIONS.get().and_then(|actions| {
        let index = TRAP_SIGNALS.iter().position(|&s| s == signal)?;
        Some(actions[index])
    });
    let Some(previous) = previous else {
        reset_to_default(signal);
        return;
    };
    match previous.sa_sigaction {
        libc::SIG_DFL | libc::SIG_IGN => reset_to_default(signal),
        handler if previous.sa_flags & libc::SA_SIGINFO != 0 => {
            // SAFETY: with SA_SIGINFO, the handler has this signature.
            let handler: extern "C" fn(c_int, *mut libc::siginfo_t, *mut c_void) =
                unsafe { core::mem::transmute(handler) };
            handler(signal, info, context);
        }
        handler => {
            // SAFETY: without SA_SIGINFO, the handler has this signature.
            let handler: extern "C" fn(c_int) = unsafe { core::mem::transmute(handler) };
            handler(signal);
        }
    }
}

/// Sets `signal`'s action back to the default.
fn reset_to_default(signal: c_int) {
    let action = empty_action();
    // SAFETY: `action` is SIG_DFL, valid for every signal we handle.
    unsafe { libc::sigaction(signal, &action, ptr::null_mut()) };
}

/// The size of the alternate signal stack given to a thread that enters
/// wasm without one at least this large: room for the kernel's signal frame
/// (a few KiB with AVX-512 state) and for a handler we chain to.
const ALTERNATE_STACK_SIZE: usize = 64 * 1024;

/// An alternate signal stack this module installed for its thread, with a
/// guard page below it.
struct AlternateStack {
    /// Guard page, then the stack.
    mapping: Mmap,
}

impl AlternateStack {
    /// Makes sure the current thread has an alternate signal stack of at
    /// least [`ALTERNATE_STACK_SIZE`] bytes. Returns the one it installed,
    /// or `None` when the thread already had one (Rust's threads get a
    /// small one for stack-overflow reports; it is replaced) or when mapping
    /// memory failed (then the handler runs on the thread's own stack and
    /// still handles every trap but one that exhausted that stack).
    fn install_if_needed() -> Option<AlternateStack> {
        let mut current = MaybeUninit::<libc::stack_t>::zeroed();
        // SAFETY: a null new stack only reads the current one.
        if unsafe { libc::sigaltstack(ptr::null(), current.as_mut_ptr()) } != 0 {
            return None;
        }
        // SAFETY: `sigaltstack` succeeded and filled `current`.
        let current = unsafe { current.assume_init() };
        if current.ss_flags & libc::SS_DISABLE == 0 && current.ss_size >= ALTERNATE_STACK_SIZE {
            return None;
        }
        let guard = Mmap::page_size();
        let mut mapping = Mmap::accessible(guard + ALTERNATE_STACK_SIZE).ok()?;
        mapping.make_inaccessible(0..guard).ok()?;
        let stack = libc::stack_t {
            ss_sp: mapping.as_mut_ptr().wrapping_add(guard).cast(),
            ss_flags: 0,
            ss_size: ALTERNATE_STACK_SIZE,
        };
        // SAFETY: `stack` is read-write memory owned by the returned value,
        // which lives in a thread-local and disables the stack before it is
        // unmapped.
        if unsafe { libc::sigaltstack(&stack, ptr::null_mut()) } != 0 {
            return None;
        }
        Some(AlternateStack { mapping })
    }

    fn stack_pointer(&self) -> *mut c_void {
        self.mapping
            .as_ptr()
            .wrapping_add(Mmap::page_size())
            .cast_mut()
            .cast()
    }
}

impl Drop for AlternateStack {
    fn drop(&mut self) {
        let mut current = MaybeUninit::<libc::stack_t>::zeroed();
        // SAFETY: a null new stack only reads the current one.
        if unsafe { libc::sigaltstack(ptr::null(), current.as_mut_ptr()) } != 0 {
            return;
        }
        // SAFETY: `sigaltstack` succeeded and filled `current`.
        let current = unsafe { current.assume_init() };
        if current.ss_flags & libc::SS_DISABLE == 0 && current.ss_sp == self.stack_pointer() {
            let disable = libc::stack_t {
                ss_sp: ptr::null_mut(),
                ss_flags: libc::SS_DISABLE,
                ss_size: 0,
            };
            // SAFETY: disabling the alternate stack touches no memory; the
            // thread is exiting, not running on that stack.
            unsafe { libc::sigaltstack(&disable, ptr::null_mut()) };
        }
        // The mapping is unmapped after this, when no signal can use it.
    }
}

thread_local! {
    /// This thread's alternate signal stack, if this module installed it.
    static ALTERNATE_STACK: OnceCell<Option<AlternateStack>> = const { OnceCell::new() };
}

/// Gives the current thread an alternate signal stack, once.
pub fn ensure_alternate_stack() {
    // During thread-local destruction there is nothing to install it in;
    // the handler then runs on the thread's stack.
    let _ = ALTERNATE_STACK.try_with(|stack| {
        stack.get_or_init(AlternateStack::install_if_needed);
    });
}
