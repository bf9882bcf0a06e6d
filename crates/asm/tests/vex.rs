//! The VEX.128 twins of the legacy SSE forms and the automatic choice
//! between them (`Assembler::packed` and the choosers of the other shapes).
//!
//! * Each twin the instruction table declares (`SseOp::vex()` and its
//!   siblings, generated from `VEX_TWINS`) is the legacy form's mnemonic
//!   with a `v` before it, needs AVX, and decodes (iced-x86) to the legacy
//!   instruction's VEX form: the same mnemonic but the `v`, the same
//!   memory operand type and width.
//! * It also computes the same thing: both are run natively, when the host
//!   has AVX, over random and edge-case inputs, and must leave the same
//!   bits in the result register (the XMM destination, a GPR, or the
//!   flags).
//! * `packed` emits the VEX twin where `CpuFeatures` has AVX, the legacy
//!   form (with a copy of the first source when it is not the destination)
//!   otherwise, and refuses what the legacy form cannot do; checked by
//!   decoding, under features with and without AVX; so do the choosers of
//!   the other shapes (`packed_unary`, ..., `packed_test`), the VEX form
//!   taking the legacy destination as its first source and memory of any
//!   alignment.

#![allow(unsafe_code)]

mod common;
mod exec;

use cranelift_asm::x64::{
    Amode, AsmError, Assembler, CC, CpuFeatures, Feature, Gpr, GprMem, OperandSize, Scale,
    SseBlendvOp, SseExtractOp, SseImmOp, SseInsertOp, SseMovOp, SseMoveMaskOp, SseOp,
    SseShiftImmOp, SseTestOp, SseUnaryImmOp, SseUnaryOp, Xmm, XmmMem,
};
use exec::{Failures, NativeCode, Rng};
use iced_x86::{Formatter, Instruction, IntelFormatter, Mnemonic};

/// Emits a form (and what surrounds it) into an assembler.
type Emit = Box<dyn Fn(&mut Assembler)>;

/// One legacy form and its VEX twin, each emitted by a closure over the
/// fixed registers of [`run`]: inputs a = xmm1, b = xmm2, mask = xmm0, an
/// integer in rcx; results in xmm3, rax and rdx.
struct Twin {
    legacy: &'static str,
    vex: &'static str,
    emit_legacy: Emit,
    emit_vex: Emit,
    /// The form with a memory operand `[rdi]` in place of b, when it has
    /// one (legacy, VEX), for comparing the decoded memory operand.
    memory: Option<(Emit, Emit)>,
}

const A: Xmm = Xmm::XMM1;
const B: Xmm = Xmm::XMM2;
const MASK: Xmm = Xmm::XMM0;
const OUT: Xmm = Xmm::XMM3;
const INT: Gpr = Gpr::RCX;

/// `[rdi]`, stated aligned (the legacy packed forms need it).
fn memory() -> XmmMem {
    XmmMem::Aligned(Amode::base(Gpr::RDI, 0))
}

/// Immediates to run each immediate form with: CMPPS's legacy predicate is
/// imm8[2:0] (its VEX form reads imm8[4:0]), so they stay below 8 for it.
const IMMEDIATES: [u8; 5] = [0, 1, 3, 5, 7];
const SHIFTS: [u8; 8] = [0, 1, 7, 8, 15, 16, 33, 200];

