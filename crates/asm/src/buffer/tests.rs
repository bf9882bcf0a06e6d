//! Tests of the MachBuffer against a toy ISA with a short-range branch (so
//! islands and veneers are exercised) and an interpreter for it (so
//! rewrites are checked by executing the code, not only by its bytes).
//!
//! The toy ISA:
//!
//! ```text
//!   90          nop
//!   B0 n        mark n          (appends n to the trace; sets the flag from the oracle)
//!   C3          ret
//!   0F 0B       trap
//!   E0 rel8     jmp  rel8       (displacement from the end of the instruction)
//!   E1 rel8     jf   rel8       (jump if the flag is set)
//!   E2 rel8     jnf  rel8       (jump if the flag is clear; E1 inverted)
//!   E9 rel32    jmp  rel32      (the veneer of rel8)
//!   8B rel32    load rel32      (reads a constant; a no-op when executed)
//! ```

use super::*;

struct Toy;

const NOP: u8 = 0x90;
const MARK: u8 = 0xB0;
const RET: u8 = 0xC3;
const JMP8: u8 = 0xE0;
const JF8: u8 = 0xE1;
const JNF8: u8 = 0xE2;
const JMP32: u8 = 0xE9;
const LOAD32: u8 = 0x8B;
const TRAP: [u8; 2] = [0x0F, 0x0B];

#[derive(Copy, Clone, PartialEq, Eq, Debug)]
enum ToyUse {
    /// A signed byte, relative to the end of the field.
    Rel8,
    /// A signed 32-bit field, relative to the end of the field; no veneer.
    Rel32,
}

impl LabelUse for ToyUse {
    fn max_pos_range(self) -> CodeOffset {
        match self {
            ToyUse::Rel8 => 128,
            ToyUse::Rel32 => 0x7fff_0000,
        }
    }
    fn max_neg_range(self) -> CodeOffset {
        match self {
            ToyUse::Rel8 => 127,
            ToyUse::Rel32 => 0x7fff_0000,
        }
    }
    fn patch_size(self) -> CodeOffset {
        match self {
            ToyUse::Rel8 => 1,
            ToyUse::Rel32 => 4,
        }
    }
    fn patch(self, field: &mut [u8], use_offset: CodeOffset, label_offset: CodeOffset) {
        let displacement = i64::from(label_offset) - i64::from(use_offset + self.patch_size());
        match self {
            ToyUse::Rel8 => field[0] = i8::try_from(displacement).expect("rel8 in range") as u8,
            ToyUse::Rel32 => {
                let displacement = i32::try_from(displacement).expect("rel32 in range");
                field.copy_from_slice(&displacement.to_le_bytes());
            }
        }
    }
    fn veneer_size(self) -> Option<CodeOffset> {
        match self {
            ToyUse::Rel8 => Some(5),
            ToyUse::Rel32 => None,
        }
    }
    fn worst_case_veneer_size() -> CodeOffset {
        5
    }
    fn generate_veneer(self, veneer: &mut [u8], _veneer_offset: CodeOffset) -> (CodeOffset, Self) {
        veneer.copy_from_slice(&[JMP32, 0, 0, 0, 0]);
        (1, ToyUse::Rel32)
    }
}

impl MachTarget for Toy {
    type LabelUse = ToyUse;
    const TRAP_INSTRUCTION: &'static [u8] = &TRAP;
    const PADDING_BYTE: u8 = 0xCC;
    const FUNCTION_ALIGNMENT: u32 = 16;
}

type Buffer = MachBuffer<Toy>;

// ---- a toy assembler ----

fn nop(buf: &mut Buffer) {
    buf.put_bytes(&[NOP]);
}

fn mark(buf: &mut Buffer, n: u8) {
    buf.put_bytes(&[MARK, n]);
}

/// `jmp target`: a pre-encoded rel8 when `target` is bound within reach
/// behind (as x64 does), else rel8 with a fix-up.
fn jmp(buf: &mut Buffer, target: Label) {
    match short_backward_displacement(buf, target) {
        Some(rel) => buf.put_uncond_branch(&[JMP8, rel as u8], target, None),
        None => buf.put_uncond_branch(&[JMP8, 0], target, Some((1, ToyUse::Rel8))),
    }
}

/// `jmp target` with a rel32 fix-up.
fn jmp32(buf: &mut Buffer, target: Label) {
    buf.put_uncond_branch(&[JMP32, 0, 0, 0, 0], target, Some((1, ToyUse::Rel32)));
}

/// `jf target` (or `jnf` when `if_set` is false).
fn jcc(buf: &mut Buffer, if_set: bool, target: Label) {
    let (opcode, inverted) = if if_set { (JF8, JNF8) } else { (JNF8, JF8) };
    match short_backward_displacement(buf, target) {
        Some(rel) => buf.put_cond_branch(
            &[opcode, rel as u8],
            Some(&[inverted, rel as u8]),
            target,
            None,
        ),
        None => buf.put_cond_branch(
            &[opcode, 0],
            Some(&[inverted, 0]),
            target,
            Some((1, ToyUse::Rel8)),
        ),
    }
}

fn short_backward_displacement(buf: &Buffer, target: Label) -> Option<i8> {
    let at = buf.label_offset(target)?;
    let end = buf.cur_offset() + 2;
    i8::try_from(i64::from(at) - i64::from(end)).ok()
}

fn bind(buf: &mut Buffer, label: Label) {
    buf.bind_label(label).expect("bound once");
}

fn labels(buf: &mut Buffer, n: usize) -> Vec<Label> {
    (0..n).map(|_| buf.new_label()).collect()
}

fn trap_code(n: u8) -> TrapCode {
    TrapCode::from_u8(n).unwrap()
}

/// Emits the jump over an island and the island, the way an ISA does.
fn island(buf: &mut Buffer, distance: CodeOffset) {
    let after = buf.new_label();
    jmp32(buf, after);
    buf.emit_island(distance);
    bind(buf, after);
}

// ---- the interpreter ----

