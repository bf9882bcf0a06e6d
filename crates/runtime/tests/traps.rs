//! Traps as values, end to end: hand-assembled entry trampolines and "wasm"
//! functions (with trap records, frames and source locations) are loaded
//! with `CodeMemory`, registered, and called through `call_wasm`.
//!
//! The trampoline follows `duet_environ::entry` exactly and lives in the
//! same registered code as the wasm functions, as a compiler's trampolines
//! would; backtraces must still stop at it. Faults that are not wasm traps
//! must kill the process with their signal: those tests re-run this binary
//! for one test in a child process and check how it died.
//!
//! The last tests go through the embedding API under each compiler: a trap
//! in wasm that a host function called keeps its code and both
//! activations' frames when the host function passes it on, and recursion
//! through the host reports each level once, as an error chain.

#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::Command;
use std::sync::Mutex;

use cranelift_asm::x64::{Amode, Assembler, CC, CpuFeatures, Gpr, GprMem, OperandSize::*};
use cranelift_asm::{ExternalName, FinishedCode, SourceLoc};
use duet::code::{CodeMemory, UnlinkedCode};
use duet::mmap::Mmap;
use duet::traps::{MAX_BACKTRACE_FRAMES, RegisteredCode, TrapInfo, call_wasm, init_traps};
use duet_environ::entry::EntryState;
use duet_environ::trap::Trap;

/// The test's functions, by index in the code.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
enum F {
    /// The entry trampoline: loads values[0] and values[1] into rsi and rdx,
    /// stores rax into values[0].
    Trampoline,
    /// `a + b`.
    Add,
    /// `ud2` (unreachable), in a frame.
    Unreachable,
    /// `*(a as *const u64)`, the load tagged out-of-bounds.
    Load,
    /// `a / b` (unsigned), the division tagged divide-by-zero.
    Divide,
    /// Sets rbx, rbp and r12-r15 to garbage, then `ud2`.
    ClobberAndTrap,
    /// Calls `Inner` (source location 0x10).
    Outer,
    /// `ud2` at source location 0x20.
    Inner,
    /// Recurses `a` times, then `ud2`.
    Recurse,
    /// Calls the host function `a` with the vmctx; returns its result + 1.
    CallHost,
    /// Calls the host function `a` with the vmctx, then `ud2`.
    CallHostThenTrap,
    /// `*(a as *const u64)`, the load *not* in the trap table.
    LoadUntagged,
    /// Sets rsp to `a` (unusable memory) and stores below it, the store
    /// tagged stack-overflow.
    StoreBelowStackPointer,
    /// Not wasm: a host-side harness `(f, arg)` that sets rbx and r12-r15,
    /// calls `f(arg)`, and returns the OR of each register XOR its expected
    /// value (0 when all survived).
    CheckCalleeSaved,
}

impl F {
    const ALL: [F; 14] = [
        F::Trampoline,
        F::Add,
        F::Unreachable,
        F::Load,
        F::Divide,
        F::ClobberAndTrap,
        F::Outer,
        F::Inner,
        F::Recurse,
        F::CallHost,
        F::CallHostThenTrap,
        F::LoadUntagged,
        F::StoreBelowStackPointer,
        F::CheckCalleeSaved,
    ];

    fn name(self) -> ExternalName {
        ExternalName::new(0, self as u32)
    }
}

use Gpr as R;

const CALLEE_SAVED: [Gpr; 5] = duet_environ::abi::CALLEE_SAVED_GPRS;

fn assemble(body: impl FnOnce(&mut Assembler)) -> FinishedCode {
    let mut asm = Assembler::new(CpuFeatures::baseline());
    body(&mut asm);
    asm.finish().expect("the test's code assembles")
}

/// `push rbp; mov rbp, rsp`.
fn enter_frame(a: &mut Assembler) {
    a.push_r(R::RBP);
    a.mov_rr(S64, R::RBP, R::RSP);
}

/// `pop rbp; ret`.
fn leave_frame(a: &mut Assembler) {
    a.pop_r(R::RBP);
    a.ret();
}

