//! Branch simplification on real x86-64 code, checked against a decoder.
//!
//! The buffer's own tests (`src/buffer/tests.rs`) check the four rewrites on a
//! toy ISA. Here the oracle is independent of the buffer: random programs of
//! labelled blocks are assembled twice, with branch simplification on and
//! off, decoded with iced-x86 and *executed* by a small walker that follows
//! jumps the way the CPU would. Both runs must visit the same blocks in the
//! same order.
//!
//! ```text
//!   block i:   L_i [L_i']                one or two labels, bound in order
//!              mov eax, i                marker (absent in "empty" blocks)
//!              nop / mov ecx, imm ...    filler: a few bytes, or >128 bytes
//!              terminator                fall through | jmp L | jcc L
//!                                        | jcc L1; jmp L2 | ret
//! ```
//!
//! Empty blocks put several labels at one offset, or a label right on a
//! branch (rewrite 2, threading); `jcc L_next; jmp L` at the end of a block
//! is rewrite 4; a jump to the next block is rewrite 1; long fillers make
//! backward branches take rel32, short ones rel8.
//!
//! The walker keeps a simulated RFLAGS. It changes only at markers (to a hash
//! of how many markers were seen), so a conditional branch is decided by the
//! path in *blocks*, not by how many branch instructions the path went
//! through: `jcc L1; jmp L2` and its folded form `jncc L2` then agree, as on
//! hardware. The decoded condition code is evaluated, so an inverted branch
//! encoded wrongly shows up as a different trace.
//!
//! `DUET_BRANCH_ITERS` sets the number of random programs (default 300),
//! `DUET_BRANCH_SEED` the seed.

use cranelift_asm::Label;
use cranelift_asm::x64::{Assembler, CC, CpuFeatures, Gpr, OperandSize};
use iced_x86::{Code, Decoder, DecoderOptions, Instruction, Mnemonic, Register};
use std::collections::{HashMap, HashSet};

// ---------------------------------------------------------------------------
// A tiny deterministic random number generator (SplitMix64).

struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `percent`%.
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

// ---------------------------------------------------------------------------
// Programs.

/// How a block ends. Label operands index the program's label list.
#[derive(Clone, Debug)]
enum Terminator {
    FallThrough,
    Jmp(usize),
    Jcc(CC, usize),
    JccJmp(CC, usize, usize),
    Ret,
}

#[derive(Clone, Debug)]
enum Filler {
    Nop(usize),
    MovEcx(u32),
}

#[derive(Clone, Debug)]
struct Block {
    /// Indices into the program's labels, bound at the block's start.
    labels: Vec<usize>,
    /// Whether the block starts with `mov eax, id`.
    marker: bool,
    filler: Vec<Filler>,
    terminator: Terminator,
}

#[derive(Clone, Debug)]
struct Program {
    blocks: Vec<Block>,
    label_count: usize,
}

fn random_cc(rng: &mut Rng) -> CC {
    CC::ALL[rng.below(CC::ALL.len())]
}

fn random_program(rng: &mut Rng) -> Program {
    let block_count = 2 + rng.below(23);
    let mut label_count = 0;
    let mut blocks = Vec::with_capacity(block_count);
    for _ in 0..block_count {
        let labels = if rng.chance(25) { 2 } else { 1 };
        blocks.push(Block {
            labels: (label_count..label_count + labels).collect(),
            marker: !rng.chance(30),
            filler: Vec::new(),
            terminator: Terminator::FallThrough,
        });
        label_count += labels;
    }
    // The first label of the block after `i` (the "next instruction" when
    // block i+1 is empty up to its terminator).
    let next_label = |blocks: &[Block], i: usize| blocks.get(i + 1).map(|b| b.labels[0]);
    for i in 0..block_count {
        let filler = match rng.below(10) {
            0..=3 => Vec::new(),
            4..=7 => (0..1 + rng.below(3))
                .map(|_| match rng.below(2) {
                    0 => Filler::Nop(1 + rng.below(9)),
                    _ => Filler::MovEcx(rng.next_u64() as u32),
                })
                .collect(),
            // Long enough that a branch back over it needs rel32.
            _ => vec![Filler::Nop(60 + rng.below(200))],
        };
        let any_label = rng.below(label_count);
        let near_label = |rng: &mut Rng| {
            // Biased towards the next block, for rewrites 1 and 4.
            match next_label(&blocks, i) {
                Some(next) if rng.chance(40) => next,
                _ => rng.below(label_count),
            }
        };
        let terminator = if i + 1 == block_count {
            Terminator::Ret
        } else {
            match rng.below(12) {
                0..=2 => Terminator::FallThrough,
                3..=4 => Terminator::Jmp(near_label(rng)),
                5..=7 => Terminator::Jcc(random_cc(rng), near_label(rng)),
                8..=10 => Terminator::JccJmp(random_cc(rng), near_label(rng), any_label),
                _ => Terminator::Ret,
            }
        };
        blocks[i].filler = filler;
        blocks[i].terminator = terminator;
    }
    Program {
        blocks,
        label_count,
    }
}

