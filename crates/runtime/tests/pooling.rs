//! The pooling instance allocator and memory images: an instance in a
//! reused slot sees exactly what a fresh one sees (its data segments,
//! zeroes elsewhere, its minimum size, its tables' initial elements),
//! whatever the slot's previous instance did or was; slots run out with an
//! error naming the limit, and come back when their store is dropped.

use duet::{
    Compiler, Config, Engine, ErrorKind, Instance, InstanceAllocationStrategy, Module,
    PoolingAllocationConfig, Store,
};

fn pooled(compiler: Compiler, limits: impl FnOnce(&mut PoolingAllocationConfig)) -> Engine {
    let mut pooling = PoolingAllocationConfig::default();
    limits(&mut pooling);
    let mut config = Config::new();
    config
        .compiler(compiler)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
    Engine::new(&config).unwrap()
}

/// Data at the start of two pages, a table filled by an element segment,
/// and functions to read, scribble on, grow and rearrange them.
const SCRIBBLER: &str = r#"(module
  (memory (export "memory") 2 10)
  (table 4 8 funcref)
  (func $a (result i32) (i32.const 10))
  (func $b (result i32) (i32.const 20))
  (elem (i32.const 1) func $a $b)
  (data (i32.const 0) "fresh")
  (data (i32.const 65536) "page two")
  (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (func (export "size") (result i32) (memory.size))
  (func (export "call") (param i32) (result i32) (call_indirect (result i32) (local.get 0)))
  (func (export "scribble")
    ;; Overwrite the data, write past it, grow, write in the new pages,
    ;; and rearrange the table.
    (i32.store (i32.const 0) (i32.const 0x41414141))
    (i32.store (i32.const 65536) (i32.const -1))
    (i32.store (i32.const 4000) (i32.const 0x42424242))
    (drop (memory.grow (i32.const 3)))
    (i32.store (i32.const 196608) (i32.const 0x43434343))
    (table.set (i32.const 0) (table.get (i32.const 2)))
    (table.set (i32.const 1) (ref.null func))
    (drop (table.grow (ref.null func) (i32.const 2)))))"#;

/// What a fresh instance of `SCRIBBLER` must show.
fn assert_fresh(store: &mut Store<()>, instance: Instance) {
    let load = instance
        .get_typed_func::<i32, i32>(&mut *store, "load")
        .unwrap();
    let memory = instance.get_memory(&*store, "memory").unwrap().unwrap();
    let bytes = memory.data(&*store).unwrap();
    assert_eq!(bytes.len(), 2 << 16, "the minimum size again");
    assert_eq!(&bytes[..5], b"fresh");
    assert_eq!(&bytes[65536..65544], b"page two");
    // Everything else is zero (checked in full: a slot that kept a byte of
    // its previous instance would show here).
    let nonzero = bytes
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b != 0 && !(i < 5 || (65536..65544).contains(&i)))
        .count();
    assert_eq!(nonzero, 0);
    assert_eq!(load.call(&mut *store, 4000).unwrap(), 0);
    assert_eq!(load.call(&mut *store, 0).unwrap(), i32::from(b'f'));
    let size = instance
        .get_typed_func::<(), i32>(&mut *store, "size")
        .unwrap();
    assert_eq!(size.call(&mut *store, ()).unwrap(), 2);
    // The table as the element segment left it.
    let call = instance
        .get_typed_func::<i32, i32>(&mut *store, "call")
        .unwrap();
    assert_eq!(call.call(&mut *store, 1).unwrap(), 10);
    assert_eq!(call.call(&mut *store, 2).unwrap(), 20);
    let trap = call.call(&mut *store, 0).unwrap_err();
    assert_eq!(
        trap.downcast_ref::<duet::Trap>().map(duet::Trap::code),
        Some(duet::TrapCode::IndirectCallToNull)
    );
}