/// Every declared twin, with the emitters.
fn twins() -> Vec<Twin> {
    let mut all = Vec::new();
    for op in SseOp::ALL {
        let Some(v) = op.vex() else { continue };
        all.push(Twin {
            legacy: op.mnemonic(),
            vex: v.mnemonic(),
            emit_legacy: Box::new(move |a| {
                a.movaps_rr(OUT, A);
                a.xmm_rmr(op, OUT, &XmmMem::Xmm(B));
            }),
            emit_vex: Box::new(move |a| a.xmm_rmr_vex(v, OUT, A, &XmmMem::Xmm(B))),
            memory: Some((
                Box::new(move |a| a.xmm_rmr(op, OUT, &memory())),
                Box::new(move |a| a.xmm_rmr_vex(v, OUT, A, &memory())),
            )),
        });
    }
    for op in SseUnaryOp::ALL {
        let Some(v) = op.vex() else { continue };
        all.push(Twin {
            legacy: op.mnemonic(),
            vex: v.mnemonic(),
            emit_legacy: Box::new(move |a| a.xmm_unary(op, OUT, &XmmMem::Xmm(B))),
            emit_vex: Box::new(move |a| a.xmm_unary_vex(v, OUT, &XmmMem::Xmm(B))),
            memory: Some((
                Box::new(move |a| a.xmm_unary(op, OUT, &memory())),
                Box::new(move |a| a.xmm_unary_vex(v, OUT, &memory())),
            )),
        });
    }
    for op in SseImmOp::ALL {
        let Some(v) = op.vex() else { continue };
        for imm in IMMEDIATES {
            all.push(Twin {
                legacy: op.mnemonic(),
                vex: v.mnemonic(),
                emit_legacy: Box::new(move |a| {
                    a.movaps_rr(OUT, A);
                    a.xmm_rmr_imm(op, OUT, &XmmMem::Xmm(B), imm);
                }),
                emit_vex: Box::new(move |a| a.xmm_rmr_imm_vex(v, OUT, A, &XmmMem::Xmm(B), imm)),
                memory: Some((
                    Box::new(move |a| a.xmm_rmr_imm(op, OUT, &memory(), imm)),
                    Box::new(move |a| a.xmm_rmr_imm_vex(v, OUT, A, &memory(), imm)),
                )),
            });
        }
    }
    for op in SseUnaryImmOp::ALL {
        let Some(v) = op.vex() else { continue };
        for imm in IMMEDIATES.into_iter().chain([0x1b, 0xb1, 0x4e]) {
            all.push(Twin {
                legacy: op.mnemonic(),
                vex: v.mnemonic(),
                emit_legacy: Box::new(move |a| a.xmm_unary_imm(op, OUT, &XmmMem::Xmm(B), imm)),
                emit_vex: Box::new(move |a| a.xmm_unary_imm_vex(v, OUT, &XmmMem::Xmm(B), imm)),
                memory: Some((
                    Box::new(move |a| a.xmm_unary_imm(op, OUT, &memory(), imm)),
                    Box::new(move |a| a.xmm_unary_imm_vex(v, OUT, &memory(), imm)),
                )),
            });
        }
    }
    for op in SseShiftImmOp::ALL {
        let Some(v) = op.vex() else { continue };
        for imm in SHIFTS {
            all.push(Twin {
                legacy: op.mnemonic(),
                vex: v.mnemonic(),
                emit_legacy: Box::new(move |a| {
                    a.movaps_rr(OUT, A);
                    a.xmm_shift_imm(op, OUT, imm);
                }),
                emit_vex: Box::new(move |a| a.xmm_shift_imm_vex(v, OUT, A, imm)),
                memory: None,
            });
        }
    }
    for op in SseInsertOp::ALL {
        let Some(v) = op.vex() else { continue };
        for lane in [0, 1, 3, 7, 15] {
            let int = GprMem::Gpr(INT);
            let mem = GprMem::Mem(Amode::base(Gpr::RDI, 0));
            all.push(Twin {
                legacy: op.mnemonic(),
                vex: v.mnemonic(),
                emit_legacy: Box::new(move |a| {
                    a.movaps_rr(OUT, A);
                    a.xmm_insert(op, OUT, &int, lane);
                }),
                emit_vex: Box::new(move |a| a.xmm_insert_vex(v, OUT, A, &int, lane)),
                memory: Some((
                    Box::new(move |a| a.xmm_insert(op, OUT, &mem, lane)),
                    Box::new(move |a| a.xmm_insert_vex(v, OUT, A, &mem, lane)),
                )),
            });
        }
    }
    for op in SseExtractOp::ALL {
        let Some(v) = op.vex() else { continue };
        for lane in [0, 1, 3, 7, 15] {
            let mem = Amode::base(Gpr::RDI, 0);
            all.push(Twin {
                legacy: op.mnemonic(),
                vex: v.mnemonic(),
                emit_legacy: Box::new(move |a| a.xmm_extract(op, Gpr::RAX, A, lane)),
                emit_vex: Box::new(move |a| a.xmm_extract_vex(v, Gpr::RAX, A, lane)),
                memory: Some((
                    Box::new(move |a| a.xmm_extract_mem(op, &mem, A, lane)),
                    Box::new(move |a| a.xmm_extract_mem_vex(v, &mem, A, lane)),
                )),
            });
        }
    }
    for op in SseMoveMaskOp::ALL {
        let Some(v) = op.vex() else { continue };
        all.push(Twin {
            legacy: op.mnemonic(),
            vex: v.mnemonic(),
            emit_legacy: Box::new(move |a| a.xmm_move_mask(op, Gpr::RAX, A)),
            emit_vex: Box::new(move |a| a.xmm_move_mask_vex(v, Gpr::RAX, A)),
            memory: None,
        });
    }
    for op in SseBlendvOp::ALL {
        let Some(v) = op.vex() else { continue };
        all.push(Twin {
            legacy: op.mnemonic(),
            vex: v.mnemonic(),
            emit_legacy: Box::new(move |a| {
                a.movaps_rr(OUT, A);
                a.xmm_blendv(op, OUT, &XmmMem::Xmm(B));
            }),
            emit_vex: Box::new(move |a| a.xmm_blendv_vex(v, OUT, A, &XmmMem::Xmm(B), MASK)),
            memory: Some((
                Box::new(move |a| a.xmm_blendv(op, OUT, &memory())),
                Box::new(move |a| a.xmm_blendv_vex(v, OUT, A, &memory(), MASK)),
            )),
        });
    }
    for op in SseTestOp::ALL {
        let Some(v) = op.vex() else { continue };
        let flags = |a: &mut Assembler| {
            a.setcc(CC::Z, Gpr::RAX);
            a.setcc(CC::B, Gpr::RDX);
        };
        all.push(Twin {
            legacy: op.mnemonic(),
            vex: v.mnemonic(),
            emit_legacy: Box::new(move |a| {
                a.xmm_test(op, A, &XmmMem::Xmm(B));
                flags(a);
            }),
            emit_vex: Box::new(move |a| {
                a.xmm_test_vex(v, A, &XmmMem::Xmm(B));
                flags(a);
            }),
            memory: Some((
                Box::new(move |a| a.xmm_test(op, A, &memory())),
                Box::new(move |a| a.xmm_test_vex(v, A, &memory())),
            )),
        });
    }
    all
}