#[derive(Clone, Debug, PartialEq, Eq)]
enum Exit {
    Returned,
    Trapped(TrapCode),
    /// Ran out of steps or markers (an endless loop, or a long run).
    OutOfFuel,
}

/// Runs toy code from offset 0. The flag starts clear; each `mark` sets it
/// from `oracle(number of marks executed so far)`, so every conditional
/// branch between two marks sees the same flag however the branches between
/// them were rewritten.
fn run(code: &FinishedCode, oracle: impl Fn(usize) -> bool) -> (Vec<u8>, Exit) {
    let bytes = code.code();
    let mut trace = Vec::new();
    let (mut pc, mut flag) = (0usize, false);
    let rel8 = |pc: usize| i64::from(bytes[pc + 1] as i8);
    let jump =
        |pc: usize, len: usize, rel: i64| usize::try_from(pc as i64 + len as i64 + rel).unwrap();
    for _ in 0..200_000 {
        if trace.len() >= 500 {
            break;
        }
        match bytes[pc] {
            NOP => pc += 1,
            MARK => {
                trace.push(bytes[pc + 1]);
                flag = oracle(trace.len());
                pc += 2;
            }
            RET => return (trace, Exit::Returned),
            0x0F if bytes[pc + 1] == 0x0B => {
                let code = code
                    .trap_at(pc as u32)
                    .expect("a trap instruction has a trap record");
                return (trace, Exit::Trapped(code));
            }
            JMP8 => pc = jump(pc, 2, rel8(pc)),
            JF8 | JNF8 => {
                let taken = flag == (bytes[pc] == JF8);
                pc = if taken { jump(pc, 2, rel8(pc)) } else { pc + 2 };
            }
            JMP32 => {
                let rel = i32::from_le_bytes(bytes[pc + 1..pc + 5].try_into().unwrap());
                pc = jump(pc, 5, i64::from(rel));
            }
            LOAD32 => pc += 5,
            other => panic!("executed {other:#04x} at {pc:#x}, which is not an instruction"),
        }
    }
    (trace, Exit::OutOfFuel)
}

fn finish(buf: Buffer) -> FinishedCode {
    buf.finish().expect("no errors")
}

// ---- rule 1: a branch to the next instruction ----

#[test]
fn rule1_removes_jump_to_next_instruction() {
    let mut buf = Buffer::new();
    let [a, next] = labels(&mut buf, 2)[..] else {
        unreachable!()
    };
    bind(&mut buf, a);
    nop(&mut buf);
    jmp(&mut buf, next);
    bind(&mut buf, next);
    buf.put_bytes(&[RET]);
    let code = finish(buf);
    assert_eq!(code.code(), &[NOP, RET]);
    assert_eq!(code.label_offset(next), Some(1));
}

#[test]
fn branches_to_a_padded_label_are_removed_before_the_padding() {
    // A loop header aligned with padding: the jump into it from just above
    // goes, and execution falls through the padding; a jump elsewhere and
    // a label at the branch stay right.
    let mut buf = Buffer::new();
    let [other, header] = labels(&mut buf, 2)[..] else {
        unreachable!()
    };
    mark(&mut buf, 1);
    jcc(&mut buf, true, other);
    jmp(&mut buf, header);
    buf.elide_branches_to(header);
    nop(&mut buf);
    nop(&mut buf);
    bind(&mut buf, header);
    mark(&mut buf, 2);
    buf.put_bytes(&[RET]);
    bind(&mut buf, other);
    mark(&mut buf, 3);
    buf.put_bytes(&[RET]);
    let code = finish(buf);
    assert_eq!(
        code.code()[..6],
        [MARK, 1, JF8, 5, NOP, NOP],
        "the jump to the header is gone: {:x?}",
        code.code()
    );
    assert_eq!(run(&code, |_| false).0, [1, 2]);
    assert_eq!(run(&code, |_| true).0, [1, 3]);
}

#[test]
fn rule1_removes_conditional_branch_to_next_instruction() {
    let mut buf = Buffer::new();
    let next = buf.new_label();
    nop(&mut buf);
    jcc(&mut buf, true, next);
    bind(&mut buf, next);
    buf.put_bytes(&[RET]);
    assert_eq!(finish(buf).code(), &[NOP, RET]);
}

#[test]
fn rule1_moves_labels_at_the_tail_and_at_the_branch() {
    let mut buf = Buffer::new();
    let [at_branch, next, later] = labels(&mut buf, 3)[..] else {
        unreachable!()
    };
    mark(&mut buf, 1);
    bind(&mut buf, at_branch);
    jcc(&mut buf, false, next);
    bind(&mut buf, next);
    // Both labels now sit where the branch was: offset 2, the tail.
    assert_eq!(buf.label_offset(at_branch), Some(2));
    assert_eq!(buf.label_offset(next), Some(2));
    assert_eq!(buf.cur_offset(), 2);
    // A label bound after the truncation joins them at the tail.
    bind(&mut buf, later);
    buf.put_bytes(&[RET]);
    let code = finish(buf);
    assert_eq!(code.code(), &[MARK, 1, RET]);
    for label in [at_branch, next, later] {
        assert_eq!(code.label_offset(label), Some(2));
    }
}

#[test]
fn rule1_repeats_over_a_chain_of_branches_to_the_tail() {
    let mut buf = Buffer::new();
    let next = buf.new_label();
    jmp(&mut buf, next);
    jcc(&mut buf, true, next);
    jmp(&mut buf, next);
    bind(&mut buf, next);
    buf.put_bytes(&[RET]);
    assert_eq!(finish(buf).code(), &[RET]);
}

// ---- rule 2: labels at an unconditional jump become aliases ----