#[test]
fn an_instance_in_a_reused_slot_sees_fresh_memory_and_tables() {
    for compiler in [Compiler::Winch, Compiler::Cranelift] {
        // One memory slot: every instance reuses the same memory.
        let engine = pooled(compiler, |p| {
            p.total_memories(1);
        });
        let module = Module::new(&engine, SCRIBBLER).unwrap();
        // A module without data segments in between: the slot's image must
        // not show through in it either.
        let plain = Module::new(
            &engine,
            r#"(module (memory (export "memory") 3)
                 (func (export "sum") (result i32) (local $i i32) (local $s i32)
                   (loop (local.set $s (i32.add (local.get $s) (i32.load8_u (local.get $i))))
                         (br_if 0 (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1)))
                                            (i32.const 196608))))
                   (local.get $s)))"#,
        )
        .unwrap();
        for round in 0..4 {
            let mut store = Store::new(&engine, ());
            let instance = Instance::new(&mut store, &module, &[]).unwrap();
            assert_fresh(&mut store, instance);
            let scribble = instance
                .get_typed_func::<(), ()>(&mut store, "scribble")
                .unwrap();
            scribble.call(&mut store, ()).unwrap();
            let load = instance
                .get_typed_func::<i32, i32>(&mut store, "load")
                .unwrap();
            assert_eq!(load.call(&mut store, 0).unwrap(), 0x41);
            assert_eq!(load.call(&mut store, 196608).unwrap(), 0x43);
            drop(store);
            if round % 2 == 1 {
                let mut store = Store::new(&engine, ());
                let instance = Instance::new(&mut store, &plain, &[]).unwrap();
                let sum = instance
                    .get_typed_func::<(), i32>(&mut store, "sum")
                    .unwrap();
                assert_eq!(sum.call(&mut store, ()).unwrap(), 0, "all zeroes");
                let memory = instance.get_memory(&store, "memory").unwrap().unwrap();
                assert_eq!(memory.size(&store).unwrap(), 3);
                assert!(memory.data(&store).unwrap().iter().all(|&b| b == 0));
            }
        }
    }
}

#[test]
fn memory_images_are_what_copying_the_segments_would_give() {
    // Overlapping segments (the later wins), one at a page's end and one
    // spanning two pages, with and without pooling.
    let wat = r#"(module
      (memory (export "memory") 2)
      (data (i32.const 10) "aaaaaaaaaa")
      (data (i32.const 14) "BB")
      (data (i32.const 4094) "cdef")
      (data (i32.const 65535) "z"))"#;
    let mut expected = vec![0u8; 2 << 16];
    expected[10..20].copy_from_slice(b"aaaaaaaaaa");
    expected[14..16].copy_from_slice(b"BB");
    expected[4094..4098].copy_from_slice(b"cdef");
    expected[65535] = b'z';
    let on_demand = Engine::default();
    let pooling = pooled(Compiler::Winch, |p| {
        p.total_memories(1);
    });
    for engine in [on_demand, pooling] {
        let module = Module::new(&engine, wat).unwrap();
        for _ in 0..3 {
            let mut store = Store::new(&engine, ());
            let instance = Instance::new(&mut store, &module, &[]).unwrap();
            let memory = instance.get_memory(&store, "memory").unwrap().unwrap();
            assert!(memory.data(&store).unwrap() == expected.as_slice());
            // A write goes to this instance's copy only.
            memory.write(&mut store, 10, b"X").unwrap();
        }
    }
}