/// The entry trampoline, as `duet_environ::entry` describes it:
/// `(vmctx: rdi, callee: rsi, values: rdx, state: rcx) -> eax`.
fn trampoline() -> FinishedCode {
    assemble(|a| {
        let landing = a.new_label();
        enter_frame(a);
        for reg in CALLEE_SAVED {
            a.push_r(reg);
        }
        a.sub_ri(S64, R::RSP, 8); // 16-byte alignment at the call
        a.mov_mr(
            S64,
            &Amode::base(R::RCX, EntryState::RESUME_SP as i32),
            R::RSP,
        );
        a.lea(S64, R::R11, &Amode::label(landing));
        a.mov_mr(
            S64,
            &Amode::base(R::RCX, EntryState::RESUME_PC as i32),
            R::R11,
        );
        a.mov_rr(S64, R::RBX, R::RDX); // values, kept across the call
        a.mov_rr(S64, R::R10, R::RSI); // callee
        a.mov_rm(S64, R::RSI, &Amode::base(R::RBX, 0));
        a.mov_rm(S64, R::RDX, &Amode::base(R::RBX, 16));
        // rdi, the vmctx, stays where it is.
        a.call_indirect(&GprMem::Gpr(R::R10));
        a.mov_mr(S64, &Amode::base(R::RBX, 0), R::RAX);
        a.xor_rr(S32, R::RAX, R::RAX);
        // The landing: the normal path and a trap (rsp = resume_sp,
        // eax = 1) both return from here.
        a.bind_label(landing).unwrap();
        a.add_ri(S64, R::RSP, 8);
        for reg in CALLEE_SAVED.into_iter().rev() {
            a.pop_r(reg);
        }
        leave_frame(a);
    })
}

fn function(f: F) -> FinishedCode {
    match f {
        F::Trampoline => trampoline(),
        F::Add => assemble(|a| {
            a.mov_rr(S64, R::RAX, R::RSI);
            a.add_rr(S64, R::RAX, R::RDX);
            a.ret();
        }),
        F::Unreachable => assemble(|a| {
            enter_frame(a);
            a.ud2(Trap::UnreachableCodeReached.code());
            leave_frame(a);
        }),
        F::Load => assemble(|a| {
            enter_frame(a);
            let address = Amode::base(R::RSI, 0).with_trap(Trap::MemoryOutOfBounds.code());
            a.mov_rm(S64, R::RAX, &address);
            leave_frame(a);
        }),
        F::Divide => assemble(|a| {
            enter_frame(a);
            a.mov_rr(S64, R::RCX, R::RDX);
            a.mov_rr(S64, R::RAX, R::RSI);
            a.xor_rr(S32, R::RDX, R::RDX);
            a.div(
                false,
                S64,
                &GprMem::Gpr(R::RCX),
                Some(Trap::IntegerDivisionByZero.code()),
            );
            leave_frame(a);
        }),
        F::ClobberAndTrap => assemble(|a| {
            for (i, reg) in CALLEE_SAVED.into_iter().chain([R::RBP]).enumerate() {
                a.mov_ri(S64, reg, 0xDEAD_0000_0000 + i as u64);
            }
            a.ud2(Trap::UnreachableCodeReached.code());
        }),
        F::Outer => assemble(|a| {
            enter_frame(a);
            a.start_srcloc(SourceLoc(0x10));
            a.call_external(F::Inner.name());
            a.end_srcloc();
            leave_frame(a);
        }),
        F::Inner => assemble(|a| {
            enter_frame(a);
            a.start_srcloc(SourceLoc(0x20));
            a.ud2(Trap::UnreachableCodeReached.code());
            a.end_srcloc();
            leave_frame(a);
        }),
        F::Recurse => assemble(|a| {
            let start = a.new_label();
            a.bind_label(start).unwrap();
            enter_frame(a);
            a.test_rr(S64, R::RSI, R::RSI);
            a.trap_if(CC::Z, Trap::UnreachableCodeReached.code());
            a.sub_ri(S64, R::RSI, 1);
            a.call(start);
            leave_frame(a);
        }),
        F::CallHost => assemble(|a| {
            enter_frame(a);
            a.call_indirect(&GprMem::Gpr(R::RSI));
            a.add_ri(S64, R::RAX, 1);
            leave_frame(a);
        }),
        F::CallHostThenTrap => assemble(|a| {
            enter_frame(a);
            a.call_indirect(&GprMem::Gpr(R::RSI));
            a.ud2(Trap::UnreachableCodeReached.code());
            leave_frame(a);
        }),
        F::LoadUntagged => assemble(|a| {
            enter_frame(a);
            a.mov_rm(S64, R::RAX, &Amode::base(R::RSI, 0));
            leave_frame(a);
        }),
        F::StoreBelowStackPointer => assemble(|a| {
            enter_frame(a);
            a.mov_rr(S64, R::RSP, R::RSI);
            let slot = Amode::base(R::RSP, -8).with_trap(Trap::StackOverflow.code());
            a.mov_mr(S64, &slot, R::RAX);
            a.mov_rr(S64, R::RSP, R::RBP);
            leave_frame(a);
        }),
        F::CheckCalleeSaved => assemble(|a| {
            enter_frame(a);
            for reg in CALLEE_SAVED {
                a.push_r(reg);
            }
            a.sub_ri(S64, R::RSP, 8);
            for (i, reg) in CALLEE_SAVED.into_iter().enumerate() {
                a.mov_ri(S64, reg, callee_saved_marker(i));
            }
            a.mov_rr(S64, R::RAX, R::RDI);
            a.mov_rr(S64, R::RDI, R::RSI);
            a.call_indirect(&GprMem::Gpr(R::RAX));
            a.xor_rr(S32, R::RAX, R::RAX);
            for (i, reg) in CALLEE_SAVED.into_iter().enumerate() {
                a.mov_ri(S64, R::R11, callee_saved_marker(i));
                a.xor_rr(S64, R::R11, reg);
                a.or_rr(S64, R::RAX, R::R11);
            }
            a.add_ri(S64, R::RSP, 8);
            for reg in CALLEE_SAVED.into_iter().rev() {
                a.pop_r(reg);
            }
            leave_frame(a);
        }),
    }
}

