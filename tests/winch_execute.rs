//! The baseline compiler end to end: WebAssembly text is translated and
//! validated (duet-environ), every function compiled (winch-codegen),
//! linked into executable memory (duet's `CodeMemory`), and called natively
//! through the wasm calling convention, which for integer signatures is
//! System V with the VMContext first.
//!
//! Each program's results are checked against the same computation in Rust
//! over many inputs. Programs stay clear of traps: turning a fault into a
//! trap needs the runtime's signal handling, which comes with the runtime.

use duet::code::{CodeMemory, UnlinkedCode};
use duet::memory::{LinearMemory, MemoryType};
use duet_environ::abi::FUNCTION_NAMESPACE;
use duet_environ::builtins::Builtin;
use duet_environ::module::{DefinedGlobalIndex, EntityIndex, FuncIndex, Value, translate};
use duet_environ::tunables::Tunables;
use duet_environ::vmoffsets::{VMContext, VMMemoryDefinition, VMOffsets};
use winch_codegen::CompileError;

/// What the test's builtins reach through the VMContext's store pointer.
struct TestStore {
    memories: Vec<LinearMemory>,
    offsets: VMOffsets,
}

/// The host functions modules in these tests import, by name (the wasm
/// calling convention: the VMContext first).
fn host_function(name: &str) -> usize {
    extern "sysv64" fn twice(_vmctx: *mut u8, x: i64) -> i64 {
        x.wrapping_mul(2)
    }
    extern "sysv64" fn sum3(_vmctx: *mut u8, a: i32, b: i32, c: i32) -> i32 {
        a.wrapping_add(b).wrapping_add(c)
    }
    /// An array-call host function: (a, b) -> (a / b, a % b), unsigned.
    extern "sysv64" fn divmod(_context: *mut u8, values: *mut [u8; 16]) -> u32 {
        // SAFETY: the host trampoline passes a slot per argument and result.
        let values = unsafe { std::slice::from_raw_parts_mut(values, 2) };
        let read = |s: &[u8; 16]| u64::from_le_bytes(s[..8].try_into().unwrap());
        let (a, b) = (read(&values[0]), read(&values[1]));
        if b == 0 {
            return 1;
        }
        values[0][..8].copy_from_slice(&(a / b).to_le_bytes());
        values[1][..8].copy_from_slice(&(a % b).to_le_bytes());
        0
    }
    match name {
        "array_divmod" => {
            let f: extern "sysv64" fn(*mut u8, *mut [u8; 16]) -> u32 = divmod;
            f as usize
        }
        "twice" => {
            let f: extern "sysv64" fn(*mut u8, i64) -> i64 = twice;
            f as usize
        }
        "sum3" => {
            let f: extern "sysv64" fn(*mut u8, i32, i32, i32) -> i32 = sum3;
            f as usize
        }
        _ => panic!("no host function {name}"),
    }
}

/// A function reference in constant expressions (the tests use none).
#[derive(Clone)]
struct NoRef;

impl From<FuncIndex> for NoRef {
    fn from(_: FuncIndex) -> Self {
        NoRef
    }
}

/// Writes memory `index`'s base and length into the VMContext.
///
/// # Safety
///
/// `vmctx` is a VMContext laid out by `offsets`.
unsafe fn publish_memory(vmctx: *mut u8, offsets: &VMOffsets, index: u32, memory: &LinearMemory) {
    let record = offsets.defined_memory(index) as usize;
    // SAFETY: the record is inside the VMContext (the caller's promise),
    // and its fields are 8-aligned.
    unsafe {
        (vmctx.add(record + VMMemoryDefinition::BASE as usize) as *mut *mut u8)
            .write(memory.base());
        (vmctx.add(record + VMMemoryDefinition::CURRENT_LENGTH as usize) as *mut u64)
            .write(memory.byte_len() as u64);
    }
}

/// The `memory_grow` builtin for these tests.
extern "sysv64" fn test_memory_grow(vmctx: *mut u8, memory: u32, delta: u64) -> u64 {
    // SAFETY: compiled code passes its VMContext, whose store field the
    // harness set to a live `TestStore`.
    unsafe {
        let store = &mut *(*(vmctx.add(VMContext::STORE as usize) as *const *mut TestStore));
        let Some(old) = store.memories[memory as usize].grow(delta) else {
            return u64::MAX;
        };
        publish_memory(
            vmctx,
            &store.offsets,
            memory,
            &store.memories[memory as usize],
        );
        old
    }
}