#[test]
fn a_failed_instantiation_shows_no_data_from_an_image() {
    // The element segment traps (out of the imported table's bounds)
    // before the data segments: the memory, reachable through the function
    // the first element segment put in the imported table, stays zero.
    let engine = pooled(Compiler::Winch, |_| {});
    let mut store = Store::new(&engine, ());
    let table = duet::Table::new(
        &mut store,
        duet::TableType {
            element: duet::RefType::FuncRef,
            minimum: 1,
            maximum: None,
            table64: false,
            init: None,
        },
        duet::Val::FuncRef(None),
    )
    .unwrap();
    let module = Module::new(
        &engine,
        r#"(module
          (import "m" "t" (table 1 funcref))
          (memory 1)
          (data (i32.const 0) "\2a")
          (func $peek (result i32) (i32.load8_u (i32.const 0)))
          (elem (i32.const 0) func $peek)
          (elem (i32.const 5) func $peek))"#,
    )
    .unwrap();
    let error = Instance::new(&mut store, &module, &[table.into()]).unwrap_err();
    assert_eq!(
        error.downcast_ref::<duet::Trap>().map(duet::Trap::code),
        Some(duet::TrapCode::TableOutOfBounds)
    );
    let Some(duet::Val::FuncRef(Some(peek))) = table.get(&store, 0).unwrap() else {
        panic!("the first element segment put `peek` in the table");
    };
    let peek = peek.typed::<(), i32>(&store).unwrap();
    assert_eq!(peek.call(&mut store, ()).unwrap(), 0);
}

#[test]
fn slots_run_out_with_an_error_naming_the_limit_and_come_back() {
    let engine = pooled(Compiler::Winch, |p| {
        p.total_core_instances(2).total_memories(1).total_tables(5);
    });
    let with_memory = Module::new(&engine, "(module (memory 1))").unwrap();
    let without = Module::new(&engine, "(module (table 1 funcref))").unwrap();

    let mut first = Store::new(&engine, ());
    Instance::new(&mut first, &with_memory, &[]).unwrap();
    // The only memory slot is taken.
    let mut second = Store::new(&engine, ());
    let error = Instance::new(&mut second, &with_memory, &[]).unwrap_err();
    assert!(matches!(
        error.downcast_ref::<ErrorKind>(),
        Some(ErrorKind::Resource(_))
    ));
    assert!(
        error
            .to_string()
            .contains("PoolingAllocationConfig::total_memories"),
        "{error}"
    );
    // So is `Memory::new`'s.
    let ty = duet::MemoryType {
        minimum_pages: 1,
        maximum_pages: None,
        memory64: false,
        shared: false,
        page_size_log2: 16,
    };
    assert!(duet::Memory::new(&mut second, ty).is_err());
    // Instance slots: the failed instantiation above still holds one until
    // its store is dropped, so one more fits and then no more.
    Instance::new(&mut first, &without, &[]).unwrap_err();
    drop(second);
    Instance::new(&mut first, &without, &[]).unwrap();
    let error = Instance::new(&mut first, &without, &[]).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("PoolingAllocationConfig::total_core_instances"),
        "{error}"
    );
    // Dropping the store gives every slot back.
    drop(first);
    let mut third = Store::new(&engine, ());
    Instance::new(&mut third, &with_memory, &[]).unwrap();
    Instance::new(&mut third, &without, &[]).unwrap();
}

#[test]
fn sizes_past_the_pools_limits_are_refused_and_growth_stops_there() {
    let engine = pooled(Compiler::Winch, |p| {
        p.max_memory_size(3 << 16).table_elements(10);
    });
    let big = Module::new(&engine, "(module (memory 4))").unwrap();
    let mut store = Store::new(&engine, ());
    let error = Instance::new(&mut store, &big, &[]).unwrap_err();
    assert!(error.to_string().contains("max_memory_size"), "{error}");
    let table = Module::new(&engine, "(module (table 11 funcref))").unwrap();
    let error = Instance::new(&mut store, &table, &[]).unwrap_err();
    assert!(error.to_string().contains("table_elements"), "{error}");
    let grows = Module::new(
        &engine,
        r#"(module (memory 1) (table 9 funcref)
             (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
             (func (export "grow_table") (param i32) (result i32)
               (table.grow (ref.null func) (local.get 0))))"#,
    )
    .unwrap();
    let instance = Instance::new(&mut store, &grows, &[]).unwrap();
    let grow = instance
        .get_typed_func::<i32, i32>(&mut store, "grow")
        .unwrap();
    assert_eq!(grow.call(&mut store, 3).unwrap(), -1, "4 pages > 3");
    assert_eq!(grow.call(&mut store, 2).unwrap(), 1);
    let grow_table = instance
        .get_typed_func::<i32, i32>(&mut store, "grow_table")
        .unwrap();
    assert_eq!(
        grow_table.call(&mut store, 2).unwrap(),
        -1,
        "11 elements > 10"
    );
    assert_eq!(grow_table.call(&mut store, 1).unwrap(), 9);
}