/// Assembles `program`; markers are `mov eax, block index`.
fn assemble(program: &Program, simplify: bool) -> Vec<u8> {
    let mut asm = Assembler::new(CpuFeatures::all());
    asm.buffer_mut().set_branch_simplification(simplify);
    let labels: Vec<Label> = (0..program.label_count).map(|_| asm.new_label()).collect();
    for (id, block) in program.blocks.iter().enumerate() {
        for &l in &block.labels {
            asm.bind_label(labels[l]).expect("each label is bound once");
        }
        if block.marker {
            asm.mov_ri(OperandSize::S32, Gpr::RAX, id as u64);
        }
        for filler in &block.filler {
            match *filler {
                Filler::Nop(n) => asm.nop(n),
                Filler::MovEcx(imm) => asm.mov_ri(OperandSize::S32, Gpr::RCX, u64::from(imm)),
            }
        }
        match block.terminator {
            Terminator::FallThrough => {}
            Terminator::Jmp(l) => asm.jmp(labels[l]),
            Terminator::Jcc(cc, l) => asm.jcc(cc, labels[l]),
            Terminator::JccJmp(cc, l1, l2) => {
                asm.jcc(cc, labels[l1]);
                asm.jmp(labels[l2]);
            }
            Terminator::Ret => asm.ret(),
        }
    }
    let code = asm.finish().expect("the program assembles");
    code.code().to_vec()
}

// ---------------------------------------------------------------------------
// The walker.

/// The flags a conditional branch reads.
#[derive(Copy, Clone, Debug)]
struct Flags {
    cf: bool,
    pf: bool,
    zf: bool,
    sf: bool,
    of: bool,
}

impl Flags {
    /// A deterministic, well-mixed flags state for the `n`th marker.
    fn after_marker(seed: u64, n: usize) -> Flags {
        let bits = Rng(seed ^ (n as u64).wrapping_mul(0x2545_F491_4F6C_DD1D)).next_u64();
        Flags {
            cf: bits & 1 != 0,
            pf: bits & 2 != 0,
            zf: bits & 4 != 0,
            sf: bits & 8 != 0,
            of: bits & 16 != 0,
        }
    }

    /// Whether the condition of the conditional branch `jcc` holds (SDM
    /// Vol. 1, Appendix B, "EFLAGS Condition Codes"); `None` for any other
    /// mnemonic. The condition comes from the decoder's reading of the
    /// bytes, not from the assembler's `CC`.
    fn branch_taken(self, jcc: Mnemonic) -> Option<bool> {
        Some(match jcc {
            Mnemonic::Jo => self.of,
            Mnemonic::Jno => !self.of,
            Mnemonic::Jb => self.cf,
            Mnemonic::Jae => !self.cf,
            Mnemonic::Je => self.zf,
            Mnemonic::Jne => !self.zf,
            Mnemonic::Jbe => self.cf || self.zf,
            Mnemonic::Ja => !self.cf && !self.zf,
            Mnemonic::Js => self.sf,
            Mnemonic::Jns => !self.sf,
            Mnemonic::Jp => self.pf,
            Mnemonic::Jnp => !self.pf,
            Mnemonic::Jl => self.sf != self.of,
            Mnemonic::Jge => self.sf == self.of,
            Mnemonic::Jle => self.zf || self.sf != self.of,
            Mnemonic::Jg => !self.zf && self.sf == self.of,
            _ => return None,
        })
    }
}

/// How a walk ended.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
enum End {
    Ret,
    /// The marker budget ran out.
    Budget,
    /// A loop without markers: the same instruction was reached twice since
    /// the last marker, with flags unchanged, so it repeats forever.
    Spin,
}

#[derive(Default, Debug)]
struct Shape {
    rel8_branches: usize,
    rel32_branches: usize,
}