/// A compiled module with a VMContext to call its functions with.
struct Compiled {
    code: CodeMemory,
    num_imported: u32,
    exports: Vec<(String, u32)>,
    /// 16-aligned storage for the VMContext.
    vmctx: Vec<u128>,
    store: Box<TestStore>,
    _builtins: Box<[usize; Builtin::ALL.len()]>,
    _tables: Vec<Vec<usize>>,
    /// Host trampolines and contexts; each context is boxed because the
    /// VMContext points into it (a `Vec` of arrays would move them).
    #[allow(clippy::vec_box, reason = "the VMContext holds pointers into the boxes")]
    _host: (Vec<CodeMemory>, Vec<Box<[usize; 1]>>),
}

fn compile(wat: &str) -> Result<Compiled, CompileError> {
    compile_with(wat, Tunables::default())
}

fn compile_with(wat: &str, tunables: Tunables) -> Result<Compiled, CompileError> {
    let wasm = wat::parse_str(wat).expect("the test's text parses");
    let translation =
        translate(&wasm, wasmparser::WasmFeatures::default()).expect("the module validates");
    let module = translation.module.clone();
    let features = cranelift_asm::x64::CpuFeatures::host();
    let functions = winch_codegen::compile_module(translation, tunables, features)?;
    let unlinked = UnlinkedCode::new(&functions).expect("the code maps");
    let addresses: Vec<usize> = unlinked.function_addresses().collect();
    let num_imported = module.num_imported_functions;
    let code = unlinked
        .link(|name| {
            (name.namespace == FUNCTION_NAMESPACE)
                .then(|| addresses.get((name.index - num_imported) as usize).copied())
                .flatten()
        })
        .expect("every call resolves");
    let exports = module
        .exports()
        .iter()
        .filter_map(|(name, entity)| match entity {
            EntityIndex::Function(f) => Some((name.clone(), f.as_u32())),
            _ => None,
        })
        .collect();
    let offsets = VMOffsets::new(module.vm_counts());
    let mut vmctx = vec![0u128; (offsets.size() as usize).div_ceil(16).max(1)];
    // The stack limit: 1 MiB below here (test threads have 2 MiB stacks).
    let here = &vmctx as *const _ as usize;
    let limit = here - (1 << 20);
    let bytes = vmctx.as_mut_ptr() as *mut u8;
    // SAFETY: the VMContext buffer is at least the header's size, and the
    // stack-limit field is 8-aligned within it.
    unsafe { (bytes.add(VMContext::STACK_LIMIT as usize) as *mut usize).write(limit) };

    // Memories, globals and builtins, as the runtime will set them up.
    let mut store = Box::new(TestStore {
        memories: Vec::new(),
        offsets,
    });
    for (i, ty) in module.memories.iter().enumerate() {
        let ty = MemoryType {
            minimum: ty.minimum_pages,
            maximum: ty.maximum_pages,
            memory64: ty.memory64,
        };
        let memory = LinearMemory::new(&ty, &tunables).expect("the memory maps");
        // SAFETY: the VMContext is laid out by `offsets`.
        unsafe { publish_memory(bytes, &offsets, i as u32, &memory) };
        store.memories.push(memory);
    }
    let mut globals: Vec<Value<NoRef>> = Vec::new();
    for i in 0..module.num_defined_globals() {
        let value = module
            .global_initializer(DefinedGlobalIndex::from_u32(i))
            .eval(globals.as_mut_slice());
        let value = value.expect("the initializer evaluates");
        let record = offsets.defined_global(i) as usize;
        // SAFETY: the record is a 16-byte slot inside the VMContext.
        unsafe {
            match value {
                Value::I32(v) => (bytes.add(record) as *mut i32).write(v),
                Value::I64(v) => (bytes.add(record) as *mut i64).write(v),
                _ => panic!("the tests use integer globals"),
            }
        }
        globals.push(value);
    }
    // Type ids: structurally equal types share one (the first's index).
    let type_id = |t: usize| {
        module
            .types
            .iter()
            .position(|u| *u == module.types[t])
            .unwrap() as u32
    };
    for t in 0..module.types.len() {
        // SAFETY: a u32 slot inside the VMContext.
        unsafe { (bytes.add(offsets.type_id(t as u32) as usize) as *mut u32).write(type_id(t)) };
    }
    // Imports: the functions of `host_function`, called with a null
    // VMContext.
    // Imports named `array_*` go through a host trampoline and a host
    // context (duet_environ::entry::VMHostContext), as the runtime's will.
    let env = winch_codegen::ModuleEnv::new(&module, tunables);
    let mut host_contexts: Vec<Box<[usize; 1]>> = Vec::new();
    let mut host_trampolines = Vec::new();
    for (i, import) in module.imports.iter().enumerate() {
        let EntityIndex::Function(_) = import.kind else {
            panic!("the tests import functions only")
        };
        let record = offsets.imported_function(i as u32) as usize;
        let (wasm_call, context) = if import.name.starts_with("array_") {
            let ty = winch_codegen::FuncEnv::func_type(&env, i as u32);
            let trampoline =
                winch_codegen::compile_host_trampoline(ty, features).expect("compiles");
            let trampoline = CodeMemory::new([&trampoline], |_| None).expect("loads");
            let context = Box::new([host_function(&import.name)]);
            let pointers = (
                trampoline.function(0).unwrap() as usize,
                context.as_ptr() as usize,
            );
            host_trampolines.push(trampoline);
            host_contexts.push(context);
            pointers
        } else {
            (host_function(&import.name), 0)
        };
        // SAFETY: a VMFunctionImport record inside the VMContext.
        unsafe {
            (bytes.add(record) as *mut usize).write(wasm_call);
            (bytes.add(record + 8) as *mut usize).write(context);
        }
    }
    // Function references, then tables with their active segments.
    let code_address = |f: FuncIndex| -> usize {
        match f.as_u32().checked_sub(num_imported) {
            Some(defined) => code.function(defined as usize).unwrap() as usize,
            None => host_function(&module.imports[f.index()].name),
        }
    };
    for (k, &f) in module.escaped_functions().iter().enumerate() {
        let record = offsets.func_ref(k as u32) as usize;
        let ty = type_id(module.functions[f.index()].index());
        // SAFETY: a VMFuncRef record inside the VMContext.
        unsafe {
            (bytes.add(record) as *mut usize).write(code_address(f));
            (bytes.add(record + 8) as *mut *mut u8).write(bytes);
            (bytes.add(record + 16) as *mut u32).write(ty);
        }
    }
    let mut tables: Vec<Vec<usize>> = module
        .tables
        .iter()
        .map(|t| vec![0usize; t.minimum as usize])
        .collect();
    for segment in &module.elements {
        use duet_environ::module::{ElementItems, ElementKind};
        let (ElementKind::Active { table, offset }, ElementItems::Functions(items)) =
            (&segment.kind, &segment.items)
        else {
            continue;
        };
        let at = offset.as_constant_offset().expect("a constant offset") as usize;
        for (i, item) in items.iter().enumerate() {
            let func_ref = item.map_or(0, |f| {
                let k = module.func_ref_index(f).unwrap().as_u32();
                bytes as usize + offsets.func_ref(k) as usize
            });
            tables[table.index()][at + i] = func_ref;
        }
    }
    for (i, table) in tables.iter_mut().enumerate() {
        let record = offsets.defined_table(i as u32) as usize;
        // SAFETY: a VMTableDefinition record inside the VMContext.
        unsafe {
            (bytes.add(record) as *mut *mut usize).write(table.as_mut_ptr());
            (bytes.add(record + 8) as *mut u64).write(table.len() as u64);
        }
    }
    let mut builtins = Box::new([0usize; Builtin::ALL.len()]);
    let grow: extern "sysv64" fn(*mut u8, u32, u64) -> u64 = test_memory_grow;
    builtins[Builtin::MemoryGrow.index() as usize] = grow as usize;
    // SAFETY: both header fields are 8-aligned pointers in the VMContext.
    unsafe {
        (bytes.add(VMContext::BUILTINS as usize) as *mut *const usize).write(builtins.as_ptr());
        (bytes.add(VMContext::STORE as usize) as *mut *mut TestStore).write(&mut *store);
    }
    Ok(Compiled {
        code,
        num_imported,
        exports,
        vmctx,
        store,
        _builtins: builtins,
        _tables: tables,
        _host: (host_trampolines, host_contexts),
    })
}