/// Globals of each kind and two tables, and a function that changes all
/// of them: what a VMContext slot and a table slot hold.
const GLOBALS_AND_TABLES: &str = r#"(module
  (global $g (export "g") (mut i32) (i32.const 7))
  (global $h (export "h") (mut i64) (i64.const -3))
  (global $v (mut v128) (v128.const i32x4 1 2 3 4))
  (global $r (mut funcref) (ref.null func))
  (global $x (mut externref) (ref.null extern))
  (table $t (export "t") 8 64 funcref)
  (table $u (export "u") 2 externref)
  (func $f (result i32) (i32.const 99))
  (elem declare func $f)
  (func (export "r_is_null") (result i32) (ref.is_null (global.get $r)))
  (func (export "v_lane") (result i32) (i32x4.extract_lane 3 (global.get $v)))
  (func (export "call_r") (result i32)
    (table.set $t (i32.const 7) (global.get $r))
    (call_indirect $t (result i32) (i32.const 7)))
  (func (export "scribble") (param externref)
    (global.set $g (i32.const 1234))
    (global.set $h (i64.const 5678))
    (global.set $v (v128.const i32x4 -1 -1 -1 -1))
    (global.set $r (ref.func $f))
    (global.set $x (local.get 0))
    (table.fill $t (i32.const 0) (ref.func $f) (i32.const 8))
    (drop (table.grow $t (ref.func $f) (i32.const 56)))
    (table.fill $u (i32.const 0) (local.get 0) (i32.const 2))
    (drop (table.grow $u (local.get 0) (i32.const 30)))))"#;

/// What a fresh instance of `GLOBALS_AND_TABLES` shows.
fn assert_fresh_globals_and_tables(store: &mut Store<()>, instance: Instance) {
    let g = instance.get_global(&*store, "g").unwrap().unwrap();
    assert_eq!(g.get(&*store).unwrap().i32(), Some(7));
    let h = instance.get_global(&*store, "h").unwrap().unwrap();
    assert_eq!(h.get(&*store).unwrap().i64(), Some(-3));
    let v_lane = instance
        .get_typed_func::<(), i32>(&mut *store, "v_lane")
        .unwrap();
    assert_eq!(v_lane.call(&mut *store, ()).unwrap(), 4);
    let r_is_null = instance
        .get_typed_func::<(), i32>(&mut *store, "r_is_null")
        .unwrap();
    assert_eq!(r_is_null.call(&mut *store, ()).unwrap(), 1);
    for (name, size) in [("t", 8), ("u", 2)] {
        let table = instance.get_table(&*store, name).unwrap().unwrap();
        assert_eq!(table.size(&*store).unwrap(), size, "table {name}");
        for i in 0..size {
            let element = table.get(&*store, i).unwrap().unwrap();
            assert!(
                matches!(
                    element,
                    duet::Val::FuncRef(None) | duet::Val::ExternRef(None)
                ),
                "table {name}[{i}] is {element:?}, not null"
            );
        }
        // Past the size: out of bounds, whatever the slot held there.
        assert!(table.get(&*store, size).unwrap().is_none());
    }
    // The null global put in the table: a call through it traps.
    let call_r = instance
        .get_typed_func::<(), i32>(&mut *store, "call_r")
        .unwrap();
    let trap = call_r.call(&mut *store, ()).unwrap_err();
    assert_eq!(
        trap.downcast_ref::<duet::Trap>().map(duet::Trap::code),
        Some(duet::TrapCode::IndirectCallToNull)
    );
}