#[test]
fn rule2_aliases_label_at_jump_to_the_jump_target() {
    let mut buf = Buffer::new();
    let [entry, target, trampoline, after] = labels(&mut buf, 4)[..] else {
        unreachable!()
    };
    bind(&mut buf, entry);
    jmp(&mut buf, trampoline); // goes through the trampoline at first
    mark(&mut buf, 1);
    bind(&mut buf, trampoline);
    jmp(&mut buf, target);
    bind(&mut buf, after);
    // `trampoline` is now an alias of `target`, not bound at the jump.
    assert_eq!(buf.label_offset(trampoline), None);
    mark(&mut buf, 2);
    bind(&mut buf, target);
    buf.put_bytes(&[RET]);
    let code = finish(buf);
    assert_eq!(code.label_offset(trampoline), code.label_offset(target));
    // The first jump goes straight to `target`: no mark is executed.
    assert_eq!(run(&code, |_| false), (vec![], Exit::Returned));
    assert_eq!(
        code.code()[1] as i8,
        6,
        "jmp +6 lands on `target` at offset 8"
    );
}

#[test]
fn rule2_aliases_chain_through_several_jumps() {
    let mut buf = Buffer::new();
    let [first, second, target, after1, after2] = labels(&mut buf, 5)[..] else {
        unreachable!()
    };
    jmp(&mut buf, first);
    mark(&mut buf, 9);
    bind(&mut buf, first);
    jmp(&mut buf, second);
    bind(&mut buf, after1);
    mark(&mut buf, 8);
    bind(&mut buf, second);
    jmp(&mut buf, target);
    bind(&mut buf, after2);
    mark(&mut buf, 7);
    bind(&mut buf, target);
    mark(&mut buf, 1);
    buf.put_bytes(&[RET]);
    let code = finish(buf);
    let target_offset = code.label_offset(target).unwrap();
    assert_eq!(code.label_offset(first), Some(target_offset));
    assert_eq!(code.label_offset(second), Some(target_offset));
    assert_eq!(run(&code, |_| false), (vec![1], Exit::Returned));
}

#[test]
fn rule2_does_not_alias_a_self_loop() {
    let mut buf = Buffer::new();
    let [top, after] = labels(&mut buf, 2)[..] else {
        unreachable!()
    };
    bind(&mut buf, top);
    jmp(&mut buf, top); // pre-encoded: jmp -2
    bind(&mut buf, after);
    buf.put_bytes(&[RET]);
    assert_eq!(buf.label_offset(top), Some(0));
    let code = finish(buf);
    assert_eq!(code.code(), &[JMP8, (-2i8) as u8, RET]);
    assert_eq!(run(&code, |_| false).1, Exit::OutOfFuel);
}

#[test]
fn rule2_does_not_alias_a_loop_through_another_label_at_the_jump() {
    let mut buf = Buffer::new();
    let [a, b, after] = labels(&mut buf, 3)[..] else {
        unreachable!()
    };
    bind(&mut buf, a);
    bind(&mut buf, b);
    jmp(&mut buf, b);
    bind(&mut buf, after);
    buf.put_bytes(&[RET]);
    assert_eq!(buf.label_offset(a), Some(0));
    assert_eq!(buf.label_offset(b), Some(0));
    assert_eq!(finish(buf).code(), &[JMP8, (-2i8) as u8, RET]);
}

#[test]
fn rule2_does_not_alias_into_a_cycle_of_forward_labels() {
    // a: jmp b ; b: jmp a  — aliasing both would make a cycle.
    let mut buf = Buffer::new();
    let [a, b, after] = labels(&mut buf, 3)[..] else {
        unreachable!()
    };
    bind(&mut buf, a);
    jmp(&mut buf, b);
    bind(&mut buf, b); // rule 1 removes `jmp b`; a and b now at 0
    jmp(&mut buf, a); // self-loop on {a, b}
    bind(&mut buf, after);
    buf.put_bytes(&[RET]);
    let code = finish(buf);
    assert_eq!(code.code(), &[JMP8, (-2i8) as u8, RET]);
    assert_eq!(code.label_offset(a), Some(0));
    assert_eq!(code.label_offset(b), Some(0));
}

// ---- rule 3: an unconditional jump after another ----

#[test]
fn rule3_removes_jump_after_jump() {
    let mut buf = Buffer::new();
    let [x, y, after] = labels(&mut buf, 3)[..] else {
        unreachable!()
    };
    bind(&mut buf, x);
    mark(&mut buf, 1);
    jmp(&mut buf, y);
    jmp(&mut buf, x);
    bind(&mut buf, after);
    bind(&mut buf, y);
    buf.put_bytes(&[RET]);
    // `jmp x` is unreachable and removed; then `jmp y` jumps to the next
    // instruction and is removed too.
    assert_eq!(finish(buf).code(), &[MARK, 1, RET]);
}

#[test]
fn rule3_removes_a_jump_once_rule2_aliased_its_label() {
    let mut buf = Buffer::new();
    let [x, y, reached, after] = labels(&mut buf, 4)[..] else {
        unreachable!()
    };
    bind(&mut buf, x);
    mark(&mut buf, 1);
    jcc(&mut buf, true, reached);
    mark(&mut buf, 3);
    jmp(&mut buf, y);
    bind(&mut buf, reached);
    jmp(&mut buf, x);
    // Binding `after`: rule 2 makes `reached` an alias of `x`, so `jmp x`
    // has no label left and follows `jmp y`: rule 3 removes it.
    bind(&mut buf, after);
    mark(&mut buf, 2);
    bind(&mut buf, y);
    buf.put_bytes(&[RET]);
    let code = finish(buf);
    assert_eq!(
        code.code(),
        &[MARK, 1, JF8, (-4i8) as u8, MARK, 3, JMP8, 2, MARK, 2, RET]
    );
    // The jcc now goes straight to `x`.
    assert_eq!(code.label_offset(reached), Some(0));
    assert_eq!(run(&code, |n| n < 3), (vec![1, 1, 1, 3], Exit::Returned));
}