fn callee_saved_marker(i: usize) -> u64 {
    0x5A5A_0000_0000_0000 + 0x1111 * (i as u64 + 1)
}

/// The test's code, registered, and what a host function called from wasm
/// leaves behind.
struct Fixture {
    code: RegisteredCode,
    functions: Vec<FinishedCode>,
    /// The result of the call a host function made from inside wasm.
    nested: Mutex<Option<Result<u64, TrapInfo>>>,
}

impl Fixture {
    fn new() -> Fixture {
        let functions: Vec<FinishedCode> = F::ALL.into_iter().map(function).collect();
        let unlinked = UnlinkedCode::new(&functions).unwrap();
        let addresses: Vec<usize> = unlinked.function_addresses().collect();
        let code = unlinked
            .link(|name| addresses.get(name.index as usize).copied())
            .unwrap();
        Fixture {
            code: RegisteredCode::new(code, &functions),
            functions,
            nested: Mutex::new(None),
        }
    }

    fn address(&self, f: F) -> *const u8 {
        self.code.code().function(f as usize).unwrap()
    }

    /// The address of `f`'s only trap-table entry.
    fn trap_pc(&self, f: F) -> usize {
        let traps = self.functions[f as usize].traps();
        assert_eq!(traps.len(), 1, "{f:?} has one trapping instruction");
        self.address(f) as usize + traps[0].offset as usize
    }

    /// Calls `callee(a, b)` through the trampoline, with this fixture as
    /// the vmctx.
    fn call_code(&self, callee: *const u8, a: u64, b: u64) -> Result<u64, TrapInfo> {
        let mut values = [[0u8; 16]; 2];
        values[0][..8].copy_from_slice(&a.to_le_bytes());
        values[1][..8].copy_from_slice(&b.to_le_bytes());
        // SAFETY: the trampoline follows the entry contract; every callee
        // of the test takes (vmctx, a, b) and returns rax, keeps frame
        // pointers, and calls host functions (which take this fixture as
        // their vmctx) only when passed them.
        unsafe {
            call_wasm(
                self.address(F::Trampoline),
                (self as *const Fixture).cast_mut().cast(),
                callee,
                values.as_mut_ptr(),
            )
        }?;
        Ok(u64::from_le_bytes(values[0][..8].try_into().unwrap()))
    }