#[test]
fn a_reused_vmcontext_and_table_slot_look_fresh() {
    for compiler in [Compiler::Winch, Compiler::Cranelift] {
        // One slot of each: every instance reuses the VMContext and table
        // storage of the one before.
        let engine = pooled(compiler, |p| {
            p.total_core_instances(1).total_tables(2);
        });
        let module = Module::new(&engine, GLOBALS_AND_TABLES).unwrap();
        // A module of another layout in between: more globals where the
        // first one's tables were, a larger table where its elements were.
        let other = Module::new(
            &engine,
            r#"(module
              (table (export "t") 100 funcref)
              (table (export "u") 40 externref)
              (global (export "a") (mut i64) (i64.const 0))
              (global (export "b") (mut i64) (i64.const 0))
              (global (export "c") i32 (i32.const 0))
              (func (export "sum_nonnull") (result i32) (local $i i32) (local $n i32)
                (loop
                  (local.set $n (i32.add (local.get $n)
                    (i32.eqz (ref.is_null (table.get 0 (local.get $i))))))
                  (br_if 0 (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1)))
                                     (i32.const 100))))
                (local.get $n)))"#,
        )
        .unwrap();
        for round in 0..4 {
            let mut store = Store::new(&engine, ());
            let instance = Instance::new(&mut store, &module, &[]).unwrap();
            assert_fresh_globals_and_tables(&mut store, instance);
            let scribble = instance
                .get_typed_func::<Option<duet::ExternRef>, ()>(&mut store, "scribble")
                .unwrap();
            let handle = duet::ExternRef::new(&mut store, round);
            scribble.call(&mut store, Some(handle)).unwrap();
            // The scribbling took: this is what the next instance must
            // not see.
            let g = instance.get_global(&store, "g").unwrap().unwrap();
            assert_eq!(g.get(&store).unwrap().i32(), Some(1234));
            let t = instance.get_table(&store, "t").unwrap().unwrap();
            assert_eq!(t.size(&store).unwrap(), 64);
            assert!(matches!(
                t.get(&store, 63).unwrap(),
                Some(duet::Val::FuncRef(Some(_)))
            ));
            drop(store);
            if round % 2 == 1 {
                let mut store = Store::new(&engine, ());
                let instance = Instance::new(&mut store, &other, &[]).unwrap();
                let sum = instance
                    .get_typed_func::<(), i32>(&mut store, "sum_nonnull")
                    .unwrap();
                assert_eq!(sum.call(&mut store, ()).unwrap(), 0, "every element null");
                let u = instance.get_table(&store, "u").unwrap().unwrap();
                for i in 0..40 {
                    assert!(matches!(
                        u.get(&store, i).unwrap(),
                        Some(duet::Val::ExternRef(None))
                    ));
                }
                for name in ["a", "b"] {
                    let global = instance.get_global(&store, name).unwrap().unwrap();
                    assert_eq!(global.get(&store).unwrap().i64(), Some(0));
                }
                let c = instance.get_global(&store, "c").unwrap().unwrap();
                assert_eq!(c.get(&store).unwrap().i32(), Some(0));
            }
        }
    }
}

/// A module with `count` `i64` globals: a VMContext of a little over
/// `16 * count` bytes.
fn many_globals(count: usize) -> String {
    let mut wat = String::from("(module\n");
    for i in 0..count {
        wat.push_str(&format!("  (global (mut i64) (i64.const {i}))\n"));
    }
    wat.push_str(&format!(
        "  (global (export \"last\") i64 (i64.const {count})))"
    ));
    wat
}