#[test]
fn rule4_then_rule2_on_a_jump_after_a_folded_branch() {
    // jf r; jmp y; r: jmp x  — binding `r` folds the first two into `jnf y`
    // (rule 4); then `r` at `jmp x` becomes an alias of `x` (rule 2). The
    // jump stays: the conditional before it falls through into it.
    let mut buf = Buffer::new();
    let [x, y, r, after] = labels(&mut buf, 4)[..] else {
        unreachable!()
    };
    bind(&mut buf, x);
    mark(&mut buf, 1);
    jcc(&mut buf, true, r);
    jmp(&mut buf, y);
    bind(&mut buf, r);
    jmp(&mut buf, x);
    bind(&mut buf, after);
    mark(&mut buf, 2);
    bind(&mut buf, y);
    buf.put_bytes(&[RET]);
    let code = finish(buf);
    assert_eq!(
        code.code(),
        &[MARK, 1, JNF8, 4, JMP8, (-6i8) as u8, MARK, 2, RET]
    );
    assert_eq!(run(&code, |n| n < 3), (vec![1, 1, 1], Exit::Returned));
}

#[test]
fn rule3_keeps_a_self_loop_after_a_jump() {
    // jmp a; l: jmp l — `l` cannot be aliased (self-loop), so the second
    // jump keeps its label and stays.
    let mut buf = Buffer::new();
    let [a, l, after] = labels(&mut buf, 3)[..] else {
        unreachable!()
    };
    jmp(&mut buf, a);
    bind(&mut buf, l);
    jmp(&mut buf, l);
    bind(&mut buf, after);
    bind(&mut buf, a);
    buf.put_bytes(&[RET]);
    let code = finish(buf);
    assert_eq!(code.code(), &[JMP8, 2, JMP8, (-2i8) as u8, RET]);
    assert_eq!(code.label_offset(l), Some(2));
}

// ---- rule 4: conditional branch over a jump ----

#[test]
fn rule4_folds_conditional_branch_over_jump() {
    let mut buf = Buffer::new();
    let [skip, far, after_far] = labels(&mut buf, 3)[..] else {
        unreachable!()
    };
    mark(&mut buf, 1);
    jcc(&mut buf, true, skip);
    jmp(&mut buf, far);
    bind(&mut buf, skip);
    mark(&mut buf, 2);
    buf.put_bytes(&[RET]);
    bind(&mut buf, far);
    mark(&mut buf, 3);
    bind(&mut buf, after_far);
    buf.put_bytes(&[RET]);
    let code = finish(buf);
    // jf skip; jmp far  ==>  jnf far
    assert_eq!(code.code(), &[MARK, 1, JNF8, 3, MARK, 2, RET, MARK, 3, RET]);
    assert_eq!(code.label_offset(skip), Some(4));
    assert_eq!(run(&code, |_| true), (vec![1, 2], Exit::Returned));
    assert_eq!(run(&code, |_| false), (vec![1, 3], Exit::Returned));
}

#[test]
fn rule4_inverts_backward_jump_target() {
    // The unconditional jump was pre-encoded backward; the folded branch
    // gets a fix-up to that target instead.
    let mut buf = Buffer::new();
    let [top, skip] = labels(&mut buf, 2)[..] else {
        unreachable!()
    };
    bind(&mut buf, top);
    mark(&mut buf, 1);
    jcc(&mut buf, false, skip);
    jmp(&mut buf, top);
    bind(&mut buf, skip);
    buf.put_bytes(&[RET]);
    let code = finish(buf);
    assert_eq!(code.code(), &[MARK, 1, JF8, (-4i8) as u8, RET]);
    assert_eq!(run(&code, |n| n < 4), (vec![1, 1, 1, 1], Exit::Returned));
}

#[test]
fn rule4_does_not_fire_when_the_jump_is_reachable_by_a_label() {
    let mut buf = Buffer::new();
    let [skip, far, named, after] = labels(&mut buf, 4)[..] else {
        unreachable!()
    };
    mark(&mut buf, 1);
    jcc(&mut buf, true, skip);
    jmp(&mut buf, named);
    bind(&mut buf, far);
    mark(&mut buf, 3);
    buf.put_bytes(&[RET]);
    // A labelled jump: rule 2 aliases `named`; then the label list is
    // empty but rule 4 needs a conditional branch right before: `jmp far`
    // follows `ret`, not a branch.
    bind(&mut buf, named);
    jmp(&mut buf, far);
    bind(&mut buf, after);
    bind(&mut buf, skip);
    mark(&mut buf, 2);
    buf.put_bytes(&[RET]);
    let code = finish(buf);
    assert_eq!(run(&code, |_| true), (vec![1, 2], Exit::Returned));
    assert_eq!(run(&code, |_| false), (vec![1, 3], Exit::Returned));
}

#[test]
fn rule4_does_not_fire_when_conditional_does_not_jump_over() {
    // jf elsewhere; jmp far; skip:  — the conditional goes elsewhere, so the
    // jump is reachable by fall-through and must stay.
    let mut buf = Buffer::new();
    let [elsewhere, far, skip] = labels(&mut buf, 3)[..] else {
        unreachable!()
    };
    mark(&mut buf, 1);
    jcc(&mut buf, true, elsewhere);
    jmp(&mut buf, far);
    bind(&mut buf, skip);
    mark(&mut buf, 2);
    buf.put_bytes(&[RET]);
    bind(&mut buf, far);
    mark(&mut buf, 3);
    buf.put_bytes(&[RET]);
    bind(&mut buf, elsewhere);
    mark(&mut buf, 4);
    buf.put_bytes(&[RET]);
    let code = finish(buf);
    assert_eq!(&code.code()[2..6], &[JF8, 8, JMP8, 3]);
    assert_eq!(run(&code, |_| true), (vec![1, 4], Exit::Returned));
    assert_eq!(run(&code, |_| false), (vec![1, 3], Exit::Returned));
}