    fn call(&self, f: F, a: u64, b: u64) -> Result<u64, TrapInfo> {
        self.call_code(self.address(f), a, b)
    }
}

fn expect_trap(result: Result<u64, TrapInfo>) -> TrapInfo {
    match result {
        Ok(value) => panic!("expected a trap, got Ok({value})"),
        Err(info) => info,
    }
}

#[test]
fn a_normal_return_gives_ok_and_the_result() {
    let fixture = Fixture::new();
    assert_eq!(fixture.call(F::Add, 2, 40).unwrap(), 42);
    let value = 0x0123_4567_89AB_CDEFu64;
    assert_eq!(
        fixture
            .call(F::Load, &value as *const u64 as u64, 0)
            .unwrap(),
        value
    );
    assert_eq!(fixture.call(F::Divide, 100, 7).unwrap(), 14);
}

#[test]
fn unreachable_traps_with_its_code_pc_and_one_frame() {
    let fixture = Fixture::new();
    let info = expect_trap(fixture.call(F::Unreachable, 0, 0));
    assert_eq!(info.trap, Trap::UnreachableCodeReached);
    assert_eq!(info.pc, fixture.trap_pc(F::Unreachable));
    assert_ne!(info.fp, 0);
    // The trampoline is registered code too, but not a wasm frame.
    let frames = info.backtrace.frames();
    assert_eq!(frames.len(), 1, "{info}");
    assert_eq!(frames[0].pc, info.pc);
    assert_eq!(frames[0].code, fixture.code.id());
    assert_eq!(frames[0].function, F::Unreachable as usize);
    assert_eq!(
        frames[0].offset, 4,
        "after push rbp (1) and mov rbp, rsp (3)"
    );
    assert_eq!(frames[0].wasm_offset, None);
    assert!(!info.backtrace.is_truncated());
    assert!(
        info.to_string().starts_with("wasm trap: unreachable"),
        "{info}"
    );
}

#[test]
fn a_load_through_a_null_pointer_traps_out_of_bounds() {
    let fixture = Fixture::new();
    let info = expect_trap(fixture.call(F::Load, 0, 0));
    assert_eq!(info.trap, Trap::MemoryOutOfBounds);
    assert_eq!(info.pc, fixture.trap_pc(F::Load));
    assert_eq!(info.backtrace.frames().len(), 1);
}

#[test]
fn division_by_zero_traps() {
    let fixture = Fixture::new();
    let info = expect_trap(fixture.call(F::Divide, 10, 0));
    assert_eq!(info.trap, Trap::IntegerDivisionByZero);
    assert_eq!(info.pc, fixture.trap_pc(F::Divide));
    assert_eq!(info.trap.to_string(), "integer divide by zero");
}

#[test]
fn the_host_goes_on_after_many_traps() {
    let fixture = Fixture::new();
    let mut sum = 0u64;
    for i in 0..2000u64 {
        match i % 4 {
            0 => assert_eq!(
                expect_trap(fixture.call(F::Load, 0, 0)).trap,
                Trap::MemoryOutOfBounds
            ),
            1 => sum += fixture.call(F::Add, i, 1).unwrap(),
            2 => assert_eq!(
                expect_trap(fixture.call(F::Divide, i, 0)).trap,
                Trap::IntegerDivisionByZero
            ),
            _ => assert_eq!(
                expect_trap(fixture.call(F::ClobberAndTrap, 0, 0)).trap,
                Trap::UnreachableCodeReached
            ),
        }
    }
    // i = 1, 5, 9, ... 1997: 500 terms of (i + 1).
    assert_eq!(sum, (0..500).map(|k| 4 * k + 2).sum::<u64>());
}

/// Called by the `CheckCalleeSaved` harness with callee-saved registers
/// set: traps in wasm that clobbers them.
extern "sysv64" fn trap_with_clobbered_registers(fixture: *const Fixture) {
    // SAFETY: the test passes its live fixture.
    let fixture = unsafe { &*fixture };
    for _ in 0..3 {
        let info = expect_trap(fixture.call(F::ClobberAndTrap, 0, 0));
        assert_eq!(info.trap, Trap::UnreachableCodeReached);
        // rbp was garbage at the trap: the walk stops at frame 0.
        assert_eq!(info.backtrace.frames().len(), 1);
    }
}