/// Decodes `code` into instructions by offset, checking that it decodes
/// cleanly, and counts branch forms.
fn decode(code: &[u8]) -> (HashMap<u64, Instruction>, Shape) {
    let mut decoder = Decoder::new(64, code, DecoderOptions::NONE);
    let mut instructions = HashMap::new();
    let mut shape = Shape::default();
    for inst in &mut decoder {
        assert!(
            !inst.is_invalid(),
            "undecodable bytes at {:#x} in {code:02x?}",
            inst.ip()
        );
        // Branches are emitted without prefixes: 2 bytes is rel8.
        let is_jcc = Flags::after_marker(0, 0)
            .branch_taken(inst.mnemonic())
            .is_some();
        if is_jcc || matches!(inst.code(), Code::Jmp_rel8_64 | Code::Jmp_rel32_64) {
            match inst.len() {
                2 => shape.rel8_branches += 1,
                _ => shape.rel32_branches += 1,
            }
        }
        instructions.insert(inst.ip(), inst);
    }
    (instructions, shape)
}

const MARKER_BUDGET: usize = 200;

/// Runs `code` from offset 0; returns the markers seen and how it ended.
fn walk(code: &[u8], seed: u64) -> (Vec<u32>, End) {
    let (instructions, _) = decode(code);
    let mut trace = Vec::new();
    let mut flags = Flags::after_marker(seed, 0);
    let mut seen_since_marker = HashSet::new();
    let mut pc = 0u64;
    loop {
        let Some(inst) = instructions.get(&pc) else {
            panic!("control reached {pc:#x}, not an instruction start, in {code:02x?}");
        };
        if !seen_since_marker.insert(pc) {
            return (trace, End::Spin);
        }
        let next = inst.next_ip();
        let mnemonic = inst.mnemonic();
        pc = if let Some(taken) = flags.branch_taken(mnemonic) {
            if taken {
                inst.near_branch_target()
            } else {
                next
            }
        } else if mnemonic == Mnemonic::Jmp {
            assert!(
                matches!(inst.code(), Code::Jmp_rel8_64 | Code::Jmp_rel32_64),
                "an indirect jump at {pc:#x}"
            );
            inst.near_branch_target()
        } else if mnemonic == Mnemonic::Ret {
            return (trace, End::Ret);
        } else if inst.code() == Code::Mov_r32_imm32 && inst.op0_register() == Register::EAX {
            trace.push(inst.immediate32());
            if trace.len() == MARKER_BUDGET {
                return (trace, End::Budget);
            }
            flags = Flags::after_marker(seed, trace.len());
            seen_since_marker.clear();
            next
        } else if matches!(mnemonic, Mnemonic::Nop | Mnemonic::Mov) {
            next
        } else {
            panic!("unexpected instruction {inst} at {pc:#x}");
        };
    }
}

fn iterations() -> usize {
    std::env::var("DUET_BRANCH_ITERS")
        .ok()
        .map(|s| s.parse().expect("DUET_BRANCH_ITERS is a number"))
        .unwrap_or(300)
}

#[test]
fn simplified_branches_visit_the_same_blocks() {
    let iterations = iterations();
    let seed = std::env::var("DUET_BRANCH_SEED")
        .ok()
        .map(|s| s.parse().expect("DUET_BRANCH_SEED is a number"))
        .unwrap_or(0xD0E7_B4A4_C4E5);
    let mut rng = Rng(seed);
    let (mut shrank, mut grew, mut rel8_plain, mut rel8_simplified, mut rel32) = (0, 0, 0, 0, 0);
    let (mut bytes_plain, mut bytes_simplified) = (0, 0);
    let mut ends = HashMap::new();
    for iteration in 0..iterations {
        let program = random_program(&mut rng);
        let plain = assemble(&program, false);
        let simplified = assemble(&program, true);
        let flags_seed = rng.next_u64();
        let context = || {
            format!(
                "program {iteration}: {program:#?}\nplain: {plain:02x?}\nsimplified: {simplified:02x?}"
            )
        };
        // Simplification only removes bytes, except that threading (rewrite
        // 2) may turn a short backward branch to `L: jmp T` into a rel32
        // branch straight to a forward `T`: at most 4 bytes per rel8 branch.
        let (_, plain_shape) = decode(&plain);
        let (_, simplified_shape) = decode(&simplified);
        assert!(
            simplified.len() <= plain.len() + 4 * plain_shape.rel8_branches,
            "simplification made the code longer\n{}",
            context()
        );
        grew += usize::from(simplified.len() > plain.len());
        let plain_run = walk(&plain, flags_seed);
        let simplified_run = walk(&simplified, flags_seed);
        assert_eq!(plain_run, simplified_run, "the walks differ\n{}", context());
        *ends.entry(plain_run.1).or_insert(0usize) += 1;
        shrank += usize::from(simplified.len() < plain.len());
        rel8_plain += plain_shape.rel8_branches;
        rel8_simplified += simplified_shape.rel8_branches;
        rel32 += simplified_shape.rel32_branches;
        bytes_plain += plain.len();
        bytes_simplified += simplified.len();
    }
    eprintln!(
        "{iterations} programs: {shrank} shrank, {grew} grew ({bytes_plain} -> {bytes_simplified} bytes); \
         rel8 branches {rel8_plain} plain, {rel8_simplified} simplified; rel32 {rel32}; ends {ends:?}"
    );
    if iterations >= 100 {
        assert!(shrank > iterations / 4, "too few programs shrank: {shrank}");
        assert!(
            bytes_simplified < bytes_plain,
            "simplification saved nothing overall"
        );
        assert!(rel8_plain > 0 && rel8_simplified > 0, "no rel8 branches");
        assert!(rel32 > 0, "no rel32 branches");
        assert!(ends.len() == 3, "not every kind of end occurred: {ends:?}");
    }
}

