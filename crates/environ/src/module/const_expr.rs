//! Constant expressions, kept for evaluation at instantiation.
//!
//! Global initializers, table initializers, element items and segment
//! offsets are *constant expressions*: a short instruction sequence without
//! control flow. Translation copies each into a [`ConstExpr`], a list of
//! [`ConstOp`]s for a tiny stack machine; the runtime evaluates it with
//! [`ConstExpr::eval`] once the imported globals and the function references
//! of the instance exist.
//!
//! ```text
//!   (global i32 (i32.add (global.get 0) (i32.const 1)))
//!
//!   ops:   GlobalGet(0)   I32Const(1)   I32Add
//!   stack: [g0]           [g0, 1]       [g0 + 1]      -> result
//! ```
//!
//! The validator has already checked every expression (types, stack
//! balance, which globals may be read), so evaluation of a translated
//! expression can only fail if the context is wrong: it returns a
//! [`ConstEvalError`] then rather than panicking.
//!
//! Supported operators: WebAssembly 2.0's (`*.const`, `ref.null`,
//! `ref.func`, `global.get`) plus extended-const's `i32`/`i64`
//! `add`/`sub`/`mul`. GC's allocating operators are reported as unsupported
//! at translation.

use super::index::{FuncIndex, GlobalIndex};
use super::types::RefType;

/// One operator of a constant expression.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ConstOp {
    /// `i32.const`.
    I32Const(i32),
    /// `i64.const`.
    I64Const(i64),
    /// `f32.const`, as its bit pattern (NaN payloads are kept).
    F32Const(u32),
    /// `f64.const`, as its bit pattern.
    F64Const(u64),
    /// `v128.const`, lane 0 in the least significant bits.
    V128Const(u128),
    /// `ref.null` of a reference type.
    RefNull(RefType),
    /// `ref.func`.
    RefFunc(FuncIndex),
    /// `global.get` (of an immutable global).
    GlobalGet(GlobalIndex),
    /// `i32.add`, wrapping (extended-const).
    I32Add,
    /// `i32.sub`, wrapping (extended-const).
    I32Sub,
    /// `i32.mul`, wrapping (extended-const).
    I32Mul,
    /// `i64.add`, wrapping (extended-const).
    I64Add,
    /// `i64.sub`, wrapping (extended-const).
    I64Sub,
    /// `i64.mul`, wrapping (extended-const).
    I64Mul,
}

/// A constant expression: its operators without the final `end`.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ConstExpr {
    ops: Box<[ConstOp]>,
}

/// A value computed by a constant expression. `R` is how the evaluating
/// context represents a non-null reference (the runtime: a pointer to a
/// `VMFuncRef`; [`ConstEvalContext`]'s slice implementation: the function's
/// index).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Value<R> {
    /// An `i32`.
    I32(i32),
    /// An `i64`.
    I64(i64),
    /// An `f32`, as its bit pattern.
    F32(u32),
    /// An `f64`, as its bit pattern.
    F64(u64),
    /// A `v128`.
    V128(u128),
    /// A `funcref`, `None` when null.
    FuncRef(Option<R>),
    /// An `externref`, `None` when null.
    ExternRef(Option<R>),
}

/// What evaluating a constant expression needs from the instance being
/// built: the values of the globals it may read, and a reference for each
/// function it names with `ref.func`.
///
/// A slice of values is a context whose references are the functions'
/// indices, so that an expression can be evaluated on its own:
///
/// ```
/// use duet_environ::module::{ConstExpr, ConstOp, GlobalIndex, Value};
/// use duet_environ::module::FuncIndex;
///
/// let expr = ConstExpr::new(vec![
///     ConstOp::GlobalGet(GlobalIndex::from_u32(0)),
///     ConstOp::I32Const(1),
///     ConstOp::I32Add,
/// ]);
/// let globals: &mut [Value<FuncIndex>] = &mut [Value::I32(41)];
/// assert_eq!(expr.eval(globals), Ok(Value::I32(42)));
/// ```
pub trait ConstEvalContext {
    /// A non-null reference.
    type Ref;

    /// The value of global `index`, or `None` if the context has none.
    fn global_get(&mut self, index: GlobalIndex) -> Option<Value<Self::Ref>>;

    /// The reference `ref.func index` produces.
    fn ref_func(&mut self, index: FuncIndex) -> Self::Ref;
}

impl<R: Clone> ConstEvalContext for [Value<R>]
where
    R: From<FuncIndex>,
{
    type Ref = R;

    fn global_get(&mut self, index: GlobalIndex) -> Option<Value<R>> {
        self.get(index.index()).cloned()
    }

    fn ref_func(&mut self, index: FuncIndex) -> R {
        R::from(index)
    }
}