#[test]
fn callee_saved_registers_survive_a_trap() {
    let fixture = Fixture::new();
    // SAFETY: the harness has this signature, and calls `f(arg)` as
    // `extern "sysv64" fn(*const Fixture)`.
    let check: extern "sysv64" fn(extern "sysv64" fn(*const Fixture), *const Fixture) -> u64 =
        unsafe { core::mem::transmute(fixture.address(F::CheckCalleeSaved)) };
    assert_eq!(check(trap_with_clobbered_registers, &fixture), 0);
}

#[test]
fn a_backtrace_names_both_frames_with_their_wasm_offsets() {
    let fixture = Fixture::new();
    let info = expect_trap(fixture.call(F::Outer, 0, 0));
    assert_eq!(info.trap, Trap::UnreachableCodeReached);
    assert_eq!(info.pc, fixture.trap_pc(F::Inner));
    let frames = info.backtrace.frames();
    assert_eq!(frames.len(), 2, "{info}");
    assert_eq!(frames[0].function, F::Inner as usize);
    assert_eq!(frames[0].offset, 4);
    assert_eq!(frames[0].wasm_offset, Some(0x20));
    let return_offset = fixture.functions[F::Outer as usize].call_sites()[0].return_offset;
    assert_eq!(frames[1].function, F::Outer as usize);
    assert_eq!(frames[1].offset, return_offset);
    assert_eq!(
        frames[1].pc,
        fixture.address(F::Outer) as usize + return_offset as usize
    );
    assert_eq!(frames[1].wasm_offset, Some(0x10));
    let text = info.to_string();
    assert!(text.contains("0: code"), "{text}");
    assert!(text.contains("(wasm 0x10)"), "{text}");
}

#[test]
fn a_deep_backtrace_is_cut_off() {
    let fixture = Fixture::new();
    let info = expect_trap(fixture.call(F::Recurse, 10, 0));
    assert_eq!(info.trap, Trap::UnreachableCodeReached);
    let frames = info.backtrace.frames();
    assert_eq!(frames.len(), 11, "{info}");
    assert!(frames.iter().all(|f| f.function == F::Recurse as usize));
    assert!(!info.backtrace.is_truncated());

    let info = expect_trap(fixture.call(F::Recurse, 1000, 0));
    assert_eq!(info.backtrace.frames().len(), MAX_BACKTRACE_FRAMES);
    assert!(info.backtrace.is_truncated());
    assert!(info.to_string().ends_with("..."));
}

/// A host function wasm calls: makes a trapping wasm call of its own,
/// keeps the result in the fixture, and returns 41.
extern "sysv64" fn host_with_a_trapping_call(vmctx: *mut u8) -> u64 {
    // SAFETY: the fixture's calls pass the fixture as the vmctx.
    let fixture = unsafe { &*vmctx.cast::<Fixture>() };
    let inner = fixture.call(F::Divide, 1, 0);
    *fixture.nested.lock().unwrap() = Some(inner);
    41
}

#[test]
fn a_trap_in_a_nested_activation_returns_to_the_inner_call() {
    let fixture = Fixture::new();
    let host = host_with_a_trapping_call as *const () as u64;
    assert_eq!(fixture.call(F::CallHost, host, 0).unwrap(), 42);
    let inner = expect_trap(fixture.nested.lock().unwrap().take().unwrap());
    assert_eq!(inner.trap, Trap::IntegerDivisionByZero);
    assert_eq!(inner.backtrace.frames().len(), 1, "{inner}");

    // The outer activation is intact: a trap after the host call returns
    // to the outer call.
    let outer = expect_trap(fixture.call(F::CallHostThenTrap, host, 0));
    assert_eq!(outer.trap, Trap::UnreachableCodeReached);
    assert_eq!(outer.pc, fixture.trap_pc(F::CallHostThenTrap));
    assert_eq!(outer.backtrace.frames().len(), 1, "{outer}");
    assert!(fixture.nested.lock().unwrap().take().unwrap().is_err());

    // And the thread has no activation left.
    assert_eq!(fixture.call(F::Add, 1, 2).unwrap(), 3);
}