/// The form `emit` assembles to (under every feature), past the copy
/// into the destination and the reading of the flags that surround it.
fn decode_one(emit: &dyn Fn(&mut Assembler)) -> Instruction {
    let mut asm = Assembler::new(CpuFeatures::all());
    emit(&mut asm);
    let code = asm.finish().expect("the form assembles");
    let forms: Vec<Instruction> = common::decode(code.code(), 0)
        .into_iter()
        .filter(|i| {
            !matches!(
                i.mnemonic(),
                Mnemonic::Movaps | Mnemonic::Sete | Mnemonic::Setb
            )
        })
        .collect();
    let listing = common::listing(code.code(), 0);
    assert!(forms.len() == 1 && !forms[0].is_invalid(), "{listing}");
    forms[0]
}

fn name(mnemonic: Mnemonic) -> String {
    format!("{mnemonic:?}").to_lowercase()
}

#[test]
fn every_vex_twin_is_its_legacy_form_with_a_v() {
    let twins = twins();
    assert!(twins.len() > 150, "only {} twins", twins.len());
    for twin in &twins {
        assert_eq!(twin.vex, format!("v{}", twin.legacy));
        // The register forms decode as declared, the VEX one as VEX.
        let legacy = decode_one(&twin.emit_legacy);
        let vex = decode_one(&twin.emit_vex);
        assert_eq!(name(legacy.mnemonic()), twin.legacy);
        assert_eq!(name(vex.mnemonic()), twin.vex);
        // iced names each encoding (`Code`); its VEX encodings start `VEX_`.
        assert!(format!("{:?}", vex.code()).starts_with("VEX_"));
        assert!(!format!("{:?}", legacy.code()).starts_with("VEX_"));
        // Over memory, the operand is read as the same type and width.
        if let Some((legacy_mem, vex_mem)) = &twin.memory {
            let (legacy, vex) = (decode_one(legacy_mem), decode_one(vex_mem));
            assert_eq!(
                legacy.memory_size(),
                vex.memory_size(),
                "{} and {} read memory differently",
                twin.legacy,
                twin.vex
            );
        }
    }
    // Each legacy enum's forms: a twin needs AVX (the broadcasts, AVX2,
    // have no legacy form).
    let features = SseOp::ALL
        .iter()
        .filter_map(|op| op.vex().map(|v| v.feature()))
        .chain(
            SseUnaryOp::ALL
                .iter()
                .filter_map(|op| op.vex().map(|v| v.feature())),
        )
        .chain(
            SseImmOp::ALL
                .iter()
                .filter_map(|op| op.vex().map(|v| v.feature())),
        )
        .chain(
            SseBlendvOp::ALL
                .iter()
                .filter_map(|op| op.vex().map(|v| v.feature())),
        );
    for feature in features {
        assert_eq!(feature, Feature::Avx);
    }
}