#[test]
fn a_vmcontext_larger_than_its_slot_is_refused_and_takes_nothing() {
    let engine = pooled(Compiler::Winch, |p| {
        p.total_core_instances(1).max_core_instance_size(4096);
    });
    let mut store = Store::new(&engine, ());
    // 300 globals: 4800 bytes of globals alone.
    let big = Module::new(&engine, many_globals(300)).unwrap();
    let error = Instance::new(&mut store, &big, &[]).unwrap_err();
    assert!(
        matches!(
            error.downcast_ref::<ErrorKind>(),
            Some(ErrorKind::Resource(_))
        ),
        "{error}"
    );
    let message = error.to_string();
    assert!(
        message.contains("PoolingAllocationConfig::max_core_instance_size")
            && message.contains("4096"),
        "{message}"
    );
    // Nothing was taken: the one instance slot is free for a module that
    // fits, in the same store.
    let small = Module::new(&engine, many_globals(100)).unwrap();
    let instance = Instance::new(&mut store, &small, &[]).unwrap();
    let last = instance.get_global(&store, "last").unwrap().unwrap();
    assert_eq!(last.get(&store).unwrap().i64(), Some(100));
    // On demand, the large module is fine.
    let on_demand = Engine::default();
    let big = Module::new(&on_demand, many_globals(300)).unwrap();
    let mut store = Store::new(&on_demand, ());
    let instance = Instance::new(&mut store, &big, &[]).unwrap();
    let last = instance.get_global(&store, "last").unwrap().unwrap();
    assert_eq!(last.get(&store).unwrap().i64(), Some(300));
}