#[test]
fn a_trap_with_an_unusable_stack_pointer_is_handled_on_the_alternate_stack() {
    let fixture = Fixture::new();
    // Inaccessible memory: the kernel cannot push a signal frame there.
    let unusable = Mmap::reserve(1 << 20).unwrap();
    let stack_pointer = unusable.as_ptr() as u64 + (1 << 19);
    let on_this_thread = expect_trap(fixture.call(F::StoreBelowStackPointer, stack_pointer, 0));
    assert_eq!(on_this_thread.trap, Trap::StackOverflow);
    assert_eq!(
        on_this_thread.pc,
        fixture.trap_pc(F::StoreBelowStackPointer)
    );
    // A thread without an alternate stack (Rust gives its threads a small
    // one; take it away) gets one from its first call.
    std::thread::scope(|scope| {
        let info = scope
            .spawn(|| {
                let disable = libc::stack_t {
                    ss_sp: core::ptr::null_mut(),
                    ss_flags: libc::SS_DISABLE,
                    ss_size: 0,
                };
                // SAFETY: disabling the alternate stack touches no memory.
                assert_eq!(
                    unsafe { libc::sigaltstack(&disable, core::ptr::null_mut()) },
                    0
                );
                expect_trap(fixture.call(F::StoreBelowStackPointer, stack_pointer, 0))
            })
            .join()
            .unwrap();
        assert_eq!(info.trap, Trap::StackOverflow);
    });
    assert_eq!(fixture.call(F::Add, 5, 6).unwrap(), 11);
}

#[test]
fn threads_trap_while_other_code_is_registered_and_dropped() {
    let fixture = Fixture::new();
    std::thread::scope(|scope| {
        for thread in 0..3u64 {
            let fixture = &fixture;
            scope.spawn(move || {
                for i in 0..500 {
                    let info = expect_trap(fixture.call(F::Outer, 0, 0));
                    assert_eq!(info.backtrace.frames().len(), 2);
                    assert_eq!(expect_trap(fixture.call(F::Load, 0, 0)).trap, {
                        Trap::MemoryOutOfBounds
                    });
                    assert_eq!(fixture.call(F::Add, thread, i).unwrap(), thread + i);
                }
            });
        }
        for _ in 0..100 {
            let other = Fixture::new();
            assert!(other.call(F::Unreachable, 0, 0).is_err());
        }
    });
}

const CHILD_ENV: &str = "DUET_TRAPS_TEST_CHILD";

/// Runs `child` in a child process (this test binary, running only the test
/// `name`) and checks that the signal `signal` killed it.
fn expect_child_killed_by(name: &str, signal: i32, child: impl FnOnce()) {
    if std::env::var_os(CHILD_ENV).is_some_and(|value| value == name) {
        child();
        eprintln!("the fault was swallowed");
        std::process::exit(0);
    }
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, name);
    // SAFETY: the closure only calls `setrlimit`, which is
    // async-signal-safe, as required between fork and exec.
    unsafe {
        command.pre_exec(|| {
            // No core dumps from the expected crashes.
            let limit = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &limit);
            Ok(())
        })
    };
    let output = command.output().unwrap();
    assert_eq!(
        output.status.signal(),
        Some(signal),
        "the child ({name}) should have died of signal {signal}: {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
}

#[test]
fn a_fault_in_unregistered_code_kills_the_process() {
    expect_child_killed_by(
        "a_fault_in_unregistered_code_kills_the_process",
        libc::SIGSEGV,
        || {
            let fixture = Fixture::new();
            // The same tagged load, in code nobody registered.
            let load = function(F::Load);
            let unregistered = CodeMemory::new([&load], |_| None).unwrap();
            let _ = fixture.call_code(unregistered.function(0).unwrap(), 0, 0);
        },
    );
}

#[test]
fn a_fault_at_an_instruction_without_a_trap_code_kills_the_process() {
    expect_child_killed_by(
        "a_fault_at_an_instruction_without_a_trap_code_kills_the_process",
        libc::SIGSEGV,
        || {
            let _ = Fixture::new().call(F::LoadUntagged, 0, 0);
        },
    );
}