/// Inputs: a, b, mask (16 bytes each) and the integer; the last 16 bytes
/// are memory `[rdi]` points into.
#[repr(C, align(16))]
#[derive(Copy, Clone)]
struct Inputs {
    a: [u8; 16],
    b: [u8; 16],
    mask: [u8; 16],
    int: u64,
}

/// Outputs: xmm3, rax, rdx.
#[repr(C)]
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
struct Outputs {
    xmm: [u8; 16],
    rax: u64,
    rdx: u64,
}

/// `extern "sysv64" fn(inputs: *const Inputs, out: *mut Outputs)`: loads
/// the inputs, clears the results, runs `body`, stores the results.
fn function(features: CpuFeatures, body: &dyn Fn(&mut Assembler)) -> NativeCode {
    let mut asm = Assembler::new(features);
    let at = |disp| Amode::base(Gpr::RDI, disp);
    asm.xmm_load(SseMovOp::Movups, A, &at(0));
    asm.xmm_load(SseMovOp::Movups, B, &at(16));
    asm.xmm_load(SseMovOp::Movups, MASK, &at(32));
    asm.mov_rm(OperandSize::S64, INT, &at(48));
    asm.mov_ri(OperandSize::S64, Gpr::RAX, 0);
    asm.mov_ri(OperandSize::S64, Gpr::RDX, 0);
    asm.xmm_rmr(SseOp::Pxor, OUT, &XmmMem::Xmm(OUT));
    body(&mut asm);
    let out = |disp| Amode::base(Gpr::RSI, disp);
    asm.xmm_store(SseMovOp::Movups, &out(0), OUT);
    asm.mov_mr(OperandSize::S64, &out(16), Gpr::RAX);
    asm.mov_mr(OperandSize::S64, &out(24), Gpr::RDX);
    asm.ret();
    NativeCode::new(asm)
}

type Entry = unsafe extern "sysv64" fn(*const Inputs, *mut Outputs);

fn call(code: &NativeCode, inputs: &Inputs) -> Outputs {
    let mut out = Outputs::default();
    // SAFETY: `function` built the code with exactly this signature, it
    // reads 56 bytes at the first pointer and writes 32 at the second, and
    // `code` outlives the call.
    unsafe {
        let entry: Entry = code.function();
        entry(inputs, &mut out);
    }
    out
}

