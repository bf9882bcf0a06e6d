//! Modules of pathological shape, for the compile-time scaling test
//! (`tests/scaling.rs`) and the figures in `docs/benchmarks.md`
//! (`cargo run --release -p duet-tests --bin make-shapes`).
//!
//! Each [`Shape`] makes a valid module whose size grows linearly with a
//! count `n`: one huge function of one construct repeated (the shapes a
//! hostile module would use to make a compiler quadratic), or many small
//! functions. Every function takes an `i32` and returns one, and every
//! repeated construct depends on the parameter, so no compiler can fold
//! it away before the algorithms under test see it.

use wasm_encoder::{
    BlockType, CodeSection, ExportKind, ExportSection, Function, FunctionSection, Instruction,
    Module, TypeSection, ValType,
};

/// The most locals wasmparser accepts in one function besides the
/// parameter.
pub const MAX_LOCALS: u32 = 49_999;

/// A module shape; see each variant for what `n` counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `n` times `i32.const; i32.add`, one long basic block.
    StraightLine,
    /// A `br_table` with `n` targets (alternating between two blocks).
    BrTable,
    /// `n` `if`/`else` constructs one after another, each updating a local.
    IfElseSequence,
    /// `n` `br_if`s out of one block, each on its own comparison.
    BrIfSequence,
    /// `n` `if`s nested inside each other.
    NestedIf,
    /// `n` `if`/`else`s nested inside each other (each `else` arm nonempty).
    NestedIfElse,
    /// `n` `block`s nested inside each other, with a `br_if` to the
    /// outermost in the middle.
    NestedBlock,
    /// `n` `loop`s nested inside each other, each with a `br_if` back.
    NestedLoop,
    /// `n` locals (at most [`MAX_LOCALS`]) written and read in a chain.
    ManyLocals,
    /// `n / 2` values on the operand stack, live across `n / 2` `if`s,
    /// then summed: every allocator that tracks liveness per block pays
    /// for `n^2 / 4` (value, block) pairs.
    LiveAcrossBranches,
    /// `n` small functions (the first exported).
    ManyFunctions,
}

impl Shape {
    /// Every shape.
    pub const ALL: [Shape; 11] = [
        Shape::StraightLine,
        Shape::BrTable,
        Shape::IfElseSequence,
        Shape::BrIfSequence,
        Shape::NestedIf,
        Shape::NestedIfElse,
        Shape::NestedBlock,
        Shape::NestedLoop,
        Shape::ManyLocals,
        Shape::LiveAcrossBranches,
        Shape::ManyFunctions,
    ];