#[test]
fn rule4_does_not_fire_without_inverted_encoding() {
    let mut buf = Buffer::new();
    let [skip, far] = labels(&mut buf, 2)[..] else {
        unreachable!()
    };
    buf.put_cond_branch(&[JF8, 0], None, skip, Some((1, ToyUse::Rel8)));
    jmp(&mut buf, far);
    bind(&mut buf, skip);
    bind(&mut buf, far);
    buf.put_bytes(&[RET]);
    // Rule 4 cannot fire, but rule 1 removes both once `far` is the tail.
    assert_eq!(finish(buf).code(), &[RET]);

    let mut buf = Buffer::new();
    let [skip, far] = labels(&mut buf, 2)[..] else {
        unreachable!()
    };
    buf.put_cond_branch(&[JF8, 0], None, skip, Some((1, ToyUse::Rel8)));
    jmp(&mut buf, far);
    bind(&mut buf, skip);
    buf.put_bytes(&[RET]);
    bind(&mut buf, far);
    buf.put_bytes(&[RET]);
    assert_eq!(finish(buf).code(), &[JF8, 2, JMP8, 1, RET, RET]);
}

#[test]
fn rule4_does_not_fold_a_self_loop_jump() {
    // jf skip; L: jmp L; skip:  — `L` at the jump makes it labelled, so
    // rules 3 and 4 must leave it (it is the not-taken path's endless loop).
    let mut buf = Buffer::new();
    let [skip, lp] = labels(&mut buf, 2)[..] else {
        unreachable!()
    };
    mark(&mut buf, 1);
    jcc(&mut buf, true, skip);
    bind(&mut buf, lp);
    jmp(&mut buf, lp);
    bind(&mut buf, skip);
    mark(&mut buf, 2);
    buf.put_bytes(&[RET]);
    let code = finish(buf);
    assert_eq!(run(&code, |_| true), (vec![1, 2], Exit::Returned));
    assert_eq!(run(&code, |_| false), (vec![1], Exit::OutOfFuel));
}

#[test]
fn simplification_off_leaves_bytes_untouched() {
    let emit = |simplify: bool| {
        let mut buf = Buffer::new();
        buf.set_branch_simplification(simplify);
        let [next, skip, far, x, y] = labels(&mut buf, 5)[..] else {
            unreachable!()
        };
        jmp(&mut buf, next);
        bind(&mut buf, next);
        jcc(&mut buf, true, skip);
        jmp(&mut buf, far);
        bind(&mut buf, skip);
        bind(&mut buf, x);
        jmp(&mut buf, y);
        jmp(&mut buf, x);
        bind(&mut buf, far);
        bind(&mut buf, y);
        buf.put_bytes(&[RET]);
        finish(buf)
    };
    let plain = emit(false);
    assert_eq!(
        plain.code(),
        &[JMP8, 0, JF8, 2, JMP8, 4, JMP8, 2, JMP8, (-4i8) as u8, RET]
    );
    assert!(emit(true).code().len() < plain.code().len());
}

// ---- errors ----

#[test]
fn binding_a_label_twice_is_an_error() {
    let mut buf = Buffer::new();
    let l = buf.new_label();
    buf.bind_label(l).unwrap();
    nop(&mut buf);
    assert_eq!(buf.bind_label(l), Err(BufferError::LabelBoundTwice(l)));
    assert_eq!(buf.finish().unwrap_err(), BufferError::LabelBoundTwice(l));
}

#[test]
fn binding_an_aliased_label_again_is_an_error() {
    let mut buf = Buffer::new();
    let [l, target, after] = labels(&mut buf, 3)[..] else {
        unreachable!()
    };
    bind(&mut buf, l);
    jmp(&mut buf, target);
    bind(&mut buf, after); // aliases `l`
    assert_eq!(buf.bind_label(l), Err(BufferError::LabelBoundTwice(l)));
}

#[test]
fn used_unbound_label_is_an_error_at_finish() {
    let mut buf = Buffer::new();
    let l = buf.new_label();
    jmp(&mut buf, l);
    buf.put_bytes(&[RET]);
    assert_eq!(buf.finish().unwrap_err(), BufferError::UnboundLabel(l));
}

#[test]
fn unused_unbound_label_is_fine() {
    let mut buf = Buffer::new();
    let l = buf.new_label();
    buf.put_bytes(&[RET]);
    let code = finish(buf);
    assert_eq!(code.code(), &[RET]);
    assert_eq!(code.label_offset(l), None);
}

#[test]
fn out_of_range_without_veneer_is_an_error() {
    // A rel32 use has no veneer. Register one whose field is (as far as the
    // buffer can tell) almost 2 GiB past its label.
    let mut buf = Buffer::new();
    let target = buf.new_label();
    buf.put_bytes(&[LOAD32, 0, 0, 0, 0]);
    buf.use_label_at_offset(0x7fff_ff00, target, ToyUse::Rel32);
    bind(&mut buf, target);
    assert_eq!(
        buf.finish().unwrap_err(),
        BufferError::OutOfRange {
            use_offset: 0x7fff_ff00,
            label: target,
            label_offset: 5
        }
    );
}

#[test]
fn veneer_out_of_reach_of_its_use_is_an_error() {
    // A rel8 use that an island comes too late for: the veneer cannot be
    // reached either.
    let mut buf = Buffer::new();
    let target = buf.new_label();
    bind(&mut buf, target);
    buf.put_bytes(&[NOP; 200]);
    buf.put_bytes(&[JMP8, 0]);
    buf.use_label_at_offset(201, target, ToyUse::Rel8); // 201 bytes behind
    buf.put_bytes(&[NOP; 200]);
    buf.put_bytes(&[RET]);
    assert_eq!(
        buf.finish().unwrap_err(),
        BufferError::OutOfRange {
            use_offset: 201,
            label: target,
            label_offset: 0
        }
    );
}

// ---- islands and veneers ----

#[test]
fn island_needed_tracks_the_rel8_deadline() {
    let mut buf = Buffer::new();
    let l = buf.new_label();
    assert!(!buf.island_needed(1000));
    jmp(&mut buf, l); // field at 1: deadline 129, worst case 5
    assert!(!buf.island_needed(100)); // 2 + 100 + 5 <= 129
    assert!(buf.island_needed(123)); // 2 + 123 + 5 > 129
}