/// The walker itself: an inverted condition must take the other path.
#[test]
fn walker_evaluates_the_decoded_condition() {
    for cc in CC::ALL {
        let mut asm = Assembler::new(CpuFeatures::all());
        asm.buffer_mut().set_branch_simplification(false);
        let taken = asm.new_label();
        asm.mov_ri(OperandSize::S32, Gpr::RAX, 0);
        asm.jcc(cc, taken);
        asm.mov_ri(OperandSize::S32, Gpr::RAX, 1);
        asm.ret();
        asm.bind_label(taken).unwrap();
        asm.mov_ri(OperandSize::S32, Gpr::RAX, 2);
        asm.ret();
        let code = asm.finish().unwrap().code().to_vec();
        let mut inverted = code.clone();
        inverted[6] ^= 1; // 0F 8x: the low bit of the condition.
        for seed in 0..8 {
            let (a, _) = walk(&code, seed);
            let (b, _) = walk(&inverted, seed);
            assert_eq!(a[0], 0);
            assert_ne!(a[1], b[1], "{cc:?} and its inverse agree");
        }
    }
}

// ---------------------------------------------------------------------------
// Encodings, byte for byte.

/// Assembles with `body`, simplification on.
fn bytes(body: impl FnOnce(&mut Assembler)) -> Vec<u8> {
    let mut asm = Assembler::new(CpuFeatures::all());
    body(&mut asm);
    asm.finish().expect("assembles").code().to_vec()
}

#[test]
fn backward_branches_within_reach_take_rel8() {
    // A 2-byte branch at offset n reaches back -128 from its end (n + 2).
    for n in [0usize, 1, 50, 126] {
        let code = bytes(|asm| {
            let top = asm.new_label();
            asm.bind_label(top).unwrap();
            asm.nop(n);
            asm.jmp(top);
        });
        assert_eq!(code[n..], [0xEB, (-(n as i16) - 2) as u8], "jmp, n={n}");
        for cc in CC::ALL {
            let code = bytes(|asm| {
                let top = asm.new_label();
                asm.bind_label(top).unwrap();
                asm.nop(n);
                asm.jcc(cc, top);
            });
            let disp = -(n as i16) - 2;
            assert_eq!(code[n..], [0x70 | cc.enc(), disp as u8], "{cc:?}, n={n}");
        }
    }
}

#[test]
fn backward_branches_out_of_reach_take_rel32() {
    let n = 127; // the end of a rel8 branch would be 129 bytes past the label
    let code = bytes(|asm| {
        let top = asm.new_label();
        asm.bind_label(top).unwrap();
        asm.nop(n);
        asm.jmp(top);
    });
    let disp = -(n as i32) - 5;
    assert_eq!(code[n], 0xE9);
    assert_eq!(code[n + 1..], disp.to_le_bytes());
    let code = bytes(|asm| {
        let top = asm.new_label();
        asm.bind_label(top).unwrap();
        asm.nop(n);
        asm.jcc(CC::L, top);
    });
    let disp = -(n as i32) - 6;
    assert_eq!(code[n..n + 2], [0x0F, 0x8C]);
    assert_eq!(code[n + 2..], disp.to_le_bytes());
}

#[test]
fn forward_branches_take_rel32() {
    let code = bytes(|asm| {
        let end = asm.new_label();
        asm.jmp(end);
        asm.jcc(CC::NZ, end);
        asm.int3();
        asm.bind_label(end).unwrap();
        asm.ret();
    });
    #[rustfmt::skip]
    let expected = [
        0xE9, 6 + 1, 0, 0, 0,       // jmp end (over the jne and the int3)
        0x0F, 0x85, 1, 0, 0, 0,     // jne end (over the int3)
        0xCC,
        0xC3,
    ];
    assert_eq!(code, expected);
}