    /// The shape's name, as the file names and test messages use it.
    pub fn name(self) -> &'static str {
        match self {
            Shape::StraightLine => "straight-line",
            Shape::BrTable => "br-table",
            Shape::IfElseSequence => "if-else-sequence",
            Shape::BrIfSequence => "br-if-sequence",
            Shape::NestedIf => "nested-if",
            Shape::NestedIfElse => "nested-if-else",
            Shape::NestedBlock => "nested-block",
            Shape::NestedLoop => "nested-loop",
            Shape::ManyLocals => "many-locals",
            Shape::LiveAcrossBranches => "live-across-branches",
            Shape::ManyFunctions => "many-functions",
        }
    }

    /// The largest `n` the shape can take (wasmparser's limits).
    pub fn max_count(self) -> u32 {
        match self {
            Shape::ManyLocals => MAX_LOCALS,
            _ => u32::MAX,
        }
    }

    /// The module with count `n`.
    pub fn module(self, n: u32) -> Vec<u8> {
        let n = n.min(self.max_count());
        if self == Shape::ManyFunctions {
            return module_of((0..n).map(|i| small_function(i as i32)).collect());
        }
        let mut locals = vec![(1, ValType::I32)];
        if self == Shape::ManyLocals {
            locals = vec![(n, ValType::I32)];
        }
        let mut f = Function::new(locals);
        self.body(n, &mut f);
        f.instruction(&Instruction::End);
        module_of(vec![f])
    }

    /// The `n` for which the module is about `bytes` long.
    pub fn count_for_size(self, bytes: usize) -> u32 {
        let at = |n: u32| self.module(n).len().max(1);
        let probe = 1000;
        let per_unit = at(probe) as f64 / probe as f64;
        ((bytes as f64 / per_unit) as u32).clamp(1, self.max_count())
    }

    /// The instructions of the one big function (parameter: local 0,
    /// scratch: local 1), leaving an `i32` on the stack.
    fn body(self, n: u32, f: &mut Function) {
        use Instruction as I;
        let get = I::LocalGet(0);
        let set = I::LocalSet(0);
        match self {
            Shape::StraightLine => {
                f.instruction(&get);
                for i in 0..n {
                    f.instruction(&I::I32Const(i as i32 & 63));
                    f.instruction(&I::I32Add);
                }
            }
            Shape::BrTable => {
                f.instruction(&I::Block(BlockType::Empty));
                f.instruction(&I::Block(BlockType::Empty));
                f.instruction(&get);
                let targets: Vec<u32> = (0..n).map(|i| i & 1).collect();
                f.instruction(&I::BrTable(targets.into(), 0));
                f.instruction(&I::End);
                f.instruction(&I::I32Const(1));
                f.instruction(&I::Return);
                f.instruction(&I::End);
                f.instruction(&I::I32Const(2));
            }
            Shape::IfElseSequence => {
                for i in 0..n {
                    f.instruction(&get);
                    f.instruction(&I::I32Const(i as i32 & 63));
                    f.instruction(&I::I32GtU);
                    f.instruction(&I::If(BlockType::Empty));
                    f.instruction(&get);
                    f.instruction(&I::I32Const(1));
                    f.instruction(&I::I32Add);
                    f.instruction(&set);
                    f.instruction(&I::Else);
                    f.instruction(&get);
                    f.instruction(&I::I32Const(3));
                    f.instruction(&I::I32Mul);
                    f.instruction(&set);
                    f.instruction(&I::End);
                }
                f.instruction(&get);
            }
            Shape::BrIfSequence => {
                f.instruction(&I::Block(BlockType::Empty));
                for i in 0..n {
                    f.instruction(&get);
                    f.instruction(&I::I32Const(1));
                    f.instruction(&I::I32Add);
                    f.instruction(&I::LocalTee(0));
                    f.instruction(&I::I32Const(i as i32 & 63));
                    f.instruction(&I::I32Eq);
                    f.instruction(&I::BrIf(0));
                }
                f.instruction(&I::End);
                f.instruction(&get);
            }
            Shape::NestedIf => {
                for _ in 0..n {
                    f.instruction(&get);
                    f.instruction(&I::If(BlockType::Empty));
                    f.instruction(&get);
                    f.instruction(&I::I32Const(1));
                    f.instruction(&I::I32Sub);
                    f.instruction(&set);
                }
                for _ in 0..n {
                    f.instruction(&I::End);
                }
                f.instruction(&get);
            }
            Shape::NestedIfElse => {
                for _ in 0..n {
                    f.instruction(&get);
                    f.instruction(&I::If(BlockType::Empty));
                }
                for i in 0..n {
                    f.instruction(&I::Else);
                    f.instruction(&I::I32Const(i as i32 & 63));
                    f.instruction(&set);
                    f.instruction(&I::End);
                }
                f.instruction(&get);
            }
            Shape::NestedBlock => {
                for _ in 0..n {
                    f.instruction(&I::Block(BlockType::Empty));
                }
                f.instruction(&get);
                f.instruction(&I::BrIf(n / 2));
                f.instruction(&get);
                f.instruction(&I::I32Const(1));
                f.instruction(&I::I32Add);
                f.instruction(&set);
                for _ in 0..n {
                    f.instruction(&I::End);
                }
                f.instruction(&get);
            }
            Shape::NestedLoop => {
                for _ in 0..n {
                    f.instruction(&I::Loop(BlockType::Empty));
                }
                for _ in 0..n {
                    f.instruction(&get);
                    f.instruction(&I::I32Const(1));
                    f.instruction(&I::I32Sub);
                    f.instruction(&I::LocalTee(0));
                    f.instruction(&I::BrIf(0));
                    f.instruction(&I::End);
                }
                f.instruction(&get);
            }
            Shape::ManyLocals => {
                // local i+1 = local i + i, for every local; parameter
                // first.
                for i in 0..n {
                    f.instruction(&I::LocalGet(i));
                    f.instruction(&I::I32Const(i as i32 & 63));
                    f.instruction(&I::I32Add);
                    f.instruction(&I::LocalSet(i + 1));
                }
                f.instruction(&I::LocalGet(n));
            }
            Shape::LiveAcrossBranches => {
                let half = n / 2;
                for i in 0..half {
                    f.instruction(&get);
                    f.instruction(&I::I32Const(i as i32 & 63));
                    f.instruction(&I::I32Add);
                }
                for _ in 0..half {
                    f.instruction(&get);
                    f.instruction(&I::If(BlockType::Empty));
                    f.instruction(&get);
                    f.instruction(&I::I32Const(1));
                    f.instruction(&I::I32Add);
                    f.instruction(&set);
                    f.instruction(&I::End);
                }
                for _ in 1..half {
                    f.instruction(&I::I32Add);
                }
                if half == 0 {
                    f.instruction(&get);
                }
            }
            Shape::ManyFunctions => unreachable!("not one function"),
        }
    }
}

/// `x + k`: one of [`Shape::ManyFunctions`]'s functions.
fn small_function(k: i32) -> Function {
    let mut f = Function::new([]);
    f.instruction(&Instruction::LocalGet(0));
    f.instruction(&Instruction::I32Const(k & 63));
    f.instruction(&Instruction::I32Add);
    f.instruction(&Instruction::End);
    f
}

/// A module of `functions`, each `(i32) -> i32`; the first is exported as
/// `f`.
fn module_of(functions: Vec<Function>) -> Vec<u8> {
    let mut types = TypeSection::new();
    types.ty().function([ValType::I32], [ValType::I32]);
    let mut declared = FunctionSection::new();
    let mut exports = ExportSection::new();
    let mut code = CodeSection::new();
    for f in &functions {
        declared.function(0);
        code.function(f);
    }
    exports.export("f", ExportKind::Func, 0);
    let mut module = Module::new();
    module
        .section(&types)
        .section(&declared)
        .section(&exports)
        .section(&code);
    module.finish()
}