/// Calls `f(vmctx, a, b)` directly, without `call_wasm`.
fn call_outside_wasm(fixture: &Fixture, f: F, a: u64, b: u64) -> u64 {
    init_traps();
    // SAFETY: the test's functions have this signature.
    let f: extern "sysv64" fn(*const Fixture, u64, u64) -> u64 =
        unsafe { core::mem::transmute(fixture.address(f)) };
    f(fixture, a, b)
}

#[test]
fn a_fault_in_registered_code_outside_call_wasm_kills_the_process() {
    expect_child_killed_by(
        "a_fault_in_registered_code_outside_call_wasm_kills_the_process",
        libc::SIGSEGV,
        || {
            call_outside_wasm(&Fixture::new(), F::Load, 0, 0);
        },
    );
}

#[test]
fn ud2_outside_call_wasm_kills_the_process_with_sigill() {
    expect_child_killed_by(
        "ud2_outside_call_wasm_kills_the_process_with_sigill",
        libc::SIGILL,
        || {
            call_outside_wasm(&Fixture::new(), F::Unreachable, 0, 0);
        },
    );
}

#[test]
fn division_by_zero_outside_call_wasm_kills_the_process_with_sigfpe() {
    expect_child_killed_by(
        "division_by_zero_outside_call_wasm_kills_the_process_with_sigfpe",
        libc::SIGFPE,
        || {
            call_outside_wasm(&Fixture::new(), F::Divide, 1, 0);
        },
    );
}

// ---- Traps through host functions, through the embedding API ----

/// `f` under each compiler.
fn for_each_compiler(f: impl Fn(duet::Compiler, &duet::Engine)) {
    for compiler in [duet::Compiler::Winch, duet::Compiler::Cranelift] {
        let mut config = duet::Config::new();
        config.compiler(compiler);
        f(compiler, &duet::Engine::new(&config).unwrap());
    }
}

/// The function names of `trap`'s frames, innermost first.
fn frame_names(trap: &duet::Trap) -> Vec<&str> {
    trap.frames()
        .iter()
        .map(|frame| frame.func_name.as_deref().unwrap_or("?"))
        .collect()
}

#[test]
fn a_trap_in_wasm_that_a_host_function_called_keeps_its_code_and_frames() {
    use duet::{FuncType, Linker, Module, Store, TrapCode, Val, ValType};
    // `outer` calls the host, which calls back into `unreachable` or `div`
    // and fails with what that call returned.
    let wat = r#"(module
        (import "host" "call_back" (func $call_back (param i32)))
        (func $outer (export "outer") (param i32) (call $call_back (local.get 0)))
        (func $unreachable (export "unreachable") unreachable)
        (func $div (export "div") (param i32) (result i32)
          (i32.div_s (i32.const 1) (local.get 0))))"#;
    for_each_compiler(|compiler, engine| {
        let mut linker: Linker<()> = Linker::new(engine);
        let ty = FuncType {
            params: [ValType::I32].into(),
            results: [].into(),
        };
        linker
            .func_new("host", "call_back", ty, |mut caller, params, _| {
                if params[0].i32() == Some(0) {
                    let f = caller
                        .get_export("unreachable")
                        .unwrap()
                        .into_func()
                        .unwrap();
                    f.call(&mut caller, &[], &mut [])?;
                } else {
                    let f = caller.get_export("div").unwrap().into_func().unwrap();
                    f.call(&mut caller, &[Val::I32(0)], &mut [Val::I32(0)])?;
                }
                Ok(())
            })
            .unwrap();
        let module = Module::new(engine, wat).unwrap();
        let mut store = Store::new(engine, ());
        let instance = linker.instantiate(&mut store, &module).unwrap();
        let outer = instance.get_func(&store, "outer").unwrap().unwrap();
        for (which, code, inner) in [
            (0, TrapCode::UnreachableCodeReached, "unreachable"),
            (1, TrapCode::IntegerDivisionByZero, "div"),
        ] {
            let error = outer
                .call(&mut store, &[Val::I32(which)], &mut [])
                .unwrap_err();
            let Some(trap) = error.downcast_ref::<duet::Trap>() else {
                panic!("{compiler:?}: not a trap: {error}");
            };
            assert_eq!(trap.code(), code, "{compiler:?}: {trap}");
            assert!(trap.host_error().is_none(), "{compiler:?}: {trap}");
            // Both activations' frames, the inner one's first.
            assert_eq!(frame_names(trap), [inner, "outer"], "{compiler:?}: {trap}");
            assert!(!trap.is_truncated());
            assert!(
                trap.to_string()
                    .starts_with(&format!("{}\n  0: {inner} (func ", code.message())),
                "{compiler:?}: {trap}"
            );
        }
    });
}