impl Compiled {
    fn entry(&self, name: &str) -> *const u8 {
        let (_, index) = self
            .exports
            .iter()
            .find(|(n, _)| n == name)
            .expect("an exported function");
        self.code
            .function((index - self.num_imported) as usize)
            .expect("a defined function")
    }

    fn vmctx(&mut self) -> *mut u8 {
        self.vmctx.as_mut_ptr() as *mut u8
    }

    /// Calls `name` with up to three integer arguments and an integer (or
    /// no) result; unused arguments are ignored by the callee.
    fn call(&mut self, name: &str, args: &[i64]) -> i64 {
        let entry = self.entry(name);
        let vmctx = self.vmctx();
        let a = |i: usize| args.get(i).copied().unwrap_or(0);
        // SAFETY: the code was compiled for the wasm calling convention,
        // which is System V for integer arguments with the VMContext first;
        // extra arguments in registers are ignored, and the result register
        // is read whatever the function returns.
        unsafe {
            let f: extern "sysv64" fn(*mut u8, i64, i64, i64) -> i64 = std::mem::transmute(entry);
            f(vmctx, a(0), a(1), a(2))
        }
    }

    fn call_i32(&mut self, name: &str, args: &[i64]) -> i32 {
        let result = self.call(name, args);
        assert_eq!(
            result >> 32,
            0,
            "an i32 result with its upper half set: {result:#x}"
        );
        result as i32
    }
}