#[test]
fn forward_out_of_range_use_gets_a_veneer_in_an_island() {
    let mut buf = Buffer::new();
    let [far, after] = labels(&mut buf, 2)[..] else {
        unreachable!()
    };
    mark(&mut buf, 1);
    jcc(&mut buf, true, far);
    mark(&mut buf, 2);
    buf.put_bytes(&[NOP; 100]);
    assert!(buf.island_needed(100));
    island(&mut buf, 100);
    assert!(!buf.island_needed(100));
    buf.put_bytes(&[NOP; 100]);
    buf.put_bytes(&[RET]);
    bind(&mut buf, far);
    mark(&mut buf, 3);
    bind(&mut buf, after);
    buf.put_bytes(&[RET]);
    let code = finish(buf);
    // The island (after `jmp32 after_island` at 106) holds one veneer at 111.
    assert_eq!(code.code()[111], JMP32);
    assert_eq!(code.code()[3] as i8, 111 - 4);
    assert_eq!(run(&code, |_| true), (vec![1, 3], Exit::Returned));
    assert_eq!(run(&code, |_| false), (vec![1, 2], Exit::Returned));
}

#[test]
fn backward_out_of_range_use_gets_a_veneer() {
    // A rel8 branch back over 200 bytes: the veneer goes to the next island
    // (or the end), where a rel32 jump reaches the label.
    let mut buf = Buffer::new();
    let top = buf.new_label();
    bind(&mut buf, top);
    mark(&mut buf, 1);
    buf.put_bytes(&[NOP; 200]);
    buf.put_cond_branch(&[JF8, 0], Some(&[JNF8, 0]), top, Some((1, ToyUse::Rel8)));
    // Bound but out of reach: the veneer may wait until the use's forward
    // deadline (203 + 128), less the worst-case veneer.
    assert!(!buf.island_needed(100));
    assert!(buf.island_needed(130));
    island(&mut buf, 16);
    assert!(!buf.island_needed(16));
    // The island right after the branch: jmp32 at 204, the veneer at 209.
    assert_eq!(buf.data()[209], JMP32);
    buf.put_bytes(&[RET]);
    let code = finish(buf);
    assert_eq!(run(&code, |n| n < 3), (vec![1, 1, 1], Exit::Returned));
}

#[test]
fn backward_out_of_range_use_gets_a_veneer_at_the_end() {
    let mut buf = Buffer::new();
    let top = buf.new_label();
    bind(&mut buf, top);
    mark(&mut buf, 1);
    buf.put_bytes(&[NOP; 120]);
    buf.put_bytes(&[RET]);
    buf.put_bytes(&[NOP; 60]);
    buf.put_bytes(&[JMP8, 0]);
    buf.use_label_at_offset(buf.cur_offset() - 1, top, ToyUse::Rel8);
    let code = finish(buf);
    let veneer = code.code().len() - 5;
    assert_eq!(code.code()[veneer], JMP32);
    let rel = i32::from_le_bytes(code.code()[veneer + 1..].try_into().unwrap());
    assert_eq!(veneer as i64 + 5 + i64::from(rel), 0);
}

#[test]
fn pending_use_that_can_wait_stays_pending_through_an_island() {
    let mut buf = Buffer::new();
    let [near, far] = labels(&mut buf, 2)[..] else {
        unreachable!()
    };
    buf.put_bytes(&[NOP; 60]);
    jmp(&mut buf, far); // deadline 61 + 128
    island(&mut buf, 10); // the use can wait: no veneer
    assert_eq!(buf.cur_offset(), 62 + 5);
    bind(&mut buf, far);
    bind(&mut buf, near);
    buf.put_bytes(&[RET]);
    let code = finish(buf);
    assert_eq!(code.code()[61], 5);
}

// ---- constants ----

#[test]
fn constants_are_deduplicated_and_aligned() {
    let mut buf = Buffer::new();
    let a = buf.add_constant(&[1, 2, 3, 4], 4);
    let b = buf.add_constant(&[1, 2, 3, 4], 4);
    let c = buf.add_constant(&[9; 8], 32);
    assert_eq!(a, b);
    assert_ne!(a, c);
    buf.put_bytes(&[RET]);
    buf.put_bytes(&[LOAD32, 0, 0, 0, 0]);
    let la = buf.constant_label(a);
    buf.use_label_at_offset(2, la, ToyUse::Rel32);
    let lc = buf.constant_label(c);
    assert_eq!(buf.constant_label(b), la);
    let code = finish(buf);
    assert_eq!(code.alignment(), 32);
    assert_eq!(code.label_offset(la), Some(8));
    assert_eq!(code.label_offset(lc), Some(32));
    assert_eq!(&code.code()[6..8], &[0xCC, 0xCC]);
    assert_eq!(&code.code()[8..12], &[1, 2, 3, 4]);
    assert_eq!(&code.code()[32..40], &[9; 8]);
    assert_eq!(code.code()[2..6], 2i32.to_le_bytes());
}

#[test]
fn asking_for_larger_alignment_raises_it() {
    let mut buf = Buffer::new();
    let a = buf.add_constant(&[7; 4], 4);
    let la = buf.constant_label(a);
    // Still pending: the same constant, now 64-aligned.
    assert_eq!(buf.add_constant(&[7; 4], 64), a);
    buf.put_bytes(&[RET]);
    island(&mut buf, 0);
    assert_eq!(buf.label_offset(la), Some(64));
    // Emitted with 64: a request for 8 reuses it, one for 128 makes a copy.
    assert_eq!(buf.add_constant(&[7; 4], 8), a);
    let copy = buf.add_constant(&[7; 4], 128);
    assert_ne!(copy, a);
    let lcopy = buf.constant_label(copy);
    let code = finish(buf);
    assert_eq!(code.label_offset(lcopy), Some(128));
    assert_eq!(code.alignment(), 128);
}

#[test]
fn unused_constants_are_not_emitted() {
    let mut buf = Buffer::new();
    buf.add_constant(&[1; 16], 16);
    buf.put_bytes(&[RET]);
    let code = finish(buf);
    assert_eq!(code.code(), &[RET]);
    assert_eq!(code.alignment(), 16);
}

