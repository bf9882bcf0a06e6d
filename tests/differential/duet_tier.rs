//! duet as a column of the comparison: an engine with one compiler and one
//! way of checking memory bounds.

use super::value::{Outcome, State, TrapKind, Value};
use super::{Exports, Instantiation, Tier, TierInstance};
use duet::{
    Compiler, Config, CpuPreset, Engine, Error, ExternRef, Func, Instance, Module, Store, TrapCode,
    Tunables, UpdateDeadline, Val, WasmFeatures,
};

/// How duet checks memory bounds in a column.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Bounds {
    /// A 4 GiB reservation with guard pages: most checks are the MMU's.
    GuardPages,
    /// No reservation: every access compares against the memory's length.
    Explicit,
}

/// duet with one compiler, one bounds-checking strategy and one CPU
/// preset, metered or not.
pub struct DuetTier {
    engine: Engine,
    name: String,
    metered: bool,
}

impl DuetTier {
    /// The column for `compiler`, `bounds` and the CPU features of `cpu`,
    /// or the engine's refusal (a compiler the build leaves out, a preset
    /// the host lacks). Modules are validated as exactly WebAssembly 2.0
    /// plus relaxed SIMD, and compiled on the calling thread; wasm may use `stack_bytes` of
    /// its thread's stack.
    ///
    /// A `metered` column compiles with fuel metering and epoch
    /// interruption on, gives each store all the fuel there is, and keeps
    /// its epoch deadline always due with a callback that goes on: every
    /// epoch check takes its slow path (a call into the runtime from the
    /// middle of the code, with values live in registers), and the
    /// results must not change.
    pub fn new(
        compiler: Compiler,
        bounds: Bounds,
        cpu: CpuPreset,
        stack_bytes: usize,
        metered: bool,
    ) -> Result<DuetTier, String> {
        let mut config = Config::new();
        // Tiered: every function is compiled by the optimizing tier on its
        // first call, before it goes on, so each export's first call runs
        // baseline code and its second optimized code (and a loop's
        // function asks on entry and finishes on baseline code).
        config.tier_up_budget(0).tier_up_synchronous(true);
        config
            .compiler(compiler)
            .cpu_features(cpu)
            .wasm_features(WasmFeatures::WASM2 | WasmFeatures::RELAXED_SIMD)
            .parallel_compilation(false)
            .max_wasm_stack(stack_bytes)
            .consume_fuel(metered)
            .epoch_interruption(metered);
        if bounds == Bounds::Explicit {
            config.tunables(Tunables::NO_RESERVATION);
        }
        let engine = Engine::new(&config).map_err(|e| e.to_string())?;
        let compiler_name = compiler.name();
        let mut name = compiler_name.to_string();
        if bounds == Bounds::Explicit {
            name.push_str(" (explicit bounds checks)");
        }
        if cpu != CpuPreset::Host {
            name.push_str(&format!(" ({cpu})"));
        }
        if metered {
            name.push_str(" (fuel, epoch always due)");
        }
        Ok(DuetTier {
            engine,
            name,
            metered,
        })
    }
}

impl Tier for DuetTier {
    fn name(&self) -> &str {
        &self.name
    }

    fn instantiate(&self, wasm: &[u8]) -> Result<Box<dyn TierInstance>, Instantiation> {
        let refused = |e: Error| match e.downcast::<duet::ErrorKind>() {
            Ok(duet::ErrorKind::Unsupported(why)) => Instantiation::Unsupported(why),
            Ok(other) => Instantiation::Refused(other.to_string()),
            Err(other) => Instantiation::Refused(other.to_string()),
        };
        let module = Module::from_binary(&self.engine, wasm).map_err(refused)?;
        let mut store = Store::new(&self.engine, ());
        if self.metered {
            store.set_fuel(u64::MAX).expect("fuel is on");
            store.set_epoch_deadline(0);
            store.epoch_deadline_callback(|_| Ok(UpdateDeadline::Continue(0)));
        }
        let instance = Instance::new(&mut store, &module, &[]).map_err(|e| {
            match e.downcast::<duet::Trap>() {
                Ok(trap) => Instantiation::Trapped(trap_kind(trap.code())),
                Err(other) => refused(other),
            }
        })?;
        let funcs = instance
            .exports(&store)
            .expect("the instance is the store's")
            .into_iter()
            .filter_map(|(name, item)| Some((name, item.into_func()?)))
            .collect();
        Ok(Box::new(DuetInstance {
            store,
            instance,
            funcs,
        }))
    }
}