/// Interesting integers and a fixed-seed stream of others.
fn inputs() -> Vec<i64> {
    let mut values = vec![
        0,
        1,
        -1,
        2,
        7,
        -7,
        31,
        32,
        33,
        63,
        64,
        i32::MAX as i64,
        i32::MIN as i64,
        i64::MAX,
        i64::MIN,
    ];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..40 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        values.push(x as i64);
        values.push((x as i64) >> 40);
    }
    values
}

#[test]
fn integer_arithmetic_matches_rust() {
    let mut m = compile(
        r#"(module
          (func (export "mix32") (param i32 i32) (result i32)
            local.get 0 local.get 1 i32.add
            local.get 0 i32.const 3 i32.mul
            i32.xor
            local.get 1 i32.const 5 i32.shl
            i32.sub)
          (func (export "mix64") (param i64 i64) (result i64)
            local.get 0 local.get 1 i64.mul
            local.get 1 i64.const 0x123456789 i64.and
            i64.or
            local.get 0 local.get 1 i64.rotl
            i64.add)
          (func (export "shifts") (param i32 i32) (result i32)
            local.get 0 local.get 1 i32.shr_s
            local.get 0 local.get 1 i32.shr_u
            i32.add
            local.get 0 local.get 1 i32.rotr
            i32.xor)
          (func (export "bits") (param i64) (result i64)
            local.get 0 i64.clz
            local.get 0 i64.ctz i64.const 8 i64.shl i64.or
            local.get 0 i64.popcnt i64.const 16 i64.shl i64.or)
          (func (export "compare") (param i32 i32) (result i32)
            local.get 0 local.get 1 i32.lt_s
            local.get 0 local.get 1 i32.lt_u i32.const 1 i32.shl i32.or
            local.get 0 local.get 1 i32.ge_s i32.const 2 i32.shl i32.or
            local.get 0 i32.eqz i32.const 3 i32.shl i32.or
            local.get 0 local.get 1 i32.ne i32.const 4 i32.shl i32.or)
          (func (export "extend") (param i64) (result i64)
            local.get 0 i32.wrap_i64 i64.extend_i32_s
            local.get 0 i32.wrap_i64 i64.extend_i32_u i64.add
            local.get 0 i64.extend8_s i64.add
            local.get 0 i64.extend16_s i64.add)
          (func (export "division") (param i32 i32) (result i32)
            local.get 0 local.get 1 i32.div_u
            local.get 0 local.get 1 i32.rem_s i32.add
            local.get 0 local.get 1 i32.rem_u i32.add))"#,
    )
    .expect("compiles");
    for &a in &inputs() {
        for &b in &inputs() {
            let (x, y) = (a as i32, b as i32);
            let want = x.wrapping_add(y) ^ x.wrapping_mul(3);
            let want = want.wrapping_sub(y.wrapping_shl(5));
            assert_eq!(m.call_i32("mix32", &[a, b]), want, "mix32({x}, {y})");

            let want = (a.wrapping_mul(b) | (b & 0x1_2345_6789))
                .wrapping_add(a.rotate_left(b as u32 & 63));
            assert_eq!(m.call("mix64", &[a, b]), want, "mix64({a}, {b})");

            let s = y as u32 & 31;
            let want = (x >> s).wrapping_add(((x as u32) >> s) as i32) ^ (x.rotate_right(s));
            assert_eq!(m.call_i32("shifts", &[a, b]), want, "shifts({x}, {y})");

            let want = (x < y) as i32
                | (((x as u32) < (y as u32)) as i32) << 1
                | ((x >= y) as i32) << 2
                | ((x == 0) as i32) << 3
                | ((x != y) as i32) << 4;
            assert_eq!(m.call_i32("compare", &[a, b]), want, "compare({x}, {y})");

            if y != 0 {
                let want = ((x as u32) / (y as u32)) as i32;
                let want = want
                    .wrapping_add(x.wrapping_rem(y))
                    .wrapping_add(((x as u32) % (y as u32)) as i32);
                assert_eq!(m.call_i32("division", &[a, b]), want, "division({x}, {y})");
            }
        }
        let want = a.leading_zeros() as i64
            | (a.trailing_zeros() as i64) << 8
            | (a.count_ones() as i64) << 16;
        assert_eq!(m.call("bits", &[a]), want, "bits({a})");
        let want = (a as i32 as i64)
            .wrapping_add(a as u32 as i64)
            .wrapping_add(a as i8 as i64)
            .wrapping_add(a as i16 as i64);
        assert_eq!(m.call("extend", &[a]), want, "extend({a})");
    }
}