/// A host function's error that wraps the error of its own call into
/// wasm: "level N" and the inner error as its source.
#[derive(Debug)]
struct Level {
    depth: i32,
    inner: duet::Error,
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "level {} could not call back into wasm", self.depth)
    }
}

impl std::error::Error for Level {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.inner.as_ref())
    }
}

/// Each error of the chain starting at `error`, as displayed.
fn chain(error: &(dyn std::error::Error + 'static)) -> Vec<String> {
    std::iter::successors(Some(error), |e| e.source())
        .map(|e| e.to_string())
        .collect()
}

#[test]
fn recursion_through_the_host_reports_each_level_once_as_a_chain() {
    use duet::{Error, FuncType, Linker, Module, Store, TrapCode, Val, ValType};
    // wasm `down(n)` calls the host, which calls `down(n - 1)` back, down
    // to 0, where the host fails with "boom". With `wrap`, each level wraps
    // the inner error in a `Level`; without, it passes it on unchanged.
    let wat = r#"(module
        (import "host" "recurse" (func $recurse (param i32)))
        (func $down (export "down") (param i32) (call $recurse (local.get 0))))"#;
    for_each_compiler(|compiler, engine| {
        let mut linker: Linker<bool> = Linker::new(engine);
        let ty = FuncType {
            params: [ValType::I32].into(),
            results: [].into(),
        };
        linker
            .func_new("host", "recurse", ty, |mut caller, params, _| {
                let depth = params[0].i32().unwrap();
                if depth == 0 {
                    return Err(Error::msg("boom"));
                }
                let down = caller.get_export("down").unwrap().into_func().unwrap();
                match down.call(&mut caller, &[Val::I32(depth - 1)], &mut []) {
                    Err(inner) if *caller.data() => Err(Error::new(Level { depth, inner })),
                    other => other,
                }
            })
            .unwrap();
        let module = Module::new(engine, wat).unwrap();
        for wrap in [false, true] {
            let mut store = Store::new(engine, wrap);
            let instance = linker.instantiate(&mut store, &module).unwrap();
            let down = instance.get_func(&store, "down").unwrap().unwrap();
            let error = down.call(&mut store, &[Val::I32(3)], &mut []).unwrap_err();
            let trap = error.downcast_ref::<duet::Trap>().expect("a trap");
            assert_eq!(trap.code(), TrapCode::HostError, "{compiler:?}");
            let chain = chain(error.as_ref());
            // Every error says its own part, once: a trap its code and
            // frames, a level its own sentence, the innermost "boom".
            for (i, text) in chain.iter().enumerate() {
                assert_eq!(
                    text.matches("host function error").count(),
                    usize::from(i % 2 == 0 && i + 1 < chain.len()),
                    "{compiler:?}, wrap {wrap}: {chain:#?}"
                );
                assert_eq!(text.contains("boom"), i + 1 == chain.len(), "{chain:#?}");
            }
            if wrap {
                // trap, level 3, trap, level 2, trap, level 1, trap, boom.
                assert_eq!(chain.len(), 8, "{compiler:?}: {chain:#?}");
                for (i, depth) in [(1, 3), (3, 2), (5, 1)] {
                    assert_eq!(
                        chain[i],
                        format!("level {depth} could not call back into wasm")
                    );
                }
                assert_eq!(frame_names(trap), ["down"], "{compiler:?}");
            } else {
                // Passed on unchanged: one trap, whose frames are every
                // activation's `down`, innermost first, and "boom".
                assert_eq!(chain.len(), 2, "{compiler:?}: {chain:#?}");
                assert_eq!(trap.host_error().unwrap().to_string(), "boom");
                assert_eq!(frame_names(trap), ["down"; 4], "{compiler:?}");
            }
            assert_eq!(chain.last().map(String::as_str), Some("boom"));
        }
    });
}
