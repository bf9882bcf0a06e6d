//! The wasmi interpreter: the reference column every duet column is
//! compared with. An independent implementation (its own parser fork,
//! translator and executor), so a shared misreading of the spec is
//! unlikely.

use super::value::{Outcome, State, TrapKind, Value};
use super::{Exports, Instantiation, Tier, TierInstance};
use wasmi::errors::{ErrorKind, InstantiationError, TableError};
use wasmi::{Engine, ExternRef, Func, Instance, Module, Ref, Store, TrapCode, V128, Val};

/// wasmi, with WebAssembly 2.0's features (SIMD included: the `simd`
/// feature of the `wasmi` dependency; relaxed SIMD not) and room for the
/// recursion the generator's fuel allows.
pub struct WasmiTier {
    engine: Engine,
}

impl WasmiTier {
    /// The reference column: recursion up to `max_depth` calls deep (wasmi
    /// counts frames, not bytes) on a value stack of up to 256 MiB, which
    /// is only allocated as it is used.
    pub fn new(max_depth: usize) -> WasmiTier {
        let mut config = wasmi::Config::default();
        config
            .wasm_mutable_global(true)
            .wasm_sign_extension(true)
            .wasm_saturating_float_to_int(true)
            .wasm_multi_value(true)
            .wasm_bulk_memory(true)
            .wasm_reference_types(true)
            .wasm_simd(true)
            .wasm_relaxed_simd(false)
            .wasm_multi_memory(false)
            .wasm_tail_call(false)
            .wasm_extended_const(false)
            .wasm_custom_page_sizes(false)
            .wasm_memory64(false)
            .wasm_wide_arithmetic(false)
            .set_max_recursion_depth(max_depth)
            .set_max_stack_height(256 << 20);
        WasmiTier {
            engine: Engine::new(&config),
        }
    }
}

impl Tier for WasmiTier {
    fn name(&self) -> &str {
        "wasmi"
    }

    fn instantiate(&self, wasm: &[u8]) -> Result<Box<dyn TierInstance>, Instantiation> {
        let module = Module::new(&self.engine, wasm)
            .map_err(|e| Instantiation::Refused(format!("wasmi: {e}")))?;
        let mut store = Store::new(&self.engine, ());
        let instance =
            Instance::new(&mut store, &module, &[]).map_err(|e| match trap_kind(&e) {
                Some(kind) => Instantiation::Trapped(kind),
                None => Instantiation::Refused(format!("wasmi: {e}")),
            })?;
        let funcs = instance
            .exports(&store)
            .filter_map(|export| {
                let name = export.name().to_string();
                Some((name, export.into_func()?))
            })
            .map(|(name, func)| (identity(&func), name))
            .collect();
        Ok(Box::new(WasmiInstance {
            store,
            instance,
            funcs,
        }))
    }
}

/// The trap an error of wasmi's stands for, if it is one.
fn trap_kind(error: &wasmi::Error) -> Option<TrapKind> {
    // Table errors `as_trap_code` leaves out: an active element segment out
    // of bounds, and `table.copy` out of bounds (its siblings `table.init`,
    // `table.fill`, ... are mapped).
    match error.kind() {
        ErrorKind::Instantiation(InstantiationError::ElementSegmentDoesNotFit { .. })
        | ErrorKind::Table(TableError::CopyOutOfBounds) => {
            return Some(TrapKind::TableOutOfBounds);
        }
        _ => {}
    }
    Some(match error.as_trap_code()? {
        TrapCode::UnreachableCodeReached => TrapKind::Unreachable,
        TrapCode::MemoryOutOfBounds => TrapKind::MemoryOutOfBounds,
        TrapCode::TableOutOfBounds => TrapKind::TableOutOfBounds,
        TrapCode::IndirectCallToNull => TrapKind::IndirectCallToNull,
        TrapCode::BadSignature => TrapKind::BadSignature,
        TrapCode::IntegerDivisionByZero => TrapKind::IntegerDivisionByZero,
        TrapCode::IntegerOverflow => TrapKind::IntegerOverflow,
        TrapCode::BadConversionToInteger => TrapKind::BadConversionToInteger,
        TrapCode::StackOverflow => TrapKind::StackOverflow,
        other => TrapKind::Other(format!("wasmi {other:?}")),
    })
}

