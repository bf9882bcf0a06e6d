//! Store limits (`ResourceLimiter`, `StoreLimits`) under both compilers:
//! wasm's `memory.grow` / `table.grow` refused with -1, the API's growth
//! refused with `Error::Limit`, instantiation refused by counts and by
//! initial sizes, and a custom limiter seeing the sizes asked for. After
//! every refusal the same store runs the next call.

use duet::{
    Compiler, Config, Engine, Error, Instance, Memory, MemoryType, Module, ResourceLimiter, Store,
    StoreLimits, StoreLimitsBuilder, TrapCode, Val,
};

const PAGE: usize = 65536;

fn engines() -> Vec<Engine> {
    [Compiler::Winch, Compiler::Cranelift]
        .into_iter()
        .map(|compiler| {
            let mut config = Config::new();
            config.compiler(compiler);
            Engine::new(&config).unwrap()
        })
        .collect()
}

fn store(engine: &Engine, limits: StoreLimits) -> Store<StoreLimits> {
    let mut store = Store::new(engine, limits);
    store.limiter(|limits| limits);
    store
}

fn call<T>(store: &mut Store<T>, instance: Instance, name: &str, args: &[Val]) -> Val {
    let func = instance.get_func(&*store, name).unwrap().expect("exported");
    let mut results = [Val::I32(0)];
    func.call(&mut *store, args, &mut results).unwrap();
    results[0]
}

const GROWER: &str = r#"(module
    (memory (export "mem") 1)
    (table (export "tab") 1 funcref)
    (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
    (func (export "size") (result i32) (memory.size))
    (func (export "tgrow") (param i32) (result i32) (table.grow (ref.null func) (local.get 0)))
    (func (export "tsize") (result i32) (table.size)))"#;

#[test]
fn memory_grow_past_the_limit_returns_minus_one_and_the_store_runs_on() {
    for engine in engines() {
        let module = Module::new(&engine, GROWER).unwrap();
        let limits = StoreLimitsBuilder::new().memory_size(3 * PAGE).build();
        let mut store = store(&engine, limits);
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        assert_eq!(
            call(&mut store, instance, "grow", &[Val::I32(3)]).i32(),
            Some(-1)
        );
        assert_eq!(call(&mut store, instance, "size", &[]).i32(), Some(1));
        assert_eq!(
            call(&mut store, instance, "grow", &[Val::I32(2)]).i32(),
            Some(1)
        );
        assert_eq!(call(&mut store, instance, "size", &[]).i32(), Some(3));
        assert_eq!(
            call(&mut store, instance, "grow", &[Val::I32(1)]).i32(),
            Some(-1)
        );
        assert_eq!(
            call(&mut store, instance, "grow", &[Val::I32(0)]).i32(),
            Some(3)
        );
        // The host's growth of the same memory is refused too, naming the
        // limit, and leaves it as it was.
        let memory = instance.get_memory(&store, "mem").unwrap().unwrap();
        let error = memory.grow(&mut store, 1).unwrap_err();
        assert!(
            matches!(
                error.downcast_ref::<duet::ErrorKind>(),
                Some(duet::ErrorKind::Limit(_))
            ),
            "{error:?}"
        );
        assert!(error.to_string().contains("memory_size"), "{error}");
        assert_eq!(memory.size(&store).unwrap(), 3);
    }
}

#[test]
fn table_grow_past_the_limit_returns_minus_one_and_the_store_runs_on() {
    for engine in engines() {
        let module = Module::new(&engine, GROWER).unwrap();
        let limits = StoreLimitsBuilder::new().table_elements(10).build();
        let mut store = store(&engine, limits);
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        assert_eq!(
            call(&mut store, instance, "tgrow", &[Val::I32(10)]).i32(),
            Some(-1)
        );
        assert_eq!(
            call(&mut store, instance, "tgrow", &[Val::I32(9)]).i32(),
            Some(1)
        );
        assert_eq!(call(&mut store, instance, "tsize", &[]).i32(), Some(10));
        assert_eq!(
            call(&mut store, instance, "tgrow", &[Val::I32(1)]).i32(),
            Some(-1)
        );
        let table = instance.get_table(&store, "tab").unwrap().unwrap();
        let error = table.grow(&mut store, 1, Val::FuncRef(None)).unwrap_err();
        assert!(error.to_string().contains("table_elements"), "{error}");
        assert_eq!(table.size(&store).unwrap(), 10);
    }
}