#[test]
fn control_flow_matches_rust() {
    let mut m = compile(
        r#"(module
          (func $fib (export "fib") (param i64) (result i64)
            local.get 0 i64.const 2 i64.lt_u
            if (result i64)
              local.get 0
            else
              local.get 0 i64.const 1 i64.sub call $fib
              local.get 0 i64.const 2 i64.sub call $fib
              i64.add
            end)
          (func (export "factorial") (param i64) (result i64) (local i64)
            i64.const 1 local.set 1
            block
              loop
                local.get 0 i64.eqz br_if 1
                local.get 1 local.get 0 i64.mul local.set 1
                local.get 0 i64.const 1 i64.sub local.set 0
                br 0
              end
            end
            local.get 1)
          (func (export "gcd") (param i64 i64) (result i64)
            loop
              local.get 1 i64.eqz
              if
                local.get 0 return
              end
              local.get 0 local.get 1 i64.rem_u
              local.get 1 local.set 0
              local.set 1
              br 0
            end
            unreachable)
          (func (export "pick") (param i32 i32 i32) (result i32)
            local.get 0 local.get 1 local.get 2 select)
          (func (export "blocks") (param i32) (result i32)
            block (result i32)
              i32.const 10
              local.get 0 i32.const 5 i32.gt_s
              br_if 0
              drop
              block (result i32)
                i32.const 20
                local.get 0 i32.eqz
                br_if 1
                drop
                i32.const 30
              end
            end
            i32.const 1 i32.add))"#,
    )
    .expect("compiles");
    fn fib(n: i64) -> i64 {
        if (n as u64) < 2 {
            n
        } else {
            fib(n - 1).wrapping_add(fib(n - 2))
        }
    }
    for n in 0..20 {
        assert_eq!(m.call("fib", &[n]), fib(n), "fib({n})");
        let factorial = (1..=n).fold(1i64, |acc, k| acc.wrapping_mul(k));
        assert_eq!(m.call("factorial", &[n]), factorial, "factorial({n})");
    }
    for &a in &inputs() {
        for &b in &inputs() {
            let (mut x, mut y) = (a as u64, b as u64);
            while y != 0 {
                (x, y) = (y, x % y);
            }
            assert_eq!(m.call("gcd", &[a, b]), x as i64, "gcd({a}, {b})");
            let c = a.wrapping_add(b);
            let want = if c as i32 != 0 { a as i32 } else { b as i32 };
            assert_eq!(m.call_i32("pick", &[a, b, c]), want);
        }
        let x = a as i32;
        let want = if x > 5 {
            11
        } else if x == 0 {
            21
        } else {
            31
        };
        assert_eq!(m.call_i32("blocks", &[a]), want, "blocks({x})");
    }
}

#[test]
fn register_pressure_spills_and_restores_values() {
    // A wide expression keeps more values live than there are registers.
    let mut body = String::new();
    for k in 1..=24 {
        body.push_str(&format!(
            "local.get 0 i64.const {k} i64.mul local.get 1 i64.xor\n"
        ));
    }
    for _ in 1..24 {
        body.push_str("i64.add\n");
    }
    let wat = format!(r#"(module (func (export "wide") (param i64 i64) (result i64) {body}))"#);
    let mut m = compile(&wat).expect("compiles");
    for &a in &inputs() {
        for &b in &inputs()[..10] {
            let want = (1..=24i64).fold(0i64, |acc, k| acc.wrapping_add(a.wrapping_mul(k) ^ b));
            assert_eq!(m.call("wide", &[a, b]), want, "wide({a}, {b})");
        }
    }
}

#[test]
fn calls_pass_many_arguments_and_multiple_results() {
    let mut m = compile(
        r#"(module
          (func $many (param i64 i64 i64 i64 i64 i64 i64 i64) (result i64)
            local.get 0 local.get 1 i64.sub
            local.get 2 i64.mul local.get 3 i64.add
            local.get 4 i64.xor local.get 5 i64.sub
            local.get 6 i64.add local.get 7 i64.mul)
          (func $pair (param i32 i32) (result i32 i32 i32)
            local.get 0 local.get 1 i32.add
            local.get 0 local.get 1 i32.sub
            local.get 0 local.get 1 i32.mul)
          (func (export "call_many") (param i64 i64) (result i64)
            local.get 0 local.get 1 i64.const 3 local.get 0 i64.const 5 local.get 1 i64.const 7 i64.const 9
            call $many)
          (func (export "call_pair") (param i32 i32) (result i32)
            local.get 0 local.get 1 call $pair
            i32.const 7 i32.mul
            i32.add
            i32.const 3 i32.mul
            i32.xor))"#,
    )
    .expect("compiles");
    for &a in &inputs() {
        for &b in &inputs() {
            let want = (a.wrapping_sub(b).wrapping_mul(3).wrapping_add(a) ^ 5)
                .wrapping_sub(b)
                .wrapping_add(7)
                .wrapping_mul(9);
            assert_eq!(m.call("call_many", &[a, b]), want, "call_many({a}, {b})");
            let (x, y) = (a as i32, b as i32);
            let (s, d, p) = (x.wrapping_add(y), x.wrapping_sub(y), x.wrapping_mul(y));
            let want = s ^ d.wrapping_add(p.wrapping_mul(7)).wrapping_mul(3);
            assert_eq!(
                m.call_i32("call_pair", &[a, b]),
                want,
                "call_pair({x}, {y})"
            );
        }
    }
}

