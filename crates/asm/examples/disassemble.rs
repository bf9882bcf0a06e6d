//! Assemble a small real function with the direct API, print its bytes, its
//! disassembly, its trap table and relocations, and (on x86-64 Linux) run it.
//!
//! ```text
//! cargo run --release -p cranelift-asm --example disassemble
//! ```
//!
//! The function is `sum(ptr: *const i32, len: u64) -> i32` (System V: `ptr` in
//! rdi, `len` in rsi, the result in eax):
//!
//! ```text
//!       xor eax, eax            ; sum = 0
//!       xor ecx, ecx            ; i = 0
//!       cmp rsi, [max_len]      ; a constant-pool load
//!       ja  trap                ; bounds-style check: len > MAX_LEN traps
//!       test rsi, rsi
//!       jz  done
//!   top:
//!       add eax, [rdi + rcx*4]
//!       inc rcx
//!       cmp rcx, rsi
//!       jb  top                 ; backward, in reach: a 2-byte rel8 branch
//!   done:
//!       ret
//!   trap: ud2                   ; deferred trap stub, emitted by finish()
//!   max_len: .quad MAX_LEN      ; the constant pool, emitted by finish()
//! ```

use cranelift_asm::TrapCode;
use cranelift_asm::x64::{Amode, Assembler, CC, CpuFeatures, Gpr, OperandSize::*, Scale};
use iced_x86::{Decoder, DecoderOptions, Formatter, Instruction, IntelFormatter};

/// The longest array `sum` accepts.
const MAX_LEN: u64 = 1 << 20;
/// The trap code of the length check (trap codes are the embedder's to assign).
const LENGTH_TRAP: TrapCode = TrapCode::from_u8(1).unwrap();

fn main() {
    let mut asm = Assembler::new(CpuFeatures::host());
    let (top, done) = (asm.new_label(), asm.new_label());

    asm.xor_rr(S32, Gpr::RAX, Gpr::RAX);
    asm.xor_rr(S32, Gpr::RCX, Gpr::RCX);
    // The limit lives in the constant pool; the operand is RIP-relative.
    let max_len = asm.add_constant(&MAX_LEN.to_le_bytes(), 8);
    asm.cmp_rm(S64, Gpr::RSI, &Amode::constant(max_len));
    // A jump to a trap stub the buffer emits after the code.
    asm.trap_if(CC::A, LENGTH_TRAP);
    asm.test_rr(S64, Gpr::RSI, Gpr::RSI);
    asm.jcc(CC::Z, done); // forward: rel32, patched when `done` is bound
    asm.bind_label(top).unwrap();
    asm.add_rm(
        S32,
        Gpr::RAX,
        &Amode::base_index(Gpr::RDI, Gpr::RCX, Scale::Four, 0),
    );
    asm.inc_r(S64, Gpr::RCX);
    asm.cmp_rr(S64, Gpr::RCX, Gpr::RSI);
    asm.jcc(CC::B, top); // backward and within 128 bytes: rel8
    asm.bind_label(done).unwrap();
    asm.ret();

    // Errors (an unavailable feature, an unbound label) surface here, once.
    let code = asm.finish().expect("sum assembles");

    println!(
        "{} bytes, aligned to {}:",
        code.code().len(),
        code.alignment()
    );
    for chunk in code.code().chunks(16) {
        let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
        println!("  {}", hex.join(" "));
    }

    // Decode everything as instructions; the last 8 bytes are the constant
    // (and the `int3` padding before it decodes as itself).
    println!("\ndisassembly:");
    let mut decoder = Decoder::new(64, code.code(), DecoderOptions::NONE);
    let mut formatter = IntelFormatter::new();
    formatter.options_mut().set_branch_leading_zeros(false);
    let (mut inst, mut text) = (Instruction::default(), String::new());
    let data_start = code.code().len() - 8;
    while decoder.can_decode() && (decoder.position()) < data_start {
        decoder.decode_out(&mut inst);
        text.clear();
        formatter.format(&inst, &mut text);
        let bytes = &code.code()[inst.ip() as usize..inst.next_ip() as usize];
        let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
        println!("  {:4x}:  {:<24} {text}", inst.ip(), hex.join(" "));
    }
    println!("  {data_start:4x}:  .quad {MAX_LEN:#x}");

    println!("\ntrap table:");
    for trap in code.traps() {
        println!("  {:#x}: {}", trap.offset, trap.code);
    }
    println!("relocations: {:?}", code.relocations());

    run(code.code());
}

/// Copies the code into executable memory and calls it.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn run(code: &[u8]) {
    let mut memory = memmap2::MmapMut::map_anon(code.len()).expect("mmap");
    memory.copy_from_slice(code);
    let memory = memory.make_exec().expect("mprotect");
    let array: Vec<i32> = (1..=100).collect();
    // SAFETY: the mapping holds a complete System V function of this type,
    // page-aligned (more than its 16-byte alignment), and stays mapped for the
    // call. The array is valid for `len` reads and `len <= MAX_LEN`.
    let result = unsafe {
        let sum: extern "sysv64" fn(*const i32, u64) -> i32 = core::mem::transmute(memory.as_ptr());
        sum(array.as_ptr(), array.len() as u64)
    };
    println!(
        "\nsum(1..=100) = {result} (expected {})",
        array.iter().sum::<i32>()
    );
    assert_eq!(result, 5050);
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn run(_: &[u8]) {
    println!("\n(not an x86-64 Linux host: not running the code)");
}