/// The name of a duet trap code in the comparison.
fn trap_kind(code: TrapCode) -> TrapKind {
    match code {
        TrapCode::UnreachableCodeReached => TrapKind::Unreachable,
        TrapCode::MemoryOutOfBounds => TrapKind::MemoryOutOfBounds,
        TrapCode::TableOutOfBounds => TrapKind::TableOutOfBounds,
        TrapCode::IndirectCallToNull => TrapKind::IndirectCallToNull,
        TrapCode::BadSignature => TrapKind::BadSignature,
        TrapCode::IntegerDivisionByZero => TrapKind::IntegerDivisionByZero,
        TrapCode::IntegerOverflow => TrapKind::IntegerOverflow,
        TrapCode::BadConversionToInteger => TrapKind::BadConversionToInteger,
        TrapCode::StackOverflow => TrapKind::StackOverflow,
        other => TrapKind::Other(format!("duet {other:?}")),
    }
}

struct DuetInstance {
    store: Store<()>,
    instance: Instance,
    /// The exported functions, to name a `funcref` by its export.
    funcs: Vec<(String, Func)>,
}

impl DuetInstance {
    fn engine_value(&mut self, value: &Value) -> Val {
        match value {
            Value::I32(v) => Val::I32(*v),
            Value::I64(v) => Val::I64(*v),
            Value::F32(bits) => Val::F32(*bits),
            Value::F64(bits) => Val::F64(*bits),
            Value::V128(bits) => Val::V128(*bits),
            Value::FuncRef(None) => Val::FuncRef(None),
            Value::FuncRef(Some(name)) => {
                let name = name.as_deref().expect("arguments name exported functions");
                Val::FuncRef(Some(
                    self.instance
                        .get_func(&self.store, name)
                        .unwrap()
                        .expect("arguments name exported functions"),
                ))
            }
            Value::ExternRef(None) => Val::ExternRef(None),
            Value::ExternRef(Some(n)) => Val::ExternRef(Some(ExternRef::new(&mut self.store, *n))),
        }
    }

    fn portable_value(&self, val: &Val) -> Value {
        match val {
            Val::I32(v) => Value::I32(*v),
            Val::I64(v) => Value::I64(*v),
            Val::F32(bits) => Value::F32(*bits),
            Val::F64(bits) => Value::F64(*bits),
            Val::V128(bits) => Value::V128(*bits),
            Val::FuncRef(f) => Value::FuncRef(f.map(|f| {
                self.funcs
                    .iter()
                    .find(|(_, g)| *g == f)
                    .map(|(name, _)| name.clone())
            })),
            Val::ExternRef(r) => Value::ExternRef(r.map(|r| {
                *r.data(&self.store)
                    .unwrap()
                    .downcast_ref::<u32>()
                    .expect("the harness makes every extern reference")
            })),
        }
    }
}

impl TierInstance for DuetInstance {
    fn call(&mut self, name: &str, args: &[Value]) -> Outcome {
        let func = self
            .instance
            .get_func(&self.store, name)
            .unwrap()
            .expect("the harness calls exported functions");
        let params: Vec<Val> = args.iter().map(|a| self.engine_value(a)).collect();
        let ty = func.ty(&self.store).unwrap();
        let mut results: Vec<Val> = ty.results.iter().map(|&t| Val::default_for(t)).collect();
        match func.call(&mut self.store, &params, &mut results) {
            Ok(()) => Ok(results.iter().map(|r| self.portable_value(r)).collect()),
            Err(error) => match error.downcast_ref::<duet::Trap>() {
                Some(trap) => Err(trap_kind(trap.code())),
                None => Err(TrapKind::Other(format!("duet error: {error}"))),
            },
        }
    }

    fn set_global(&mut self, name: &str, value: &Value) {
        let val = self.engine_value(value);
        self.instance
            .get_global(&self.store, name)
            .unwrap()
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
                let global = self.instance.get_global(store, name).unwrap();
                let global = global.expect("exported");
                (
                    name.clone(),
                    self.portable_value(&global.get(store).unwrap()),
                )
            })
            .collect();
        let memories = exports
            .memories
            .iter()
            .map(|name| {
                let memory = self.instance.get_memory(store, name).unwrap();
                let memory = memory.expect("exported");
                (name.clone(), memory.data(store).unwrap().to_vec())
            })
            .collect();
        let tables = exports
            .tables
            .iter()
            .map(|name| {
                let table = self.instance.get_table(store, name).unwrap();
                let table = table.expect("exported");
                let elements = (0..table.size(store).unwrap())
                    .map(|i| self.portable_value(&table.get(store, i).unwrap().expect("in bounds")))
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