#[test]
fn unsupported_operators_are_errors_naming_them() {
    let error = compile(r#"(module (func v128.const i64x2 0 0 drop))"#)
        .err()
        .expect("refused");
    assert!(error.to_string().contains("v128_const"), "{error}");
    let error = compile(r#"(module (func (param v128)))"#)
        .err()
        .expect("refused");
    assert!(error.to_string().contains("v128"), "{error}");
    // Unreachable code may hold operators the compiler does not support.
    compile(r#"(module (func unreachable v128.const i64x2 0 0 drop))"#).expect("dead code is fine");
}

const MEMORY_PROGRAM: &str = r#"(module
  (memory 1 3)
  (global $counter (mut i64) (i64.const 5))
  (global $seven i32 (i32.const 7))
  (func (export "store_load") (param i32 i64) (result i64)
    ;; store the i64 at addr + 8, read it back in every width
    local.get 0 local.get 1 i64.store offset=8
    local.get 0 i64.load offset=8
    local.get 0 i64.load8_s offset=9 i64.add
    local.get 0 i64.load8_u offset=10 i64.add
    local.get 0 i64.load16_s offset=11 i64.add
    local.get 0 i64.load16_u offset=12 i64.add
    local.get 0 i64.load32_s offset=8 i64.add
    local.get 0 i64.load32_u offset=12 i64.add
    local.get 0 i32.load offset=8 i64.extend_i32_u i64.add
    local.get 0 i32.load8_s offset=15 i64.extend_i32_s i64.add
    local.get 0 i32.load16_u offset=14 i64.extend_i32_u i64.add)
  (func (export "narrow_stores") (param i32 i32) (result i64)
    local.get 0 i64.const -1 i64.store
    local.get 0 local.get 1 i32.store8
    local.get 0 i32.const 0x1234 i32.store16 offset=2
    local.get 0 i64.const 0x7766554433 i64.store32 offset=4
    local.get 0 i64.load)
  (func (export "count") (param i64) (result i64)
    global.get $counter local.get 0 i64.add global.set $counter
    global.get $counter global.get $seven i64.extend_i32_u i64.mul)
  (func (export "grow") (param i32) (result i32)
    local.get 0 memory.grow
    memory.size i32.const 16 i32.shl
    i32.add)
  (func (export "last_byte") (param i32) (result i32)
    memory.size i32.const 16 i32.shl i32.const 1 i32.sub
    local.get 0 i32.store8
    memory.size i32.const 16 i32.shl i32.const 1 i32.sub
    i32.load8_u))"#;

/// The value `store_load` computes for `a` (stored little-endian at +8).
fn store_load_reference(a: i64) -> i64 {
    let b = a.to_le_bytes();
    let byte = |offset: usize| b[offset - 8];
    let half = |offset: usize| [byte(offset), byte(offset + 1)];
    let mut want = a;
    want = want.wrapping_add(byte(9) as i8 as i64);
    want = want.wrapping_add(byte(10) as i64);
    want = want.wrapping_add(i16::from_le_bytes(half(11)) as i64);
    want = want.wrapping_add(u16::from_le_bytes(half(12)) as i64);
    want = want.wrapping_add(a as i32 as i64);
    want = want.wrapping_add((a >> 32) as u32 as i64);
    want = want.wrapping_add(a as u32 as i64);
    want = want.wrapping_add(byte(15) as i8 as i64);
    want.wrapping_add(u16::from_le_bytes(half(14)) as i64)
}

fn check_memory_program(mut m: Compiled) {
    for &a in &inputs() {
        for addr in [0i64, 1, 7, 100, 65536 - 24] {
            let want = store_load_reference(a);
            assert_eq!(
                m.call("store_load", &[addr, a]),
                want,
                "store_load({addr}, {a:#x})"
            );
        }
        let want = i64::from_le_bytes([a as u8, 0xff, 0x34, 0x12, 0x33, 0x44, 0x55, 0x66]);
        assert_eq!(
            m.call("narrow_stores", &[64, a]),
            want,
            "narrow_stores({a:#x})"
        );
    }
    let mut counter = 5i64;
    for delta in [1i64, 10, -3, 1 << 40] {
        counter = counter.wrapping_add(delta);
        assert_eq!(m.call("count", &[delta]), counter.wrapping_mul(7));
    }
    // Grow by one page (1 -> 2), then past the maximum of 3.
    assert_eq!(m.call_i32("grow", &[1]), 1 + (2 << 16));
    assert_eq!(m.call_i32("grow", &[5]), -1 + (2 << 16));
    assert_eq!(m.store.memories[0].pages(), 2);
    // The new page is usable.
    assert_eq!(m.call_i32("last_byte", &[0xab]), 0xab);
}

#[test]
fn memory_and_globals_with_guard_pages() {
    check_memory_program(compile(MEMORY_PROGRAM).expect("compiles"));
}

#[test]
fn memory_with_explicit_bounds_checks() {
    let tunables = Tunables {
        memory_reservation: 0,
        memory_guard_size: 0,
    };
    check_memory_program(compile_with(MEMORY_PROGRAM, tunables).expect("compiles"));
}

#[test]
fn indirect_and_imported_calls_tables_and_br_table() {
    let mut m = compile(
        r#"(module
          (type $binop (func (param i32 i32) (result i32)))
          (type $unop (func (param i32) (result i32)))
          (import "host" "twice" (func $twice (param i64) (result i64)))
          (import "host" "sum3" (func $sum3 (param i32 i32 i32) (result i32)))
          (table 4 funcref)
          (elem (i32.const 0) $add $sub $neg)
          (func $add (type $binop) local.get 0 local.get 1 i32.add)
          (func $sub (type $binop) local.get 0 local.get 1 i32.sub)
          (func $neg (type $unop) i32.const 0 local.get 0 i32.sub)
          (func (export "dispatch") (param i32 i32 i32) (result i32)
            local.get 1 local.get 2 local.get 0 call_indirect (type $binop))
          (func (export "switch") (param i32) (result i32)
            block block block block
              local.get 0 br_table 0 1 2 3
            end i32.const 10 return
            end i32.const 20 return
            end i32.const 30 return
            end i32.const 40)
          (func (export "switch_value") (param i32) (result i32)
            block (result i32)
              block (result i32)
                i32.const 7 local.get 0 br_table 0 1 1
              end
              i32.const 100 i32.add
            end)
          (func (export "host") (param i64 i32) (result i64)
            local.get 0 call $twice
            local.get 1 local.get 1 i32.const 3 call $sum3 i64.extend_i32_s
            i64.add)
          (func (export "refs") (param i32) (result i32)
            local.get 0 table.get 0 ref.is_null
            table.size 0 i32.const 8 i32.shl i32.or)
          (func (export "set_and_call") (param i32) (result i32)
            i32.const 3 ref.func $sub table.set 0
            i32.const 9 local.get 0 i32.const 3 call_indirect (type $binop)))"#,
    )
    .expect("compiles");
    // Element 3 starts null (set_and_call fills it below).
    for i in 0..4 {
        let null = (i == 3) as i32;
        assert_eq!(m.call_i32("refs", &[i]), null | (4 << 8), "refs({i})");
    }
    for &a in &inputs() {
        for &b in &inputs()[..20] {
            let (x, y) = (a as i32, b as i32);
            assert_eq!(m.call_i32("dispatch", &[0, a, b]), x.wrapping_add(y));
            assert_eq!(m.call_i32("dispatch", &[1, a, b]), x.wrapping_sub(y));
            let want = a
                .wrapping_mul(2)
                .wrapping_add(y.wrapping_mul(2).wrapping_add(3) as i64);
            assert_eq!(m.call("host", &[a, b]), want, "host({a}, {y})");
        }
        let want = match a as u32 {
            0 => 10,
            1 => 20,
            2 => 30,
            _ => 40,
        };
        assert_eq!(m.call_i32("switch", &[a]), want, "switch({})", a as u32);
        let want = if a as u32 == 0 { 107 } else { 7 };
        assert_eq!(
            m.call_i32("switch_value", &[a]),
            want,
            "switch_value({})",
            a as u32
        );
        assert_eq!(
            m.call_i32("set_and_call", &[a]),
            9i32.wrapping_sub(a as i32)
        );
    }
}

#[test]
fn bulk_memory_and_table_operations_compile_to_builtin_calls() {
    let wasm = wat::parse_str(
        r#"(module
          (memory 1) (table 2 funcref) (data $d "hello") (elem $e func 0)
          (func (param i32 i32 i32)
            local.get 0 local.get 1 local.get 2 memory.fill
            local.get 0 local.get 1 local.get 2 memory.copy
            local.get 0 local.get 1 local.get 2 memory.init $d
            data.drop $d
            local.get 0 local.get 1 local.get 2 table.init $e
            elem.drop $e
            local.get 0 local.get 1 local.get 2 table.copy
            local.get 0 ref.null func local.get 2 table.fill 0
            ref.null func local.get 1 table.grow 0 drop))"#,
    )
    .unwrap();
    let translation = translate(&wasm, wasmparser::WasmFeatures::default()).unwrap();
    let code = winch_codegen::compile_module(
        translation,
        Tunables::default(),
        cranelift_asm::x64::CpuFeatures::all(),
    )
    .expect("compiles");
    // Six of the operations can fail: each is followed by a trap check.
    assert!(code[0].traps().len() >= 6, "{:?}", code[0].traps());
}