#[test]
fn tables_grow_within_their_slot_up_to_table_elements() {
    for compiler in [Compiler::Winch, Compiler::Cranelift] {
        let engine = pooled(compiler, |p| {
            p.table_elements(1000).total_tables(2);
        });
        let module = Module::new(
            &engine,
            r#"(module
              (table $t (export "t") 1 funcref)
              (table $small (export "small") 1 10 funcref)
              (func $f (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
              (elem declare func $f)
              (func (export "grow") (param i32) (result i32)
                (table.grow $t (ref.func $f) (local.get 0)))
              (func (export "grow_small") (param i32) (result i32)
                (table.grow $small (ref.null func) (local.get 0)))
              (func (export "call") (param i32) (result i32)
                (call_indirect $t (param i32) (result i32) (local.get 0) (local.get 0))))"#,
        )
        .unwrap();
        // Twice: the second time in the slots the first store gave back.
        for _ in 0..2 {
            let mut store = Store::new(&engine, ());
            let instance = Instance::new(&mut store, &module, &[]).unwrap();
            let grow = instance
                .get_typed_func::<i32, i32>(&mut store, "grow")
                .unwrap();
            let call = instance
                .get_typed_func::<i32, i32>(&mut store, "call")
                .unwrap();
            let table = instance.get_table(&store, "t").unwrap().unwrap();
            // In steps of every size, each new element callable, the old
            // ones kept.
            let mut size = 1;
            for step in [1, 2, 7, 100, 389, 500] {
                assert_eq!(grow.call(&mut store, step).unwrap(), size);
                size += step;
                assert_eq!(table.size(&store).unwrap(), size as u64);
                assert_eq!(call.call(&mut store, size - 1).unwrap(), size);
                assert_eq!(call.call(&mut store, 1).unwrap(), 2);
            }
            assert_eq!(size, 1000);
            // Past the slot: -1 from wasm, an error from the API, and the
            // table unchanged.
            assert_eq!(grow.call(&mut store, 1).unwrap(), -1);
            assert!(table.grow(&mut store, 1, duet::Val::FuncRef(None)).is_err());
            assert_eq!(grow.call(&mut store, 0).unwrap(), 1000);
            assert_eq!(table.size(&store).unwrap(), 1000);
            assert_eq!(call.call(&mut store, 999).unwrap(), 1000);
            let trap = call.call(&mut store, 1000).unwrap_err();
            assert_eq!(
                trap.downcast_ref::<duet::Trap>().map(duet::Trap::code),
                Some(duet::TrapCode::TableOutOfBounds)
            );
            // A declared maximum below the slot's capacity still holds.
            let grow_small = instance
                .get_typed_func::<i32, i32>(&mut store, "grow_small")
                .unwrap();
            assert_eq!(grow_small.call(&mut store, 10).unwrap(), -1);
            assert_eq!(grow_small.call(&mut store, 9).unwrap(), 1);
            assert_eq!(grow_small.call(&mut store, 1).unwrap(), -1);
            // The API grows within the slot too, with the value it is given.
            let small = instance.get_table(&store, "small").unwrap().unwrap();
            assert_eq!(small.size(&store).unwrap(), 10);
            assert!(matches!(
                small.get(&store, 9).unwrap(),
                Some(duet::Val::FuncRef(None))
            ));
        }
    }
}

#[test]
fn table_slots_run_out_with_an_error_naming_the_limit() {
    let engine = pooled(Compiler::Winch, |p| {
        p.total_tables(3);
    });
    let two = Module::new(&engine, "(module (table 1 funcref) (table 2 externref))").unwrap();
    let mut first = Store::new(&engine, ());
    Instance::new(&mut first, &two, &[]).unwrap();
    let mut second = Store::new(&engine, ());
    let error = Instance::new(&mut second, &two, &[]).unwrap_err();
    assert!(
        matches!(
            error.downcast_ref::<ErrorKind>(),
            Some(ErrorKind::Resource(_))
        ),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("PoolingAllocationConfig::total_tables"),
        "{error}"
    );
    // The refused instantiation took neither its instance slot nor any
    // table slot: one table still fits, and host tables take none.
    let one = Module::new(&engine, "(module (table 5 funcref))").unwrap();
    Instance::new(&mut second, &one, &[]).unwrap();
    let ty = duet::TableType {
        element: duet::RefType::FuncRef,
        minimum: 1,
        maximum: None,
        table64: false,
        init: None,
    };
    duet::Table::new(&mut second, ty, duet::Val::FuncRef(None)).unwrap();
    assert!(Instance::new(&mut second, &one, &[]).is_err());
    drop(first);
    Instance::new(&mut second, &two, &[]).unwrap();
}

#[test]
fn stores_on_several_threads_share_one_pooling_engine() {
    const THREADS: usize = 4;
    for compiler in [Compiler::Winch, Compiler::Cranelift] {
        // As many slots as threads: every store takes slots that another
        // thread's store just gave back.
        let engine = pooled(compiler, |p| {
            p.total_core_instances(THREADS as u32)
                .total_memories(THREADS as u32)
                .total_tables(2 * THREADS as u32);
        });
        let scribbler = Module::new(&engine, SCRIBBLER).unwrap();
        let globals = Module::new(&engine, GLOBALS_AND_TABLES).unwrap();
        std::thread::scope(|scope| {
            for thread in 0..THREADS {
                let (engine, scribbler, globals) = (&engine, &scribbler, &globals);
                scope.spawn(move || {
                    for round in 0..40 {
                        let mut store = Store::new(engine, ());
                        if (thread + round) % 2 == 0 {
                            let instance = Instance::new(&mut store, scribbler, &[]).unwrap();
                            assert_fresh(&mut store, instance);
                            instance
                                .get_typed_func::<(), ()>(&mut store, "scribble")
                                .unwrap()
                                .call(&mut store, ())
                                .unwrap();
                        } else {
                            let instance = Instance::new(&mut store, globals, &[]).unwrap();
                            assert_fresh_globals_and_tables(&mut store, instance);
                            let handle = duet::ExternRef::new(&mut store, thread);
                            instance
                                .get_typed_func::<Option<duet::ExternRef>, ()>(
                                    &mut store, "scribble",
                                )
                                .unwrap()
                                .call(&mut store, Some(handle))
                                .unwrap();
                        }
                    }
                });
            }
        });
    }
}