#[test]
fn jcc_over_jmp_folds_into_one_inverted_jcc() {
    for cc in CC::ALL {
        let code = bytes(|asm| {
            let (over, far) = (asm.new_label(), asm.new_label());
            asm.jcc(cc, over);
            asm.jmp(far);
            asm.bind_label(over).unwrap();
            asm.mov_ri(OperandSize::S32, Gpr::RAX, 1);
            asm.ret();
            asm.bind_label(far).unwrap();
            asm.ret();
        });
        #[rustfmt::skip]
        let expected = [
            0x0F, 0x80 | cc.invert().enc(), 6, 0, 0, 0, // jncc far
            0xB8, 1, 0, 0, 0,                           // over: mov eax, 1
            0xC3,
            0xC3,                                       // far: ret
        ];
        assert_eq!(code, expected, "{cc:?}");
    }
    // A backward `jmp` (rel8) after the jcc folds the same way; the inverted
    // jcc keeps its rel32 form.
    let code = bytes(|asm| {
        let (top, over) = (asm.new_label(), asm.new_label());
        asm.bind_label(top).unwrap();
        asm.mov_ri(OperandSize::S32, Gpr::RAX, 0);
        asm.jcc(CC::B, over);
        asm.jmp(top);
        asm.bind_label(over).unwrap();
        asm.ret();
    });
    let disp = -11i32;
    let mut expected = vec![0xB8, 0, 0, 0, 0, 0x0F, 0x83];
    expected.extend(disp.to_le_bytes());
    expected.push(0xC3);
    assert_eq!(code, expected);
}

#[test]
fn branches_to_the_next_instruction_disappear() {
    let code = bytes(|asm| {
        let next = asm.new_label();
        asm.jmp(next);
        asm.bind_label(next).unwrap();
        asm.ret();
    });
    assert_eq!(code, [0xC3]);
    let code = bytes(|asm| {
        let next = asm.new_label();
        asm.jcc(CC::Z, next);
        asm.jmp(next);
        asm.bind_label(next).unwrap();
        asm.ret();
    });
    assert_eq!(code, [0xC3]);
    // Off, the bytes are what was emitted.
    let code = bytes(|asm| {
        asm.buffer_mut().set_branch_simplification(false);
        let next = asm.new_label();
        asm.jmp(next);
        asm.bind_label(next).unwrap();
        asm.ret();
    });
    assert_eq!(code, [0xE9, 0, 0, 0, 0, 0xC3]);
}

#[test]
fn a_label_on_a_jump_is_threaded_to_its_target() {
    // `a: jmp b` in the middle; a branch to `a` goes straight to `b`.
    let code = bytes(|asm| {
        let (a, b) = (asm.new_label(), asm.new_label());
        asm.jcc(CC::Z, a);
        asm.ret();
        asm.bind_label(a).unwrap();
        asm.jmp(b);
        asm.bind_label(b).unwrap();
        asm.ret();
    });
    // The jmp is removed (rule 1 once `b` is bound) and jz lands on the ret.
    assert_eq!(code, [0x0F, 0x84, 1, 0, 0, 0, 0xC3, 0xC3]);
}

#[test]
fn threading_can_lengthen_a_backward_branch() {
    // `l: jmp far` gets `l` aliased to `far` (rewrite 2) once `m` is bound, so
    // a later branch to `l` goes straight to the unbound `far`: rel32
    // forward, where without simplification it is rel8 backward to the jmp.
    // One jump fewer at run time, 4 bytes more: the one way simplification
    // grows code.
    let emit = |simplify: bool| {
        bytes(|asm| {
            asm.buffer_mut().set_branch_simplification(simplify);
            let (l, m, far) = (asm.new_label(), asm.new_label(), asm.new_label());
            asm.bind_label(l).unwrap();
            asm.jmp(far);
            asm.bind_label(m).unwrap();
            asm.jcc(CC::G, l);
            asm.ret();
            asm.bind_label(far).unwrap();
            asm.ret();
        })
    };
    assert_eq!(emit(false), [0xE9, 3, 0, 0, 0, 0x7F, 0xF9, 0xC3, 0xC3]);
    assert_eq!(
        emit(true),
        [0xE9, 7, 0, 0, 0, 0x0F, 0x8F, 1, 0, 0, 0, 0xC3, 0xC3]
    );
}