#[test]
fn instantiation_past_a_limit_is_an_error_naming_it() {
    for engine in engines() {
        let module = Module::new(&engine, GROWER).unwrap();
        let limit = |limits: StoreLimits, text: &str, name: &str| {
            let mut store = store(&engine, limits);
            let module = Module::new(&engine, text).unwrap();
            let error = Instance::new(&mut store, &module, &[]).unwrap_err();
            assert!(
                matches!(
                    error.downcast_ref::<duet::ErrorKind>(),
                    Some(duet::ErrorKind::Limit(_))
                ),
                "{error:?}"
            );
            assert!(error.to_string().contains(name), "{error}");
        };
        limit(
            StoreLimitsBuilder::new().memory_size(PAGE).build(),
            "(module (memory 2))",
            "memory_size",
        );
        limit(
            StoreLimitsBuilder::new().table_elements(5).build(),
            "(module (table 6 funcref))",
            "table_elements",
        );
        limit(
            StoreLimitsBuilder::new().memories(0).build(),
            "(module (memory 1))",
            "memories",
        );
        limit(
            StoreLimitsBuilder::new().tables(0).build(),
            "(module (table 1 funcref))",
            "tables",
        );
        limit(
            StoreLimitsBuilder::new().instances(0).build(),
            "(module)",
            "instances",
        );

        // Counts are per store: the second instance (its memory, its table)
        // is one too many, and the first still runs.
        for limits in [
            StoreLimitsBuilder::new().instances(1).build(),
            StoreLimitsBuilder::new().memories(1).build(),
            StoreLimitsBuilder::new().tables(1).build(),
        ] {
            let mut store = store(&engine, limits);
            let first = Instance::new(&mut store, &module, &[]).unwrap();
            let error = Instance::new(&mut store, &module, &[]).unwrap_err();
            assert!(
                matches!(
                    error.downcast_ref::<duet::ErrorKind>(),
                    Some(duet::ErrorKind::Limit(_))
                ),
                "{error:?}"
            );
            assert_eq!(
                call(&mut store, first, "grow", &[Val::I32(1)]).i32(),
                Some(1)
            );
        }

        // A host memory counts, and its own minimum is checked.
        let mut store = store(&engine, StoreLimitsBuilder::new().memory_size(PAGE).build());
        let ty = |pages| MemoryType {
            minimum_pages: pages,
            maximum_pages: None,
            memory64: false,
            shared: false,
            page_size_log2: 16,
        };
        assert!(matches!(
            Memory::new(&mut store, ty(2))
                .unwrap_err()
                .downcast_ref::<duet::ErrorKind>(),
            Some(duet::ErrorKind::Limit(_))
        ));
        assert!(Memory::new(&mut store, ty(1)).is_ok());
    }
}

/// Records every question; refuses memories past 4 pages and fails
/// (an error, not a refusal) for tables past 8 elements.
#[derive(Default)]
struct Recorder {
    memory: Vec<(usize, usize, Option<usize>)>,
    table: Vec<(usize, usize, Option<usize>)>,
}