/// Why a constant expression could not be evaluated. Never happens for a
/// translated expression with a context that matches the module.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum ConstEvalError {
    /// `global.get` of a global the context does not have.
    #[error("constant expression reads global {0}, which the context does not provide")]
    UnknownGlobal(GlobalIndex),
    /// Operand types or stack depth do not match the operators (a
    /// hand-built expression, or a context whose global has the wrong type).
    #[error("constant expression is ill-typed or does not leave exactly one value")]
    IllTyped,
}

impl ConstExpr {
    /// An expression made of `ops` (without the final `end`).
    pub fn new(ops: impl Into<Box<[ConstOp]>>) -> ConstExpr {
        ConstExpr { ops: ops.into() }
    }

    /// The operators, in order.
    pub fn ops(&self) -> &[ConstOp] {
        &self.ops
    }

    /// The function this expression references, if it is exactly
    /// `ref.func f`.
    pub fn as_ref_func(&self) -> Option<FuncIndex> {
        match *self.ops {
            [ConstOp::RefFunc(f)] => Some(f),
            _ => None,
        }
    }

    /// The offset this expression computes, if it is a single `i32.const`
    /// (read as unsigned, as addresses are) or `i64.const`: lets the runtime
    /// and the compilers see constant segment offsets without evaluating.
    pub fn as_constant_offset(&self) -> Option<u64> {
        match *self.ops {
            [ConstOp::I32Const(value)] => Some(u64::from(value as u32)),
            [ConstOp::I64Const(value)] => Some(value as u64),
            _ => None,
        }
    }

    /// Runs the expression's operators on a stack and returns the one value
    /// left. Arithmetic wraps, as in function bodies.
    pub fn eval<C>(&self, context: &mut C) -> Result<Value<C::Ref>, ConstEvalError>
    where
        C: ConstEvalContext + ?Sized,
    {
        // Evaluation runs once per instance and expression, and almost every
        // expression has one to three operators: a small `Vec` will do.
        let mut stack: Vec<Value<C::Ref>> = Vec::with_capacity(self.ops.len().min(8));
        for op in self.ops.iter() {
            let value = match *op {
                ConstOp::I32Const(value) => Value::I32(value),
                ConstOp::I64Const(value) => Value::I64(value),
                ConstOp::F32Const(bits) => Value::F32(bits),
                ConstOp::F64Const(bits) => Value::F64(bits),
                ConstOp::V128Const(bits) => Value::V128(bits),
                ConstOp::RefNull(RefType::FuncRef) => Value::FuncRef(None),
                ConstOp::RefNull(RefType::ExternRef) => Value::ExternRef(None),
                ConstOp::RefFunc(func) => Value::FuncRef(Some(context.ref_func(func))),
                ConstOp::GlobalGet(global) => context
                    .global_get(global)
                    .ok_or(ConstEvalError::UnknownGlobal(global))?,
                ConstOp::I32Add => binary_i32(&mut stack, i32::wrapping_add)?,
                ConstOp::I32Sub => binary_i32(&mut stack, i32::wrapping_sub)?,
                ConstOp::I32Mul => binary_i32(&mut stack, i32::wrapping_mul)?,
                ConstOp::I64Add => binary_i64(&mut stack, i64::wrapping_add)?,
                ConstOp::I64Sub => binary_i64(&mut stack, i64::wrapping_sub)?,
                ConstOp::I64Mul => binary_i64(&mut stack, i64::wrapping_mul)?,
            };
            stack.push(value);
        }
        match (stack.pop(), stack.is_empty()) {
            (Some(value), true) => Ok(value),
            _ => Err(ConstEvalError::IllTyped),
        }
    }
}

/// Pops `rhs` then `lhs`, both `i32`, and returns `op(lhs, rhs)`.
fn binary_i32<R>(
    stack: &mut Vec<Value<R>>,
    op: fn(i32, i32) -> i32,
) -> Result<Value<R>, ConstEvalError> {
    match (stack.pop(), stack.pop()) {
        (Some(Value::I32(rhs)), Some(Value::I32(lhs))) => Ok(Value::I32(op(lhs, rhs))),
        _ => Err(ConstEvalError::IllTyped),
    }
}

/// Pops `rhs` then `lhs`, both `i64`, and returns `op(lhs, rhs)`.
fn binary_i64<R>(
    stack: &mut Vec<Value<R>>,
    op: fn(i64, i64) -> i64,
) -> Result<Value<R>, ConstEvalError> {
    match (stack.pop(), stack.pop()) {
        (Some(Value::I64(rhs)), Some(Value::I64(lhs))) => Ok(Value::I64(op(lhs, rhs))),
        _ => Err(ConstEvalError::IllTyped),
    }
}