// ---- traps, relocations, call sites, source locations ----

#[test]
fn deferred_traps_get_stubs_records_and_srclocs() {
    let mut buf = Buffer::new();
    buf.start_srcloc(SourceLoc(10));
    mark(&mut buf, 1);
    let t1 = buf.defer_trap(trap_code(1));
    jcc(&mut buf, true, t1);
    buf.end_srcloc();
    buf.start_srcloc(SourceLoc(20));
    let t2 = buf.defer_trap(trap_code(2));
    jcc(&mut buf, false, t2);
    buf.put_bytes(&[RET]);
    let code = finish(buf);
    assert_eq!(
        code.code(),
        &[MARK, 1, JF8, 3, JNF8, 3, RET, 0x0F, 0x0B, 0x0F, 0x0B]
    );
    assert_eq!(code.trap_at(7), Some(trap_code(1)));
    assert_eq!(code.trap_at(9), Some(trap_code(2)));
    assert_eq!(
        code.srclocs(),
        &[
            SrcLocRange {
                start: 0,
                end: 4,
                loc: SourceLoc(10)
            },
            SrcLocRange {
                start: 4,
                end: 7,
                loc: SourceLoc(20)
            },
            SrcLocRange {
                start: 7,
                end: 9,
                loc: SourceLoc(10)
            },
            SrcLocRange {
                start: 9,
                end: 11,
                loc: SourceLoc(20)
            },
        ]
    );
    assert_eq!(run(&code, |_| true), (vec![1], Exit::Trapped(trap_code(1))));
    assert_eq!(
        run(&code, |_| false),
        (vec![1], Exit::Trapped(trap_code(2)))
    );
}

#[test]
fn trap_table_is_sorted_by_offset() {
    let mut buf = Buffer::new();
    let deferred = buf.defer_trap(trap_code(3));
    buf.put_bytes(&[NOP, NOP]);
    buf.add_trap(trap_code(2));
    buf.put_bytes(&TRAP);
    buf.add_trap_at(0, trap_code(1));
    jcc(&mut buf, true, deferred);
    buf.put_bytes(&[RET]);
    let code = finish(buf);
    let offsets: Vec<_> = code
        .traps()
        .iter()
        .map(|t| (t.offset, t.code.as_u8()))
        .collect();
    assert_eq!(offsets, [(0, 1), (2, 2), (7, 3)]);
}

#[test]
fn relocations_and_call_sites_are_recorded() {
    let mut buf = Buffer::new();
    let name = ExternalName::new(0, 42);
    buf.put_bytes(&[0xE8, 0, 0, 0, 0]);
    buf.add_reloc_at_offset(1, RelocKind::CallPcRel32, name, -4);
    buf.add_call_site();
    buf.put_bytes(&[RET]);
    let code = finish(buf);
    assert_eq!(
        code.relocations(),
        &[Relocation {
            offset: 1,
            kind: RelocKind::CallPcRel32,
            target: name,
            addend: -4
        }]
    );
    assert_eq!(code.call_sites(), &[CallSite { return_offset: 5 }]);
}

#[test]
fn srcloc_ranges_are_trimmed_by_truncation() {
    let mut buf = Buffer::new();
    let next = buf.new_label();
    buf.start_srcloc(SourceLoc(1));
    nop(&mut buf);
    buf.start_srcloc(SourceLoc(2));
    jmp(&mut buf, next); // a range of its own, removed with the jump
    buf.start_srcloc(SourceLoc(3));
    jmp(&mut buf, next);
    bind(&mut buf, next);
    nop(&mut buf);
    buf.end_srcloc();
    buf.start_srcloc(SourceLoc(4)); // empty, dropped
    let code = finish(buf);
    assert_eq!(code.code(), &[NOP, NOP]);
    assert_eq!(
        code.srclocs(),
        &[
            SrcLocRange {
                start: 0,
                end: 1,
                loc: SourceLoc(1)
            },
            SrcLocRange {
                start: 1,
                end: 2,
                loc: SourceLoc(3)
            }
        ]
    );
}

#[test]
fn unwind_records_after_a_removed_branch_move_to_its_start() {
    use crate::unwind::{UnwindInst, UnwindRecord};
    let mut buf = Buffer::new();
    let next = buf.new_label();
    nop(&mut buf);
    buf.add_unwind(UnwindInst::RememberState);
    jmp(&mut buf, next);
    // Made at the jump's end; the jump goes, so they describe offset 1.
    buf.add_unwind(UnwindInst::CfaOffset { offset: 16 });
    bind(&mut buf, next);
    buf.add_unwind(UnwindInst::RestoreState);
    buf.put_bytes(&[RET]);
    let code = finish(buf);
    assert_eq!(code.code(), &[NOP, RET], "recording emits nothing");
    let record = |offset, inst| UnwindRecord { offset, inst };
    assert_eq!(
        code.unwind(),
        &[
            record(1, UnwindInst::RememberState),
            record(1, UnwindInst::CfaOffset { offset: 16 }),
            record(1, UnwindInst::RestoreState),
        ]
    );
}

#[test]
fn branch_with_a_trap_record_is_never_removed() {
    let mut buf = Buffer::new();
    let next = buf.new_label();
    jmp(&mut buf, next);
    buf.add_trap_at(0, trap_code(1)); // recorded after the branch
    bind(&mut buf, next);
    buf.put_bytes(&[RET]);
    assert_eq!(finish(buf).code(), &[JMP8, 0, RET]);
}

// ---- randomized: simplified and plain code execute alike ----

/// xorshift64: a tiny deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

#[derive(Clone, Debug)]
enum Terminator {
    FallThrough,
    Jump(usize),
    Branch(bool, usize),
    BranchJump(bool, usize, usize),
    JumpJump(usize, usize),
    BranchTrap(bool, u8),
    Return,
}

#[derive(Clone, Debug)]
struct Block {
    extra_labels: usize,
    marked: bool,
    nops: usize,
    terminator: Terminator,
}