#[test]
fn entry_trampolines_pass_arguments_and_results_through_the_values_array() {
    let wat = r#"(module
      (func (export "many") (param i64 i64 i64 i64 i64 i64 i64 i32) (result i64)
        local.get 0 local.get 1 i64.sub local.get 2 i64.mul local.get 3 i64.add
        local.get 4 i64.xor local.get 5 i64.sub local.get 6 i64.add
        local.get 7 i64.extend_i32_s i64.mul)
      (func (export "triple") (param i32) (result i32 i64 i32)
        local.get 0 i32.const 1 i32.add
        local.get 0 i64.extend_i32_s i64.const 1000 i64.mul
        local.get 0 i32.const 3 i32.mul))"#;
    let mut m = compile(wat).expect("compiles");
    let wasm = wat::parse_str(wat).unwrap();
    let module = translate(&wasm, wasmparser::WasmFeatures::default())
        .unwrap()
        .module;
    let env = winch_codegen::ModuleEnv::new(&module, Tunables::default());
    let features = cranelift_asm::x64::CpuFeatures::host();
    let trampolines: Vec<_> = (0..2)
        .map(|f| {
            let ty = winch_codegen::FuncEnv::func_type(&env, f);
            winch_codegen::compile_entry_trampoline(ty, features).expect("compiles")
        })
        .collect();
    let trampolines = CodeMemory::new(&trampolines, |_| None).expect("loads");
    type Entry = extern "sysv64" fn(*mut u8, *const u8, *mut [u8; 16], *mut [usize; 2]) -> u32;
    let call = |m: &mut Compiled, f: usize, name: &str, values: &mut [[u8; 16]]| {
        let mut state = [0usize; 2];
        let (callee, vmctx) = (m.entry(name), m.vmctx());
        // SAFETY: the trampoline follows duet_environ::entry for the
        // callee's type, and `values` has a slot per argument and result.
        let status = unsafe {
            let entry: Entry = std::mem::transmute(trampolines.function(f).unwrap());
            entry(vmctx, callee, values.as_mut_ptr(), &mut state)
        };
        assert_eq!(status, 0, "no trap");
        assert_ne!(state[0], 0, "the resume point was recorded");
    };
    let slot = |v: i64| {
        let mut s = [0u8; 16];
        s[..8].copy_from_slice(&v.to_le_bytes());
        s
    };
    let read = |s: &[u8; 16]| i64::from_le_bytes(s[..8].try_into().unwrap());
    for &a in &inputs() {
        let args = [a, 3, a >> 3, 5, 7, a.wrapping_mul(3), 11, -2];
        let mut values: Vec<[u8; 16]> = args.iter().map(|&v| slot(v)).collect();
        call(&mut m, 0, "many", &mut values);
        let want = (args[0]
            .wrapping_sub(args[1])
            .wrapping_mul(args[2])
            .wrapping_add(args[3])
            ^ args[4])
            .wrapping_sub(args[5])
            .wrapping_add(args[6])
            .wrapping_mul(args[7] as i32 as i64);
        assert_eq!(read(&values[0]), want, "many({args:?})");

        let mut values = vec![slot(a), [0; 16], [0; 16]];
        call(&mut m, 1, "triple", &mut values);
        let x = a as i32;
        assert_eq!(read(&values[0]) as i32, x.wrapping_add(1));
        assert_eq!(read(&values[1]), (x as i64).wrapping_mul(1000));
        assert_eq!(read(&values[2]) as i32, x.wrapping_mul(3));
    }
}

#[test]
fn host_functions_are_called_through_host_trampolines() {
    let mut m = compile(
        r#"(module
          (import "host" "array_divmod" (func $divmod (param i64 i64) (result i64 i64)))
          (func (export "f") (param i64 i64) (result i64)
            local.get 0 local.get 1 call $divmod
            i64.const 1000 i64.mul i64.add))"#,
    )
    .expect("compiles");
    for &a in &inputs() {
        for &b in &inputs() {
            if b == 0 {
                continue; // the host function fails: a trap, which needs the runtime's handler
            }
            let (q, r) = ((a as u64) / (b as u64), (a as u64) % (b as u64));
            let want = (q as i64).wrapping_add((r as i64).wrapping_mul(1000));
            assert_eq!(m.call("f", &[a, b]), want, "f({a}, {b})");
        }
    }
}