/// A key naming a wasmi function handle. wasmi's `Func` has no equality,
/// but its `Debug` form is its store index and function index, and an
/// instance hands out one handle per function (exports, tables and
/// `ref.func` share it).
fn identity(func: &Func) -> String {
    format!("{func:?}")
}

struct WasmiInstance {
    store: Store<()>,
    instance: Instance,
    /// The exported functions by [`identity`], to name a `funcref` by its
    /// export.
    funcs: Vec<(String, String)>,
}

impl WasmiInstance {
    fn engine_value(&mut self, value: &Value) -> Val {
        match value {
            Value::I32(v) => Val::I32(*v),
            Value::I64(v) => Val::I64(*v),
            Value::F32(bits) => Val::F32(wasmi::F32::from_bits(*bits)),
            Value::F64(bits) => Val::F64(wasmi::F64::from_bits(*bits)),
            Value::V128(bits) => Val::V128(V128::from(*bits)),
            Value::FuncRef(None) => Val::FuncRef(Ref::Null),
            Value::FuncRef(Some(name)) => {
                let name = name.as_deref().expect("arguments name exported functions");
                Val::FuncRef(Ref::Val(
                    self.instance
                        .get_func(&self.store, name)
                        .expect("arguments name exported functions"),
                ))
            }
            Value::ExternRef(None) => Val::ExternRef(Ref::Null),
            Value::ExternRef(Some(n)) => {
                Val::ExternRef(Ref::Val(ExternRef::new(&mut self.store, *n)))
            }
        }
    }

    fn func_name(&self, func: &Func) -> Option<String> {
        let key = identity(func);
        self.funcs
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, name)| name.clone())
    }

    fn extern_number(&self, r: &ExternRef) -> u32 {
        *r.data(&self.store)
            .downcast_ref::<u32>()
            .expect("the harness makes every extern reference")
    }

    fn portable_value(&self, val: &Val) -> Value {
        match val {
            Val::I32(v) => Value::I32(*v),
            Val::I64(v) => Value::I64(*v),
            Val::F32(v) => Value::F32(v.to_bits()),
            Val::F64(v) => Value::F64(v.to_bits()),
            Val::FuncRef(Ref::Null) => Value::FuncRef(None),
            Val::FuncRef(Ref::Val(f)) => Value::FuncRef(Some(self.func_name(f))),
            Val::ExternRef(Ref::Null) => Value::ExternRef(None),
            Val::ExternRef(Ref::Val(r)) => Value::ExternRef(Some(self.extern_number(r))),
            Val::V128(v) => Value::V128(v.as_u128()),
        }
    }
}

impl TierInstance for WasmiInstance {
    fn call(&mut self, name: &str, args: &[Value]) -> Outcome {
        let func = self
            .instance
            .get_func(&self.store, name)
            .expect("the harness calls exported functions");
        let params: Vec<Val> = args.iter().map(|a| self.engine_value(a)).collect();
        let ty = func.ty(&self.store);
        let mut results: Vec<Val> = ty.results().iter().map(|&t| Val::default(t)).collect();
        match func.call(&mut self.store, &params, &mut results) {
            Ok(()) => Ok(results.iter().map(|r| self.portable_value(r)).collect()),
            Err(e) => Err(trap_kind(&e).unwrap_or_else(|| TrapKind::Other(format!("wasmi: {e}")))),
        }
    }

    fn set_global(&mut self, name: &str, value: &Value) {
        let val = self.engine_value(value);
        self.instance
            .get_global(&self.store, name)
            .expect("an exported global")
            .set(&mut self.store, val)
            .expect("the harness sets mutable globals with values of their type");
    }

    fn state(&mut self, exports: &Exports) -> State {
        let store = &self.store;
        let globals = exports
            .globals
            .iter()
            .map(|name| {
                let global = self.instance.get_global(store, name).expect("exported");
                (name.clone(), self.portable_value(&global.get(store)))
            })
            .collect();
        let memories = exports
            .memories
            .iter()
            .map(|name| {
                let memory = self.instance.get_memory(store, name).expect("exported");
                (name.clone(), memory.data(store).to_vec())
            })
            .collect();
        let tables = exports
            .tables
            .iter()
            .map(|name| {
                let table = self.instance.get_table(store, name).expect("exported");
                let elements = (0..table.size(store))
                    .map(|i| self.portable_value(&table.get(store, i).expect("in bounds")))
                    .collect();
                (name.clone(), elements)
            })
            .collect();
        State {
            globals,
            memories,
            tables,
        }
    }
}