/// Random inputs, and the edges: zeros, all-ones, a = b (PTEST's flags),
/// floats that are NaN, infinite, zero of each sign, and out of integer
/// range.
fn inputs(rng: &mut Rng) -> Vec<Inputs> {
    let bytes = |rng: &mut Rng| {
        let mut v = [0u8; 16];
        v[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
        v[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
        v
    };
    let floats = |values: [f32; 4]| {
        let mut v = [0u8; 16];
        for (i, f) in values.iter().enumerate() {
            v[4 * i..4 * i + 4].copy_from_slice(&f.to_le_bytes());
        }
        v
    };
    let mut all = Vec::new();
    for _ in 0..40 {
        all.push(Inputs {
            a: bytes(rng),
            b: bytes(rng),
            mask: bytes(rng),
            int: rng.next_u64(),
        });
    }
    let special = [
        [0; 16],
        [0xff; 16],
        floats([f32::NAN, -0.0, f32::INFINITY, 3e9]),
        floats([-2.5, 0.5, f32::MIN_POSITIVE / 2.0, -f32::INFINITY]),
    ];
    for a in special {
        for b in special {
            all.push(Inputs {
                a,
                b,
                mask: b,
                int: u64::from_le_bytes(a[..8].try_into().unwrap()),
            });
        }
    }
    all
}

#[test]
fn every_vex_twin_computes_what_its_legacy_form_computes() {
    let host = CpuFeatures::host();
    if !host.has(Feature::Avx) || !host.has(Feature::Sse42) {
        eprintln!("the host lacks AVX or SSE4.2: nothing to run");
        return;
    }
    let mut failures = Failures::new("VEX twins");
    let mut rng = Rng::new(0x7E57_AB1E);
    let inputs = inputs(&mut rng);
    for twin in twins() {
        let legacy = function(host, &twin.emit_legacy);
        let vex = function(host, &twin.emit_vex);
        for input in &inputs {
            let (want, got) = (call(&legacy, input), call(&vex, input));
            failures.check(want == got, || {
                format!(
                    "{} vs {} on a {:02x?} b {:02x?}: {want:02x?} vs {got:02x?}",
                    twin.legacy, twin.vex, input.a, input.b
                )
            });
        }
    }
    failures.finish();
}

// ---- Assembler::packed -------------------------------------------------------

/// The instructions `emit` assembles to under `features`, as
/// `mnemonic operands` lines.
fn listing(features: CpuFeatures, emit: impl FnOnce(&mut Assembler)) -> Vec<String> {
    let mut asm = Assembler::new(features);
    emit(&mut asm);
    let code = asm.finish().expect("assembles");
    let mut formatter = IntelFormatter::new();
    common::decode(code.code(), 0)
        .iter()
        .map(|instruction| {
            let mut text = String::new();
            formatter.format(instruction, &mut text);
            text
        })
        .collect()
}

fn refused(features: CpuFeatures, emit: impl FnOnce(&mut Assembler)) -> AsmError {
    let mut asm = Assembler::new(features);
    emit(&mut asm);
    assert_eq!(asm.cur_offset(), 0, "a refused form emitted bytes");
    asm.finish().expect_err("refused")
}

#[test]
fn packed_takes_the_vex_twin_where_the_cpu_has_avx() {
    let avx = CpuFeatures::all();
    let reg = |r| XmmMem::Xmm(r);
    let (x1, x2, x3, x9) = (Xmm::XMM1, Xmm::XMM2, Xmm::XMM3, Xmm::XMM9);
    // Three operands, whichever register the destination is.
    for (dst, src1, src2, want) in [
        (x1, x2, x3, "vpaddd xmm1,xmm2,xmm3"),
        (x1, x1, x3, "vpaddd xmm1,xmm1,xmm3"),
        (x3, x2, x3, "vpaddd xmm3,xmm2,xmm3"),
        (x9, x9, x9, "vpaddd xmm9,xmm9,xmm9"),
    ] {
        assert_eq!(
            listing(avx, |a| a.packed(SseOp::Paddd, dst, src1, &reg(src2))),
            [want]
        );
    }
    // Memory of any alignment.
    let unaligned = XmmMem::Mem(Amode::base_index(Gpr::RAX, Gpr::RCX, Scale::One, 3));
    assert_eq!(
        listing(avx, |a| a.packed(SseOp::Andnps, x1, x2, &unaligned)),
        ["vandnps xmm1,xmm2,[rax+rcx+3]"]
    );
    // A form without a twin (a scalar one) stays legacy.
    assert_eq!(
        listing(avx, |a| a.packed(SseOp::Addss, x1, x2, &reg(x3))),
        ["movaps xmm1,xmm2", "addss xmm1,xmm3"]
    );
}

#[test]
fn packed_without_avx_copies_the_first_source_and_refuses_what_it_cannot_do() {
    let sse = CpuFeatures::all().without(Feature::Avx);
    assert!(!sse.has(Feature::Avx) && sse.has(Feature::Sse42));
    let reg = |r| XmmMem::Xmm(r);
    let (x1, x2, x3) = (Xmm::XMM1, Xmm::XMM2, Xmm::XMM3);
    assert_eq!(
        listing(sse, |a| a.packed(SseOp::Paddd, x1, x2, &reg(x3))),
        ["movaps xmm1,xmm2", "paddd xmm1,xmm3"]
    );
    assert_eq!(
        listing(sse, |a| a.packed(SseOp::Paddd, x1, x1, &reg(x3))),
        ["paddd xmm1,xmm3"]
    );
    assert_eq!(
        listing(sse, |a| a.packed(SseOp::Psubd, x1, x1, &reg(x1))),
        ["psubd xmm1,xmm1"]
    );
    let aligned = XmmMem::Aligned(Amode::base(Gpr::RSP, 32));
    assert_eq!(
        listing(sse, |a| a.packed(SseOp::Pandn, x1, x2, &aligned)),
        ["movaps xmm1,xmm2", "pandn xmm1,[rsp+20h]"]
    );
    // The copy would overwrite the second source.
    let error = refused(sse, |a| a.packed(SseOp::Psubd, x3, x2, &reg(x3)));
    assert!(matches!(
        error,
        AsmError::InvalidOperand {
            mnemonic: "psubd",
            ..
        }
    ));
    // Memory not known aligned, before the copy is emitted.
    let unaligned = XmmMem::Mem(Amode::base(Gpr::RSP, 32));
    let error = refused(sse, |a| a.packed(SseOp::Paddd, x1, x2, &unaligned));
    assert!(matches!(
        error,
        AsmError::InvalidOperand {
            mnemonic: "paddd",
            ..
        }
    ));
    // A form the CPU lacks, also before the copy.
    let sse2 = CpuFeatures::baseline();
    let error = refused(sse2, |a| a.packed(SseOp::Pmulld, x1, x2, &reg(x3)));
    assert!(matches!(
        error,
        AsmError::UnavailableFeature {
            feature: Feature::Sse41,
            ..
        }
    ));
    // The scalar forms take unaligned memory.
    assert_eq!(
        listing(sse, |a| a.packed(SseOp::Addss, x1, x1, &unaligned)),
        ["addss xmm1,[rsp+20h]"]
    );
}

#[test]
fn the_broadcasts_need_avx2_and_every_vex_form_avx() {
    let avx_only = CpuFeatures::all().without(Feature::Avx2);
    assert!(avx_only.has(Feature::Avx));
    let error = refused(avx_only, |a| a.vpbroadcastb(Xmm::XMM1, Xmm::XMM2));
    assert!(matches!(
        error,
        AsmError::UnavailableFeature {
            feature: Feature::Avx2,
            ..
        }
    ));
    assert_eq!(
        listing(CpuFeatures::all(), |a| a
            .vpbroadcastq(Xmm::XMM9, XmmMem::Mem(Amode::base(Gpr::R12, 1)))),
        ["vpbroadcastq xmm9,[r12+1]"]
    );
    let no_avx = CpuFeatures::all().without(Feature::Avx);
    let error = refused(no_avx, |a| a.vpshufd(Xmm::XMM1, Xmm::XMM2, 0x1b));
    assert!(matches!(
        error,
        AsmError::UnavailableFeature {
            feature: Feature::Avx,
            ..
        }
    ));
}

// ---- The choosers of the other shapes -----------------------------------------

/// Each shape's chooser under `features`, on fixed operands: xmm1 the
/// destination (or the tested/extracted register), xmm2 the source, rcx the
/// GPR, `[rdi]` (stated aligned) the memory.
fn every_chooser(features: CpuFeatures) -> Vec<String> {
    let (x1, x2) = (Xmm::XMM1, Xmm::XMM2);
    let rcx = GprMem::Gpr(Gpr::RCX);
    listing(features, |a| {
        a.packed_unary(SseUnaryOp::Pmovsxbw, x1, &XmmMem::Xmm(x2));
        a.packed_unary(SseUnaryOp::Sqrtps, x1, &memory());
        a.packed_imm(SseImmOp::Shufps, x1, &XmmMem::Xmm(x2), 3);
        a.packed_imm(SseImmOp::Palignr, x1, &memory(), 5);
        a.packed_unary_imm(SseUnaryImmOp::Pshufd, x1, &XmmMem::Xmm(x2), 3);
        a.packed_unary_imm(SseUnaryImmOp::Roundps, x1, &memory(), 1);
        a.packed_shift_imm(SseShiftImmOp::Psllw, x1, 3);
        a.packed_shift_imm(SseShiftImmOp::Psrldq, x1, 8);
        a.packed_insert(SseInsertOp::Pinsrb, x1, &rcx, 5);
        a.packed_insert(SseInsertOp::Pinsrq, x1, &rcx, 1);
        a.packed_extract(SseExtractOp::Pextrw, Gpr::RCX, x1, 3);
        a.packed_extract(SseExtractOp::Pextrd, Gpr::RCX, x1, 2);
        a.packed_extract_mem(SseExtractOp::Pextrb, &Amode::base(Gpr::RDI, 0), x1, 7);
        a.packed_move_mask(SseMoveMaskOp::Pmovmskb, Gpr::RCX, x1);
        a.packed_blendv(SseBlendvOp::Pblendvb, x1, &XmmMem::Xmm(x2));
        a.packed_blendv(SseBlendvOp::Blendvps, x1, &memory());
        a.packed_test(SseTestOp::Ptest, x1, &XmmMem::Xmm(x2));
        a.packed(SseOp::Pand, x1, x1, &memory());
    })
}

#[test]
fn every_chooser_takes_the_vex_twin_under_avx_with_the_destination_as_first_source() {
    assert_eq!(
        every_chooser(CpuFeatures::all()),
        [
            "vpmovsxbw xmm1,xmm2",
            "vsqrtps xmm1,[rdi]",
            "vshufps xmm1,xmm1,xmm2,3",
            "vpalignr xmm1,xmm1,[rdi],5",
            "vpshufd xmm1,xmm2,3",
            "vroundps xmm1,[rdi],1",
            "vpsllw xmm1,xmm1,3",
            "vpsrldq xmm1,xmm1,8",
            "vpinsrb xmm1,xmm1,ecx,5",
            "vpinsrq xmm1,xmm1,rcx,1",
            "vpextrw ecx,xmm1,3",
            "vpextrd ecx,xmm1,2",
            "vpextrb [rdi],xmm1,7",
            "vpmovmskb ecx,xmm1",
            "vpblendvb xmm1,xmm1,xmm2,xmm0",
            "vblendvps xmm1,xmm1,[rdi],xmm0",
            "vptest xmm1,xmm2",
            "vpand xmm1,xmm1,[rdi]",
        ]
    );
}

#[test]
fn every_chooser_emits_the_legacy_form_without_avx() {
    // (The decoder leaves the legacy blends' implicit xmm0 unwritten.)
    let sse = CpuFeatures::all().without(Feature::Avx);
    assert_eq!(
        every_chooser(sse),
        [
            "pmovsxbw xmm1,xmm2",
            "sqrtps xmm1,[rdi]",
            "shufps xmm1,xmm2,3",
            "palignr xmm1,[rdi],5",
            "pshufd xmm1,xmm2,3",
            "roundps xmm1,[rdi],1",
            "psllw xmm1,3",
            "psrldq xmm1,8",
            "pinsrb xmm1,ecx,5",
            "pinsrq xmm1,rcx,1",
            "pextrw ecx,xmm1,3",
            "pextrd ecx,xmm1,2",
            "pextrb [rdi],xmm1,7",
            "pmovmskb ecx,xmm1",
            "pblendvb xmm1,xmm2",
            "blendvps xmm1,[rdi]",
            "ptest xmm1,xmm2",
            "pand xmm1,[rdi]",
        ]
    );
}

#[test]
fn every_declared_twin_is_chosen_under_avx_and_only_then() {
    let avx = CpuFeatures::all();
    let sse = avx.without(Feature::Avx);
    let (x1, x2) = (Xmm::XMM1, Xmm::XMM2);
    let mnemonic = |features, emit: &dyn Fn(&mut Assembler)| {
        let mut asm = Assembler::new(features);
        emit(&mut asm);
        let code = asm.finish().expect("assembles");
        let decoded = common::decode(code.code(), 0);
        assert_eq!(decoded.len(), 1, "{}", common::listing(code.code(), 0));
        name(decoded[0].mnemonic())
    };
    let mut checked = 0;
    let mut check = |legacy: &str, vex: Option<&str>, emit: &dyn Fn(&mut Assembler)| {
        assert_eq!(mnemonic(sse, emit), legacy);
        assert_eq!(mnemonic(avx, emit), vex.unwrap_or(legacy), "{legacy}");
        checked += 1;
    };
    let mem = memory();
    for op in SseOp::ALL {
        let vex = op.vex().map(|v| v.mnemonic());
        check(op.mnemonic(), vex, &|a| a.packed(op, x1, x1, &mem));
    }
    for op in SseUnaryOp::ALL {
        let vex = op.vex().map(|v| v.mnemonic());
        check(op.mnemonic(), vex, &|a| a.packed_unary(op, x1, &mem));
    }
    for op in SseImmOp::ALL {
        let vex = op.vex().map(|v| v.mnemonic());
        check(op.mnemonic(), vex, &|a| a.packed_imm(op, x1, &mem, 1));
    }
    for op in SseUnaryImmOp::ALL {
        let vex = op.vex().map(|v| v.mnemonic());
        check(op.mnemonic(), vex, &|a| a.packed_unary_imm(op, x1, &mem, 1));
    }
    for op in SseShiftImmOp::ALL {
        let vex = op.vex().map(|v| v.mnemonic());
        check(op.mnemonic(), vex, &|a| a.packed_shift_imm(op, x1, 1));
    }
    for op in SseInsertOp::ALL {
        let vex = op.vex().map(|v| v.mnemonic());
        let src = GprMem::Gpr(Gpr::RCX);
        check(op.mnemonic(), vex, &|a| a.packed_insert(op, x1, &src, 1));
    }
    for op in SseExtractOp::ALL {
        let vex = op.vex().map(|v| v.mnemonic());
        check(op.mnemonic(), vex, &|a| {
            a.packed_extract(op, Gpr::RCX, x1, 1)
        });
        let dst = Amode::base(Gpr::RDI, 0);
        check(op.mnemonic(), vex, &|a| {
            a.packed_extract_mem(op, &dst, x1, 1)
        });
    }
    for op in SseMoveMaskOp::ALL {
        let vex = op.vex().map(|v| v.mnemonic());
        check(op.mnemonic(), vex, &|a| {
            a.packed_move_mask(op, Gpr::RCX, x1)
        });
    }
    for op in SseBlendvOp::ALL {
        let vex = op.vex().map(|v| v.mnemonic());
        check(op.mnemonic(), vex, &|a| {
            a.packed_blendv(op, x1, &XmmMem::Xmm(x2))
        });
    }
    for op in SseTestOp::ALL {
        let vex = op.vex().map(|v| v.mnemonic());
        check(op.mnemonic(), vex, &|a| a.packed_test(op, x1, &mem));
    }
    assert!(checked > 180, "only {checked} forms");
}

#[test]
fn packed_under_avx_takes_memory_of_any_alignment() {
    let avx = CpuFeatures::all();
    let (x1, x2) = (Xmm::XMM1, Xmm::XMM2);
    let unaligned = XmmMem::Mem(Amode::base(Gpr::RSP, 3));
    assert_eq!(
        listing(avx, |a| {
            a.packed(SseOp::Paddd, x1, x2, &unaligned);
            a.packed(SseOp::Paddd, x1, x1, &memory());
            a.packed_unary(SseUnaryOp::Pabsd, x1, &unaligned);
            a.packed_imm(SseImmOp::Shufps, x1, &unaligned, 3);
            a.packed_unary_imm(SseUnaryImmOp::Pshufd, x1, &unaligned, 3);
            a.packed_blendv(SseBlendvOp::Pblendvb, x1, &unaligned);
            a.packed_test(SseTestOp::Ptest, x1, &unaligned);
        }),
        [
            "vpaddd xmm1,xmm2,[rsp+3]",
            "vpaddd xmm1,xmm1,[rdi]",
            "vpabsd xmm1,[rsp+3]",
            "vshufps xmm1,xmm1,[rsp+3],3",
            "vpshufd xmm1,[rsp+3],3",
            "vpblendvb xmm1,xmm1,[rsp+3],xmm0",
            "vptest xmm1,[rsp+3]",
        ]
    );
    // Without AVX the same unaligned operand is refused.
    let sse = avx.without(Feature::Avx);
    let error = refused(sse, |a| a.packed_unary(SseUnaryOp::Pabsd, x1, &unaligned));
    assert!(matches!(
        error,
        AsmError::InvalidOperand {
            mnemonic: "pabsd",
            ..
        }
    ));
}