impl ResourceLimiter for Recorder {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool, Error> {
        self.memory.push((current, desired, maximum));
        Ok(desired <= 4 * PAGE)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool, Error> {
        self.table.push((current, desired, maximum));
        if desired > 8 {
            return Err(Error::msg("too many elements"));
        }
        Ok(true)
    }
}

#[test]
fn a_custom_limiter_sees_current_desired_and_maximum() {
    for engine in engines() {
        let module = Module::new(
            &engine,
            r#"(module
                (memory 1 6)
                (table (export "tab") 2 10 funcref)
                (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
                (func (export "tgrow") (param i32) (result i32) (table.grow (ref.null func) (local.get 0))))"#,
        )
        .unwrap();
        let mut store = Store::new(&engine, Recorder::default());
        store.limiter(|recorder| recorder);
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        assert_eq!(
            call(&mut store, instance, "grow", &[Val::I32(2)]).i32(),
            Some(1)
        );
        assert_eq!(
            call(&mut store, instance, "grow", &[Val::I32(2)]).i32(),
            Some(-1)
        );
        assert_eq!(
            call(&mut store, instance, "grow", &[Val::I32(0)]).i32(),
            Some(3)
        );
        assert_eq!(
            call(&mut store, instance, "tgrow", &[Val::I32(3)]).i32(),
            Some(2)
        );
        // The limiter's error inside wasm's table.grow is a trap, its
        // error the source; the store runs on.
        let tgrow = instance.get_func(&store, "tgrow").unwrap().unwrap();
        let error = tgrow
            .call(&mut store, &[Val::I32(4)], &mut [Val::I32(0)])
            .unwrap_err();
        let trap = error.downcast_ref::<duet::Trap>().expect("a trap");
        assert_eq!(trap.code(), TrapCode::HostError);
        let source = std::error::Error::source(trap).expect("the limiter's error");
        assert_eq!(source.to_string(), "too many elements");
        assert_eq!(
            call(&mut store, instance, "tgrow", &[Val::I32(1)]).i32(),
            Some(5)
        );
        let max = Some(6 * PAGE);
        assert_eq!(
            store.data().memory,
            [
                (0, PAGE, max),
                (PAGE, 3 * PAGE, max),
                (3 * PAGE, 5 * PAGE, max)
            ],
            "growth by 0 asks nothing"
        );
        assert_eq!(
            store.data().table,
            [
                (0, 2, Some(10)),
                (2, 5, Some(10)),
                (5, 9, Some(10)),
                (5, 6, Some(10))
            ]
        );
        // From the API, the limiter's error is returned as is.
        let table = instance.get_table(&store, "tab").unwrap().unwrap();
        let error = table.grow(&mut store, 4, Val::FuncRef(None)).unwrap_err();
        assert_eq!(error.to_string(), "too many elements");
        assert_eq!(table.size(&store).unwrap(), 6);
    }
}

#[test]
fn trap_on_grow_failure_makes_a_refused_growth_a_trap_and_the_store_runs_on() {
    for engine in engines() {
        let module = Module::new(&engine, GROWER).unwrap();
        let limits = StoreLimitsBuilder::new()
            .memory_size(2 * PAGE)
            .table_elements(3)
            .trap_on_grow_failure(true)
            .build();
        let mut store = store(&engine, limits);
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        for (name, limit) in [("grow", "memory_size"), ("tgrow", "table_elements")] {
            let func = instance.get_func(&store, name).unwrap().unwrap();
            let error = func
                .call(&mut store, &[Val::I32(5)], &mut [Val::I32(0)])
                .unwrap_err();
            let trap = error.downcast_ref::<duet::Trap>().expect("a trap");
            assert_eq!(trap.code(), TrapCode::HostError);
            let source = std::error::Error::source(trap).expect("the limit's error");
            assert!(source.to_string().contains(limit), "{source}");
            assert!(!trap.frames().is_empty(), "a backtrace");
        }
        // Nothing grew, and growth within the limits still works.
        assert_eq!(call(&mut store, instance, "size", &[]).i32(), Some(1));
        assert_eq!(
            call(&mut store, instance, "grow", &[Val::I32(1)]).i32(),
            Some(1)
        );
        assert_eq!(
            call(&mut store, instance, "tgrow", &[Val::I32(2)]).i32(),
            Some(1)
        );
        assert_eq!(call(&mut store, instance, "tsize", &[]).i32(), Some(3));
        // From the host: the error itself.
        let memory = instance.get_memory(&store, "mem").unwrap().unwrap();
        let error = memory.grow(&mut store, 1).unwrap_err();
        assert!(
            matches!(
                error.downcast_ref::<duet::ErrorKind>(),
                Some(duet::ErrorKind::Limit(_))
            ),
            "{error:?}"
        );
    }
}

/// Panics on any growth of a memory once it exists (instantiation asks
/// about the initial size, from 0).
struct Panicker;

impl ResourceLimiter for Panicker {
    fn memory_growing(
        &mut self,
        current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool, Error> {
        if current > 0 {
            panic!("the limiter panicked");
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool, Error> {
        Ok(true)
    }
}

/// A limiter that panics inside wasm's `memory.grow`: the panic must not
/// unwind through compiled code (that aborts the process); it reaches the
/// host's call as a panic, as a host function's does, and the store runs
/// the next call.
#[test]
fn a_panicking_limiter_panics_in_the_host_not_through_wasm() {
    for engine in engines() {
        let module = Module::new(&engine, GROWER).unwrap();
        let mut store = Store::new(&engine, Panicker);
        store.limiter(|panicker| panicker);
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let grow = instance.get_func(&store, "grow").unwrap().unwrap();
        let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            grow.call(&mut store, &[Val::I32(1)], &mut [Val::I32(0)])
        }))
        .expect_err("the limiter's panic reaches the host");
        assert_eq!(panic.downcast_ref::<&str>(), Some(&"the limiter panicked"));
        assert_eq!(call(&mut store, instance, "size", &[]).i32(), Some(1));
        assert_eq!(
            call(&mut store, instance, "tgrow", &[Val::I32(1)]).i32(),
            Some(1)
        );
    }
}