fn random_program(rng: &mut Rng) -> Vec<Block> {
    let count = 2 + rng.below(24);
    (0..count)
        .map(|_| {
            let target = |rng: &mut Rng| rng.below(count);
            let terminator = match rng.below(8) {
                0 => Terminator::FallThrough,
                1 => Terminator::Jump(target(rng)),
                2 | 3 => Terminator::Branch(rng.chance(50), target(rng)),
                4 => Terminator::BranchJump(rng.chance(50), target(rng), target(rng)),
                5 => Terminator::JumpJump(target(rng), target(rng)),
                6 => Terminator::BranchTrap(rng.chance(50), 1 + rng.below(3) as u8),
                _ => Terminator::Return,
            };
            Block {
                extra_labels: if rng.chance(20) { 1 + rng.below(2) } else { 0 },
                marked: rng.chance(75),
                nops: match rng.below(10) {
                    0..=5 => 0,
                    6 | 7 => rng.below(20),
                    _ => rng.below(300),
                },
                terminator,
            }
        })
        .collect()
}

/// The largest number of bytes emitted between two island checks.
const CHUNK: usize = 64;
const CHECK_DISTANCE: CodeOffset = CHUNK as CodeOffset + 8;

/// Emits `program`; returns the code and how many islands it needed.
fn emit_program(program: &[Block], simplify: bool) -> Result<(FinishedCode, usize), BufferError> {
    let mut islands = 0;
    let mut buf = Buffer::new();
    buf.set_branch_simplification(simplify);
    let block_labels = labels(&mut buf, program.len());
    for (index, block) in program.iter().enumerate() {
        if buf.island_needed(CHECK_DISTANCE) {
            island(&mut buf, CHECK_DISTANCE);
            islands += 1;
        }
        let extra = labels(&mut buf, block.extra_labels);
        for &label in &extra {
            bind(&mut buf, label);
        }
        bind(&mut buf, block_labels[index]);
        if block.marked {
            mark(&mut buf, index as u8);
        }
        let mut nops = block.nops;
        while nops > 0 {
            let chunk = nops.min(CHUNK);
            buf.put_bytes(&vec![NOP; chunk]);
            nops -= chunk;
            if buf.island_needed(CHECK_DISTANCE) {
                island(&mut buf, CHECK_DISTANCE);
                islands += 1;
            }
        }
        let to = |i: usize| block_labels[i];
        match block.terminator {
            Terminator::FallThrough => {}
            Terminator::Jump(t) => jmp(&mut buf, to(t)),
            Terminator::Branch(c, t) => jcc(&mut buf, c, to(t)),
            Terminator::BranchJump(c, t, u) => {
                jcc(&mut buf, c, to(t));
                jmp(&mut buf, to(u));
            }
            Terminator::JumpJump(t, u) => {
                jmp(&mut buf, to(t));
                jmp(&mut buf, to(u));
            }
            Terminator::BranchTrap(c, code) => {
                let stub = buf.defer_trap(trap_code(code));
                jcc(&mut buf, c, stub);
            }
            Terminator::Return => buf.put_bytes(&[RET]),
        }
    }
    buf.put_bytes(&[RET]);
    Ok((buf.finish()?, islands))
}

/// Counts `jmp rel32` instructions (island jumps and veneers) by decoding the
/// random programs' code linearly (it holds no data besides trap stubs).
fn count_rel32_jumps(code: &FinishedCode) -> usize {
    let (bytes, mut pc, mut count) = (code.code(), 0, 0);
    while pc < bytes.len() {
        pc += match bytes[pc] {
            NOP | RET => 1,
            MARK | JMP8 | JF8 | JNF8 | 0x0F => 2,
            JMP32 => {
                count += 1;
                5
            }
            other => panic!("{other:#04x} at {pc:#x} is not an instruction"),
        };
    }
    count
}

#[test]
fn random_programs_run_the_same_with_and_without_simplification() {
    let iterations: usize = std::env::var("DUET_BUFFER_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut saved = 0i64;
    let (mut islands, mut veneers) = (0, 0);
    for iteration in 0..iterations {
        let program = random_program(&mut rng);
        let (plain, plain_islands) = emit_program(&program, false)
            .unwrap_or_else(|e| panic!("#{iteration}: {e}\n{program:#?}"));
        let (simplified, simplified_islands) = emit_program(&program, true)
            .unwrap_or_else(|e| panic!("#{iteration}: {e}\n{program:#?}"));
        islands += plain_islands + simplified_islands;
        veneers += count_rel32_jumps(&plain) - plain_islands;
        veneers += count_rel32_jumps(&simplified) - simplified_islands;
        saved += plain.code().len() as i64 - simplified.code().len() as i64;
        for oracle_seed in 0..4u64 {
            let oracle = |n: usize| {
                (n as u64)
                    .wrapping_mul(0x2545_F491_4F6C_DD1D)
                    .wrapping_add(oracle_seed)
                    >> 61
                    & 1
                    == 1
            };
            let (plain_trace, plain_exit) = run(&plain, oracle);
            let (simplified_trace, simplified_exit) = run(&simplified, oracle);
            if plain_exit == Exit::OutOfFuel || simplified_exit == Exit::OutOfFuel {
                // Removed jumps take no steps, so fuel runs out at different
                // points: one trace must be a prefix of the other.
                let shorter = plain_trace.len().min(simplified_trace.len());
                assert_eq!(
                    plain_trace[..shorter],
                    simplified_trace[..shorter],
                    "#{iteration} oracle {oracle_seed}\n{program:#?}"
                );
            } else {
                assert_eq!(
                    (plain_trace, plain_exit),
                    (simplified_trace, simplified_exit),
                    "#{iteration} oracle {oracle_seed}\n{program:#?}"
                );
            }
        }
    }
    assert!(saved > 0, "simplification never removed anything");
    assert!(
        islands > 0 && veneers > 0,
        "no islands ({islands}) or veneers ({veneers})"
    );
}
