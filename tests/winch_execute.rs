//! The baseline compiler end to end: WebAssembly text is translated and
//! validated (duet-environ), every function compiled (winch-codegen),
//! linked into executable memory (duet's `CodeMemory`), and called natively
//! through the wasm calling convention, which for integer signatures is
//! System V with the VMContext first, and for floats too (`f32` and `f64`
//! arguments in `xmm0`-`xmm7`, a float result in `xmm0`).
//!
//! Each program's results are checked against the same computation in Rust
//! over many inputs. Programs stay clear of traps: turning a fault into a
//! trap needs the runtime's signal handling, which comes with the runtime.

use duet::code::{CodeMemory, UnlinkedCode};
use duet::memory::{LinearMemory, MemoryType};
use duet::traps::{RegisteredCode, TrapInfo, call_wasm};
use duet_environ::abi::FUNCTION_NAMESPACE;
use duet_environ::builtins::Builtin;
use duet_environ::module::{DefinedGlobalIndex, EntityIndex, FuncIndex, Value, translate};
use duet_environ::trap::Trap;
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
    code: RegisteredCode,
    /// Entry trampolines, one per function (by function index).
    trampolines: RegisteredCode,
    num_imported: u32,
    exports: Vec<(String, u32)>,
    /// 16-aligned storage for the VMContext.
    vmctx: Vec<u128>,
    store: Box<TestStore>,
    _builtins: Box<[usize; Builtin::ALL.len()]>,
    _tables: Vec<Vec<usize>>,
    /// Host trampolines and contexts; each context is boxed because the
    /// VMContext points into it (a `Vec` of arrays would move them).
    #[allow(
        clippy::vec_box,
        reason = "the VMContext holds pointers into the boxes"
    )]
    _host: (Vec<CodeMemory>, Vec<Box<[usize; 1]>>),
}

/// Every function of a module, compiled for a CPU with `features` but not
/// linked (for what the code holds rather than what it does).
fn compile_functions(
    wat: &str,
    features: cranelift_asm::x64::CpuFeatures,
) -> Result<Vec<cranelift_asm::FinishedCode>, CompileError> {
    let wasm = wat::parse_str(wat).expect("the test's text parses");
    let translation =
        translate(&wasm, wasmparser::WasmFeatures::default()).expect("the module validates");
    winch_codegen::compile_module(translation, Tunables::default(), features)
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
    let linked = unlinked
        .link(|name| {
            (name.namespace == FUNCTION_NAMESPACE)
                .then(|| addresses.get((name.index - num_imported) as usize).copied())
                .flatten()
        })
        .expect("every call resolves");
    // Registered, so that a fault in this code comes back as a trap.
    let code = RegisteredCode::new(linked, &functions);
    // An entry trampoline for each function type the module defines.
    let trampolines: Vec<_> = (0..module.functions.len() as u32)
        .map(|f| {
            let ty = module.func_type(FuncIndex::from_u32(f));
            duet_environ::trampoline::compile_entry_trampoline(ty, features).expect("compiles")
        })
        .collect();
    let trampoline_code = CodeMemory::new(&trampolines, |_| None).expect("loads");
    let trampolines = RegisteredCode::new(trampoline_code, &trampolines);
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
                Value::F32(bits) => (bytes.add(record) as *mut u32).write(bits),
                Value::F64(bits) => (bytes.add(record) as *mut u64).write(bits),
                _ => panic!("the tests use numeric globals"),
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
    let mut host_contexts: Vec<Box<[usize; 1]>> = Vec::new();
    let mut host_trampolines = Vec::new();
    for (i, import) in module.imports.iter().enumerate() {
        let EntityIndex::Function(_) = import.kind else {
            panic!("the tests import functions only")
        };
        let record = offsets.imported_function(i as u32) as usize;
        let (wasm_call, context) = if import.name.starts_with("array_") {
            let ty = module.func_type(FuncIndex::from_u32(i as u32));
            let trampoline =
                duet_environ::trampoline::compile_host_trampoline(ty, features).expect("compiles");
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
            Some(defined) => code.code().function(defined as usize).unwrap() as usize,
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
        trampolines,
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
            .code()
            .function((index - self.num_imported) as usize)
            .expect("a defined function")
    }

    /// Calls `name` through its entry trampoline with integer arguments;
    /// a trap comes back as `Err`.
    fn call_checked(&mut self, name: &str, args: &[i64]) -> Result<i64, TrapInfo> {
        let (_, index) = *self
            .exports
            .iter()
            .find(|(n, _)| n == name)
            .expect("exported");
        let entry = self.entry(name);
        let trampoline = self.trampolines.code().function(index as usize).unwrap();
        let mut values: Vec<[u8; 16]> = args
            .iter()
            .map(|v| {
                let mut slot = [0u8; 16];
                slot[..8].copy_from_slice(&v.to_le_bytes());
                slot
            })
            .chain(std::iter::repeat([0; 16]))
            .take(args.len().max(1))
            .collect();
        let vmctx = self.vmctx();
        // SAFETY: the trampoline matches the callee's type, `values` has a
        // slot per argument and result, and the code is registered.
        unsafe { call_wasm(trampoline, vmctx, entry, values.as_mut_ptr())? };
        Ok(i64::from_le_bytes(values[0][..8].try_into().unwrap()))
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

    /// Calls `name`, a function of type `(a) -> r`, as System V would (the
    /// wasm convention for up to five integer and eight float arguments).
    /// `A` and `R` must be the Rust types of the wasm ones (`i32`, `i64`,
    /// `f32`, `f64`).
    fn call1<A, R>(&mut self, name: &str, a: A) -> R {
        let entry = self.entry(name);
        let vmctx = self.vmctx();
        // SAFETY: as in `call`; the caller names the function's own type.
        unsafe {
            let f: extern "sysv64" fn(*mut u8, A) -> R = std::mem::transmute_copy(&entry);
            f(vmctx, a)
        }
    }

    /// Calls `name`, a function of type `(a, b, c) -> r` (see `call1`).
    fn call3<A, B, C, R>(&mut self, name: &str, a: A, b: B, c: C) -> R {
        let entry = self.entry(name);
        let vmctx = self.vmctx();
        // SAFETY: as in `call`; the caller names the function's own type.
        unsafe {
            let f: extern "sysv64" fn(*mut u8, A, B, C) -> R = std::mem::transmute_copy(&entry);
            f(vmctx, a, b, c)
        }
    }

    /// Calls `name`, a function of type `(a, b) -> r` (see `call1`).
    fn call2<A, B, R>(&mut self, name: &str, a: A, b: B) -> R {
        let entry = self.entry(name);
        let vmctx = self.vmctx();
        // SAFETY: as in `call`; the caller names the function's own type.
        unsafe {
            let f: extern "sysv64" fn(*mut u8, A, B) -> R = std::mem::transmute_copy(&entry);
            f(vmctx, a, b)
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
            i64.add
            local.get 0 i64.const 0xffffffff i64.and
            i64.xor)
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
                .wrapping_add(a.rotate_left(b as u32 & 63))
                ^ (a & 0xffff_ffff);
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
fn division_by_constants_matches_rust() {
    // `i32.div_u` and `i32.rem_u` by a constant go through its reciprocal
    // (rounded up for 10, down for 7 and 641); powers of two and signed
    // division keep their own code.
    for d in [3u32, 7, 10, 641, 139_968, 0x8000_0001, u32::MAX, 16] {
        let mut m = compile(&format!(
            r#"(module (func (export "f") (param i32 i32) (result i64)
                local.get 0 i32.const {d} i32.div_u i64.extend_i32_u i64.const 32 i64.shl
                local.get 1 i32.const {d} i32.rem_u i64.extend_i32_u i64.or))"#,
            d = d as i32
        ))
        .expect("compiles");
        let top = u32::MAX / d * d;
        let mut values: Vec<u32> = vec![0, 1, d - 1, d, d.wrapping_add(1), top - 1, top];
        values.extend(inputs().iter().map(|&v| v as u32));
        for &a in &values {
            for &b in &values[..20] {
                let want = (u64::from(a / d) << 32) | u64::from(b % d);
                assert_eq!(
                    m.call("f", &[i64::from(a), i64::from(b)]) as u64,
                    want,
                    "{a} / {d}, {b} % {d}"
                );
            }
        }
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

/// `weigh` below: every argument weighed differently, so a swapped or
/// misplaced argument changes the result.
fn weigh(i: [i64; 8], f: [f64; 3]) -> i64 {
    let ints = [3, 5, 7, 11, 13, 17, 19, 23]
        .iter()
        .zip(i)
        .fold(0i64, |acc, (&w, x)| acc.wrapping_add(x.wrapping_mul(w)));
    let floats = f[0] * 29.0 + f[1] * 31.0 + f[2] * 37.0;
    ints.wrapping_add(floats as i64)
}

#[test]
fn call_arguments_move_from_wherever_they_are() {
    // The arguments of a call go from registers, locals, constants and
    // spilled slots straight to the argument registers and stack slots.
    // `in_registers` leaves six integer arguments in rax, rcx, rdx, rsi,
    // rdi and r8, whose argument registers are rsi, rdx, rcx, r8, r9 and a
    // stack slot: rcx and rdx swap (a cycle through the scratch register)
    // and rsi must be read before it is written; the three floats are in
    // xmm1-xmm3 above a spilled float, so they shift down one register.
    // `spilled` computes more values than there are registers, so the
    // arguments are in memory.
    let weigh_wat = r#"
      (func $weigh (param i64 i64 i64 i64 i64 i64 i64 i64 f64 f64 f64) (result i64)
        local.get 0 i64.const 3 i64.mul
        local.get 1 i64.const 5 i64.mul i64.add
        local.get 2 i64.const 7 i64.mul i64.add
        local.get 3 i64.const 11 i64.mul i64.add
        local.get 4 i64.const 13 i64.mul i64.add
        local.get 5 i64.const 17 i64.mul i64.add
        local.get 6 i64.const 19 i64.mul i64.add
        local.get 7 i64.const 23 i64.mul i64.add
        local.get 8 f64.const 29 f64.mul
        local.get 9 f64.const 31 f64.mul f64.add
        local.get 10 f64.const 37 f64.mul f64.add
        i64.trunc_sat_f64_s i64.add)"#;
    // The six integers both callers compute first.
    let six = "local.get 0 i64.const 1 i64.add local.get 1 i64.const 2 i64.add
        local.get 0 i64.const 3 i64.xor local.get 1 i64.const 4 i64.sub
        local.get 0 i64.const 5 i64.or local.get 1 i64.const 6 i64.mul";
    let wat = format!(
        r#"(module {weigh_wat}
          (func (export "in_registers") (param i64 i64) (result i64) (local i64)
            local.get 0 f64.convert_i64_s
            {six}
            local.get 0
            i64.const -9
            local.get 1 f64.convert_i64_s
            local.get 0 f64.convert_i64_s
            local.get 1 f64.convert_i64_s
            f64.const 0.5 f64.const 0.25 local.get 0 i32.wrap_i64 select
            f64.sub
            call $weigh
            local.set 2
            i64.trunc_sat_f64_s local.get 2 i64.add)
          (func (export "spilled") (param i64 i64) (result i64)
            {six}
            local.get 0 i64.const 7 i64.add
            local.get 1 i64.const 8 i64.add
            local.get 0 f64.convert_i64_s
            local.get 1 f64.convert_i64_s f64.const 0.5 f64.add
            local.get 0 f64.convert_i64_s
            call $weigh))"#
    );
    let mut m = compile(&wat).expect("compiles");
    for &a in &inputs() {
        for &b in &inputs()[..12] {
            let (fa, fb) = (a as f64, b as f64);
            let half = if a as i32 != 0 { 0.5 } else { 0.25 };
            // The six integers both callers compute, then two more.
            let ints = |seventh: i64, eighth: i64| {
                [
                    a.wrapping_add(1),
                    b.wrapping_add(2),
                    a ^ 3,
                    b.wrapping_sub(4),
                    a | 5,
                    b.wrapping_mul(6),
                    seventh,
                    eighth,
                ]
            };
            let want = weigh(ints(a, -9), [fb, fa, fb - half]).wrapping_add(fa as i64);
            assert_eq!(
                m.call("in_registers", &[a, b]),
                want,
                "in_registers({a}, {b})"
            );
            let want = weigh(
                ints(a.wrapping_add(7), b.wrapping_add(8)),
                [fa, fb + 0.5, fa],
            );
            assert_eq!(m.call("spilled", &[a, b]), want, "spilled({a}, {b})");
        }
    }
}

#[test]
fn unsupported_operators_are_errors_naming_them() {
    let error = compile(r#"(module (func return_call 0))"#)
        .err()
        .expect("refused");
    assert!(error.to_string().contains("return_call"), "{error}");
    // Unreachable code may hold operators the compiler does not support.
    compile(r#"(module (func unreachable return_call 0))"#).expect("dead code is fine");
}

/// SIMD needs SSE4.1: on a CPU without it, a `v128` anywhere (a parameter,
/// an operator) is an error naming the feature, never code.
#[test]
fn simd_without_sse41_is_refused_naming_the_feature() {
    let baseline = cranelift_asm::x64::CpuFeatures::baseline();
    for wat in [
        r#"(module (func (param v128)))"#,
        r#"(module (func v128.const i64x2 0 0 drop))"#,
        r#"(module (func (local v128)))"#,
    ] {
        let wasm = wat::parse_str(wat).unwrap();
        let translation = translate(&wasm, wasmparser::WasmFeatures::default()).unwrap();
        let Err(error) = winch_codegen::compile_module(translation, Tunables::default(), baseline)
        else {
            panic!("{wat}: compiled without SSE4.1");
        };
        assert!(error.to_string().contains("sse4.1"), "{wat}: {error}");
    }
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
    let tunables = Tunables::NO_RESERVATION;
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
    let features = cranelift_asm::x64::CpuFeatures::host();
    let trampolines: Vec<_> = (0..2)
        .map(|f| {
            let ty = module.func_type(FuncIndex::from_u32(f));
            duet_environ::trampoline::compile_entry_trampoline(ty, features).expect("compiles")
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

// ---- Floats ------------------------------------------------------------------

/// Reads an `i32` result returned as 64 bits, checking its upper half is
/// clear (invariant 2 of the compiler).
fn checked_i32(result: i64, what: &str) -> i32 {
    assert_eq!(result >> 32, 0, "{what}: an i32 with its upper half set");
    result as i32
}

/// Interesting `f64`s: zeros, infinities, NaNs with payloads and either
/// sign, subnormals, rounding ties, values around the integer bounds, and
/// a fixed-seed stream of others.
fn f64_inputs() -> Vec<f64> {
    let mut values = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -0.5,
        1.5,
        -1.5,
        2.5,
        -2.5,
        3.5,
        -0.9,
        0.49999999999999994,
        -0.49999999999999994,
        4503599627370495.5,
        4503599627370497.0,
        9007199254740992.0,
        1.0 / 3.0,
        std::f64::consts::PI,
        -7.25,
        1e300,
        -1e300,
        1e-300,
        f64::MIN_POSITIVE,
        -f64::MIN_POSITIVE,
        f64::from_bits(1),
        -f64::from_bits(1),
        f64::from_bits(0x000f_ffff_ffff_ffff),
        f64::MAX,
        f64::MIN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        -f64::NAN,
        f64::from_bits(0x7ff0_0000_0000_0001), // signaling
        f64::from_bits(0x7ff8_dead_beef_0001),
        f64::from_bits(0xfff4_0000_0000_0000), // negative, signaling
        2147483647.0,
        2147483647.9,
        2147483648.0,
        -2147483648.0,
        -2147483648.9,
        -2147483649.0,
        4294967295.0,
        4294967295.5,
        4294967296.0,
        9223372036854774784.0, // the largest below 2^63
        9223372036854775808.0, // 2^63
        -9223372036854775808.0,
        -9223372036854777856.0, // the next below -2^63
        18446744073709549568.0, // the largest below 2^64
        18446744073709551616.0, // 2^64
    ];
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for _ in 0..30 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        values.push(f64::from_bits(x));
        values.push((x >> 11) as f64 / (1u64 << 40) as f64 - 4096.0);
    }
    values
}

/// The `f32` counterparts of [`f64_inputs`].
fn f32_inputs() -> Vec<f32> {
    let mut values = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -0.5,
        1.5,
        -1.5,
        2.5,
        -2.5,
        3.5,
        -0.9,
        0.49999997,
        -0.49999997,
        8388607.5,
        8388609.0,
        16777216.0,
        1.0 / 3.0,
        std::f32::consts::PI,
        -7.25,
        1e38,
        -1e38,
        1e-38,
        f32::MIN_POSITIVE,
        -f32::MIN_POSITIVE,
        f32::from_bits(1),
        -f32::from_bits(1),
        f32::from_bits(0x007f_ffff),
        f32::MAX,
        f32::MIN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        -f32::NAN,
        f32::from_bits(0x7f80_0001), // signaling
        f32::from_bits(0x7fc0_beef),
        f32::from_bits(0xffa0_0000), // negative, signaling
        2147483520.0,                // the largest below 2^31
        2147483648.0,
        -2147483648.0,
        -2147483904.0, // the next below -2^31
        4294967040.0,  // the largest below 2^32
        4294967296.0,
        9223371487098961920.0, // the largest below 2^63
        9223372036854775808.0,
        -9223372036854775808.0,
        -9223373136366403584.0, // the next below -2^63
        18446742974197923840.0, // the largest below 2^64
        18446744073709551616.0,
    ];
    let mut x: u32 = 0x9E37_79B9;
    for _ in 0..30 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        values.push(f32::from_bits(x));
        values.push((x >> 8) as f32 / 4096.0 - 2048.0);
    }
    values
}

/// Whether `got` is a result WebAssembly allows where Rust computes
/// `want`: any NaN for a NaN, otherwise the same bits (so the sign of a
/// zero counts).
fn same_f64(got: f64, want: f64) -> bool {
    if want.is_nan() {
        got.is_nan()
    } else {
        got.to_bits() == want.to_bits()
    }
}

/// [`same_f64`] for `f32`.
fn same_f32(got: f32, want: f32) -> bool {
    if want.is_nan() {
        got.is_nan()
    } else {
        got.to_bits() == want.to_bits()
    }
}

/// WebAssembly's `min` and `max`: NaN if either operand is, and -0 < +0.
macro_rules! wasm_min_max {
    ($min:ident, $max:ident, $t:ty) => {
        fn $min(a: $t, b: $t) -> $t {
            if a.is_nan() || b.is_nan() {
                <$t>::NAN
            } else if a == b {
                // Equal: the same bits, or zeros of either sign.
                <$t>::from_bits(a.to_bits() | b.to_bits())
            } else {
                a.min(b)
            }
        }
        fn $max(a: $t, b: $t) -> $t {
            if a.is_nan() || b.is_nan() {
                <$t>::NAN
            } else if a == b {
                <$t>::from_bits(a.to_bits() & b.to_bits())
            } else {
                a.max(b)
            }
        }
    };
}
wasm_min_max!(wasm_min_f64, wasm_max_f64, f64);
wasm_min_max!(wasm_min_f32, wasm_max_f32, f32);

/// Exports, for type `t`, each binary operator in `ops` twice: on the
/// parameters as they are (the right operand read from its slot) and after
/// `neg neg` (both operands in registers first).
fn binary_exports(t: &str, ops: &[&str], result: &str) -> String {
    let mut wat = String::new();
    for op in ops {
        wat.push_str(&format!(
            "(func (export \"{t}.{op}\") (param {t} {t}) (result {result})
               local.get 0 local.get 1 {t}.{op})
             (func (export \"{t}.{op}.r\") (param {t} {t}) (result {result})
               local.get 0 {t}.neg {t}.neg local.get 1 {t}.neg {t}.neg {t}.{op})\n"
        ));
    }
    wat
}

/// Exports, for type `t`, each unary operator in `ops` as `t.op`.
fn unary_exports(t: &str, ops: &[&str]) -> String {
    ops.iter()
        .map(|op| {
            format!("(func (export \"{t}.{op}\") (param {t}) (result {t}) local.get 0 {t}.{op})\n")
        })
        .collect()
}

const BINARY: [&str; 7] = ["add", "sub", "mul", "div", "min", "max", "copysign"];
const UNARY: [&str; 7] = ["abs", "neg", "sqrt", "ceil", "floor", "trunc", "nearest"];
const COMPARE: [&str; 6] = ["eq", "ne", "lt", "gt", "le", "ge"];

#[test]
fn f64_arithmetic_matches_rust() {
    let wat = format!(
        "(module {} {} {}
           (func (export \"demote_promote\") (param f64) (result f64)
             local.get 0 f32.demote_f64 f64.promote_f32))",
        binary_exports("f64", &BINARY, "f64"),
        binary_exports("f64", &COMPARE, "i32"),
        unary_exports("f64", &UNARY)
    );
    let mut m = compile(&wat).expect("compiles");
    let inputs = f64_inputs();
    for &a in &inputs {
        for &b in &inputs {
            let wants: [(&str, f64); 7] = [
                ("add", a + b),
                ("sub", a - b),
                ("mul", a * b),
                ("div", a / b),
                ("min", wasm_min_f64(a, b)),
                ("max", wasm_max_f64(a, b)),
                ("copysign", a.copysign(b)),
            ];
            for (op, want) in wants {
                for name in [format!("f64.{op}"), format!("f64.{op}.r")] {
                    let got: f64 = m.call2(&name, a, b);
                    // copysign only moves bits: NaN payloads survive.
                    let ok = match op {
                        "copysign" => got.to_bits() == want.to_bits(),
                        _ => same_f64(got, want),
                    };
                    assert!(
                        ok,
                        "{name}({a:e} {:#x}, {b:e} {:#x}) = {got:e}, want {want:e}",
                        a.to_bits(),
                        b.to_bits()
                    );
                }
            }
            let wants = [a == b, a != b, a < b, a > b, a <= b, a >= b];
            for (op, want) in COMPARE.iter().zip(wants) {
                for name in [format!("f64.{op}"), format!("f64.{op}.r")] {
                    let got = checked_i32(m.call2(&name, a, b), &name);
                    assert_eq!(got, want as i32, "{name}({a:e}, {b:e})");
                }
            }
        }
        let wants = [
            a.abs(),
            -a,
            a.sqrt(),
            a.ceil(),
            a.floor(),
            a.trunc(),
            a.round_ties_even(),
        ];
        for (op, want) in UNARY.iter().zip(wants) {
            let got: f64 = m.call1(&format!("f64.{op}"), a);
            let ok = match *op {
                "abs" | "neg" => got.to_bits() == want.to_bits(),
                _ => same_f64(got, want),
            };
            assert!(
                ok,
                "f64.{op}({a:e} {:#x}) = {got:e}, want {want:e}",
                a.to_bits()
            );
        }
        let got: f64 = m.call1("demote_promote", a);
        assert!(
            same_f64(got, a as f32 as f64),
            "demote_promote({a:e}) = {got:e}"
        );
    }
}

#[test]
fn f32_arithmetic_matches_rust() {
    let wat = format!(
        "(module {} {} {}
           (func (export \"promote_demote\") (param f32) (result f32)
             local.get 0 f64.promote_f32 f64.const 0.5 f64.mul f32.demote_f64))",
        binary_exports("f32", &BINARY, "f32"),
        binary_exports("f32", &COMPARE, "i32"),
        unary_exports("f32", &UNARY)
    );
    let mut m = compile(&wat).expect("compiles");
    let inputs = f32_inputs();
    for &a in &inputs {
        for &b in &inputs {
            let wants: [(&str, f32); 7] = [
                ("add", a + b),
                ("sub", a - b),
                ("mul", a * b),
                ("div", a / b),
                ("min", wasm_min_f32(a, b)),
                ("max", wasm_max_f32(a, b)),
                ("copysign", a.copysign(b)),
            ];
            for (op, want) in wants {
                for name in [format!("f32.{op}"), format!("f32.{op}.r")] {
                    let got: f32 = m.call2(&name, a, b);
                    let ok = match op {
                        "copysign" => got.to_bits() == want.to_bits(),
                        _ => same_f32(got, want),
                    };
                    assert!(
                        ok,
                        "{name}({a:e} {:#x}, {b:e} {:#x}) = {got:e}, want {want:e}",
                        a.to_bits(),
                        b.to_bits()
                    );
                }
            }
            let wants = [a == b, a != b, a < b, a > b, a <= b, a >= b];
            for (op, want) in COMPARE.iter().zip(wants) {
                for name in [format!("f32.{op}"), format!("f32.{op}.r")] {
                    let got = checked_i32(m.call2(&name, a, b), &name);
                    assert_eq!(got, want as i32, "{name}({a:e}, {b:e})");
                }
            }
        }
        let wants = [
            a.abs(),
            -a,
            a.sqrt(),
            a.ceil(),
            a.floor(),
            a.trunc(),
            a.round_ties_even(),
        ];
        for (op, want) in UNARY.iter().zip(wants) {
            let got: f32 = m.call1(&format!("f32.{op}"), a);
            let ok = match *op {
                "abs" | "neg" => got.to_bits() == want.to_bits(),
                _ => same_f32(got, want),
            };
            assert!(
                ok,
                "f32.{op}({a:e} {:#x}) = {got:e}, want {want:e}",
                a.to_bits()
            );
        }
        let got: f32 = m.call1("promote_demote", a);
        let want = (a as f64 * 0.5) as f32;
        assert!(same_f32(got, want), "promote_demote({a:e}) = {got:e}");
    }
}

/// Integers around the float conversions' rounding boundaries, with
/// [`inputs`].
fn conversion_inputs() -> Vec<i64> {
    let mut values = inputs();
    values.extend([
        (1 << 24) + 1,
        (1 << 53) + 1,
        (1 << 53) + 3,
        u32::MAX as i64,
        0x8000_0001u32 as i32 as i64,
        0x8000_0001,
        u64::MAX as i64,
        (1u64 << 63) as i64 + 1,
        (1u64 << 63 | 1 << 39) as i64,     // an f32 tie: to even
        (1u64 << 63 | 1 << 39 | 1) as i64, // just above it
        (1u64 << 63 | 1 << 10) as i64,     // an f64 tie: to even
        (1u64 << 63 | 3 << 10) as i64,     // an f64 tie: to even (up)
        (1u64 << 63 | 1 << 10 | 1) as i64,
        -(1 << 53) - 1,
    ]);
    values
}

#[test]
fn conversions_between_integers_and_floats_match_rust() {
    let mut wat = String::from("(module\n");
    for (f, i) in [
        ("f32", "i32"),
        ("f32", "i64"),
        ("f64", "i32"),
        ("f64", "i64"),
    ] {
        for sign in ["s", "u"] {
            wat.push_str(&format!(
                "(func (export \"{f}.convert_{i}_{sign}\") (param {i}) (result {f})
                   local.get 0 {f}.convert_{i}_{sign})
                 (func (export \"{i}.trunc_{f}_{sign}\") (param {f}) (result {i})
                   local.get 0 {i}.trunc_{f}_{sign})
                 (func (export \"{i}.trunc_sat_{f}_{sign}\") (param {f}) (result {i})
                   local.get 0 {i}.trunc_sat_{f}_{sign})\n"
            ));
        }
    }
    wat.push_str(
        "(func (export \"i32.reinterpret_f32\") (param f32) (result i32)
           local.get 0 i32.reinterpret_f32)
         (func (export \"f32.reinterpret_i32\") (param i32) (result f32)
           local.get 0 f32.reinterpret_i32)
         (func (export \"i64.reinterpret_f64\") (param f64) (result i64)
           local.get 0 i64.reinterpret_f64)
         (func (export \"f64.reinterpret_i64\") (param i64) (result f64)
           local.get 0 f64.reinterpret_i64)
         (func (export \"round_trip32\") (param i32) (result i32)
           local.get 0 f32.reinterpret_i32 f32.neg f32.neg i32.reinterpret_f32)
         (func (export \"convert_via_register\") (param i64) (result f64)
           local.get 0 i64.const 1 i64.xor f64.convert_i64_u)
         (func (export \"mixed\") (param i64 f64) (result f64)
           local.get 1 local.get 0 f64.convert_i64_s f64.mul))",
    );
    let mut m = compile(&wat).expect("compiles");

    for &x in &conversion_inputs() {
        let (w, u) = (x as i32, x as u32);
        let got: f32 = m.call1("f32.convert_i32_s", w);
        assert_eq!(
            got.to_bits(),
            (w as f32).to_bits(),
            "f32.convert_i32_s({w})"
        );
        let got: f32 = m.call1("f32.convert_i32_u", w);
        assert_eq!(
            got.to_bits(),
            (u as f32).to_bits(),
            "f32.convert_i32_u({u})"
        );
        let got: f64 = m.call1("f64.convert_i32_s", w);
        assert_eq!(
            got.to_bits(),
            (w as f64).to_bits(),
            "f64.convert_i32_s({w})"
        );
        let got: f64 = m.call1("f64.convert_i32_u", w);
        assert_eq!(
            got.to_bits(),
            (u as f64).to_bits(),
            "f64.convert_i32_u({u})"
        );
        let got: f32 = m.call1("f32.convert_i64_s", x);
        assert_eq!(
            got.to_bits(),
            (x as f32).to_bits(),
            "f32.convert_i64_s({x})"
        );
        let got: f32 = m.call1("f32.convert_i64_u", x);
        assert_eq!(
            got.to_bits(),
            (x as u64 as f32).to_bits(),
            "f32.convert_i64_u({x})"
        );
        let got: f64 = m.call1("f64.convert_i64_s", x);
        assert_eq!(
            got.to_bits(),
            (x as f64).to_bits(),
            "f64.convert_i64_s({x})"
        );
        let got: f64 = m.call1("f64.convert_i64_u", x);
        assert_eq!(
            got.to_bits(),
            (x as u64 as f64).to_bits(),
            "f64.convert_i64_u({x})"
        );
        let got: f64 = m.call1("convert_via_register", x);
        assert_eq!(got.to_bits(), ((x ^ 1) as u64 as f64).to_bits());

        let got: f32 = m.call1("f32.reinterpret_i32", w);
        assert_eq!(got.to_bits(), u, "f32.reinterpret_i32({w})");
        let got = checked_i32(m.call1("round_trip32", w), "round_trip32");
        assert_eq!(got, w);
        let got: f64 = m.call1("f64.reinterpret_i64", x);
        assert_eq!(got.to_bits(), x as u64, "f64.reinterpret_i64({x})");
        for &b in &f64_inputs()[..12] {
            let got: f64 = m.call2("mixed", x, b);
            assert!(same_f64(got, b * x as f64), "mixed({x}, {b})");
        }
    }

    // Trapping truncations run only on inputs that do not trap (a trap needs
    // the runtime's signal handler); `truncations_compile_with_trap_records`
    // covers the others.
    fn check_truncations<F: Copy + std::fmt::Display>(
        m: &mut Compiled,
        f: &str,
        a: F,
        wide: f64,
        sat: [i64; 4],
    ) {
        let t = wide.trunc();
        let fits = [
            (-2147483648.0..2147483648.0).contains(&t),
            (0.0..4294967296.0).contains(&t) || t == 0.0,
            (-9223372036854775808.0..9223372036854775808.0).contains(&t),
            (0.0..18446744073709551616.0).contains(&t) || t == 0.0,
        ];
        let names = [
            "i32.trunc_F_s",
            "i32.trunc_F_u",
            "i64.trunc_F_s",
            "i64.trunc_F_u",
        ];
        for k in 0..4 {
            let name = names[k].replace('F', f);
            let sat_name = name.replace("trunc_", "trunc_sat_");
            let got: i64 = m.call1(&sat_name, a);
            if k < 2 {
                let got = checked_i32(got, &sat_name);
                assert_eq!(got as i64, sat[k], "{sat_name}({a})");
            } else {
                assert_eq!(got, sat[k], "{sat_name}({a})");
            }
            if fits[k] && !wide.is_nan() {
                let got: i64 = m.call1(&name, a);
                if k < 2 {
                    let got = checked_i32(got, &name);
                    assert_eq!(got as i64, sat[k], "{name}({a})");
                } else {
                    assert_eq!(got, sat[k], "{name}({a})");
                }
            }
        }
    }
    for &a in &f64_inputs() {
        let sat = [
            a as i32 as i64,
            a as u32 as i32 as i64,
            a as i64,
            a as u64 as i64,
        ];
        check_truncations(&mut m, "f64", a, a, sat);
        let got: i64 = m.call1("i64.reinterpret_f64", a);
        assert_eq!(got as u64, a.to_bits());
    }
    for &a in &f32_inputs() {
        let sat = [
            a as i32 as i64,
            a as u32 as i32 as i64,
            a as i64,
            a as u64 as i64,
        ];
        check_truncations(&mut m, "f32", a, a as f64, sat);
        let got = checked_i32(m.call1("i32.reinterpret_f32", a), "i32.reinterpret_f32");
        assert_eq!(got as u32, a.to_bits());
    }
}

#[test]
fn truncations_compile_with_trap_records() {
    use cranelift_asm::x64::CpuFeatures;
    use duet_environ::trap::Trap;
    let mut wat = String::from("(module\n");
    for (i, f) in [
        ("i32", "f32"),
        ("i32", "f64"),
        ("i64", "f32"),
        ("i64", "f64"),
    ] {
        for sign in ["s", "u"] {
            wat.push_str(&format!(
                "(func (param {f}) (result {i}) local.get 0 {i}.trunc_{f}_{sign})\n"
            ));
        }
    }
    wat.push_str("(func (param f64) (result i64) local.get 0 i64.trunc_sat_f64_u))");
    let functions = compile_functions(&wat, CpuFeatures::host()).expect("compiles");
    assert_eq!(functions.len(), 9);
    for (k, code) in functions.iter().enumerate() {
        let traps: Vec<Trap> = code
            .traps()
            .iter()
            .filter_map(|record| Trap::from_code(record.code))
            .collect();
        if k == 8 {
            // Saturating: nothing to trap for (but the stack check).
            assert_eq!(traps, [Trap::StackOverflow], "function {k}");
            continue;
        }
        for trap in [Trap::BadConversionToInteger, Trap::IntegerOverflow] {
            assert!(
                traps.contains(&trap),
                "function {k} has no {trap:?}: {traps:?}"
            );
        }
    }
}

#[test]
fn rounding_without_sse41_is_an_error_naming_it() {
    use cranelift_asm::x64::{CpuFeatures, Feature};
    let cpu = CpuFeatures::host().without(Feature::Sse41);
    for op in ["ceil", "floor", "trunc", "nearest"] {
        let wat = format!("(module (func (param f64) (result f64) local.get 0 f64.{op}))");
        let error = compile_functions(&wat, cpu).expect_err("refused");
        let message = error.to_string();
        assert!(
            message.contains(&format!("`f64.{op} without sse4.1`")),
            "{message}"
        );
    }
    // Everything else needs only SSE2.
    let wat = "(module (func (param f32 f64) (result f64)
                 local.get 0 f32.sqrt f64.promote_f32 local.get 1 f64.min))";
    compile_functions(wat, CpuFeatures::baseline()).expect("compiles for the baseline");
}

#[test]
fn float_constants_keep_their_bits() {
    let mut m = compile(
        r#"(module
          (func (export "nan64") (result f64) f64.const -nan:0x4000000000001)
          (func (export "zero64") (result f64) f64.const -0)
          (func (export "nan32") (result f32) f32.const nan:0x200001)
          (func (export "zero32") (result f32) f32.const -0)
          (func (export "local64") (result f64) (local f64)
            f64.const 0x1.23456789abcdep+900 local.set 0 local.get 0)
          (func (export "small64") (result f64) (local f64)
            f64.const 0x0.0000000000001p-1022 local.set 0 local.get 0)
          (func (export "local32") (result f32) (local f32)
            f32.const -nan:0x12345 local.set 0 local.get 0)
          (func (export "block64") (result f64)
            block (result f64) f64.const -0x1.8p+3 end)
          (func (export "block32") (result f32)
            block (result f32) f32.const -inf end)
          (func (export "add_constants") (param f64) (result f64)
            f64.const 1.5 local.get 0 f64.add f64.const -0.25 f64.mul)
          (func (export "old_value") (param f64) (result f64)
            local.get 0 f64.const 2.5 local.set 0 local.get 0 f64.sub)
          (func (export "sub_zero") (param f32) (result f32)
            local.get 0 f32.const 0 f32.sub))"#,
    )
    .expect("compiles");
    let bits64 = |m: &mut Compiled, name: &str| -> u64 {
        let entry = m.entry(name);
        let vmctx = m.vmctx();
        // SAFETY: a `() -> f64` function.
        let f: extern "sysv64" fn(*mut u8) -> f64 = unsafe { std::mem::transmute(entry) };
        f(vmctx).to_bits()
    };
    let bits32 = |m: &mut Compiled, name: &str| -> u32 {
        let entry = m.entry(name);
        let vmctx = m.vmctx();
        // SAFETY: a `() -> f32` function.
        let f: extern "sysv64" fn(*mut u8) -> f32 = unsafe { std::mem::transmute(entry) };
        f(vmctx).to_bits()
    };
    assert_eq!(bits64(&mut m, "nan64"), 0xfff4_0000_0000_0001);
    assert_eq!(bits64(&mut m, "zero64"), 0x8000_0000_0000_0000);
    assert_eq!(bits32(&mut m, "nan32"), 0x7fa0_0001);
    assert_eq!(bits32(&mut m, "zero32"), 0x8000_0000);
    assert_eq!(bits64(&mut m, "local64"), 0x7832_3456_789a_bcde);
    assert_eq!(bits64(&mut m, "small64"), 1);
    assert_eq!(bits32(&mut m, "local32"), 0xff81_2345);
    assert_eq!(bits64(&mut m, "block64"), (-12.0f64).to_bits());
    assert_eq!(bits32(&mut m, "block32"), f32::NEG_INFINITY.to_bits());
    for &a in &f64_inputs() {
        let got: f64 = m.call1("add_constants", a);
        assert!(same_f64(got, (1.5 + a) * -0.25), "add_constants({a})");
        let got: f64 = m.call1("old_value", a);
        assert!(same_f64(got, a - 2.5), "old_value({a})");
    }
    for &a in &f32_inputs() {
        let got: f32 = m.call1("sub_zero", a);
        assert!(same_f32(got, a - 0.0), "sub_zero({a})");
    }
}

#[test]
fn floats_flow_through_blocks_selects_and_calls() {
    let mut m = compile(
        r#"(module
          (func (export "newton") (param f64) (result f64) (local i32 f64)
            i32.const 40 local.set 1
            local.get 0 f64.const 1 f64.max
            loop (param f64) (result f64)
              local.tee 2 local.get 0 local.get 2 f64.div f64.add f64.const 0.5 f64.mul
              local.get 1 i32.const 1 i32.sub local.tee 1
              br_if 0
            end)
          (func $split (param f64) (result f32 f64 i32)
            local.get 0 f32.demote_f64
            local.get 0 f64.const 2 f64.mul
            local.get 0 f64.const 0 f64.lt)
          (func (export "split") (param f64) (result f64) (local f64)
            local.get 0 call $split
            if (param f32 f64) (result f32 f64)
              f64.neg
            else
              f64.const 3 f64.add
            end
            local.set 1 f64.promote_f32 local.get 1 f64.add)
          (func (export "pick") (param f64 f64) (result f64)
            block (result f64)
              local.get 0
              local.get 0 local.get 1 f64.gt
              br_if 0
              drop
              local.get 1 f64.const 0.25 f64.mul
            end
            f64.const 1 f64.add)
          (func (export "select64") (param f64 f64 i32) (result f64)
            local.get 0 local.get 1 local.get 2 select)
          (func (export "select32") (param f32 f32 i32) (result f32)
            local.get 0 f32.neg local.get 1 f32.neg local.get 2 select (result f32))
          (func $ffib (param f64) (result f64)
            local.get 0 f64.const 2 f64.lt
            if (result f64)
              local.get 0
            else
              local.get 0 f64.const 1 f64.sub call $ffib
              local.get 0 f64.const 2 f64.sub call $ffib
              f64.add
            end)
          (func (export "ffib") (param f64) (result f64) local.get 0 call $ffib)
          (func $many (param f64 f64 f64 f64 f64 f64 f64 f64 f64 f64 i64 f32 i32 f32)
                      (result f64)
            local.get 0 local.get 1 f64.sub local.get 2 f64.mul local.get 3 f64.add
            local.get 4 f64.div local.get 5 f64.sub local.get 6 f64.mul
            local.get 7 f64.sub local.get 8 f64.add local.get 9 f64.div
            local.get 10 f64.convert_i64_s f64.add
            local.get 11 f64.promote_f32 f64.add
            local.get 12 f64.convert_i32_s f64.add
            local.get 13 f64.promote_f32 f64.sub)
          (func (export "call_many") (param f64 f64) (result f64)
            local.get 0 local.get 1 f64.const 3 local.get 0 f64.const 5
            local.get 1 f64.const 7 f64.const 9 local.get 0 f64.const -0.5
            i64.const 77 f32.const 1.25 i32.const -3 local.get 1 f32.demote_f64
            call $many)
          (func $pair (param f32 f64) (result f64 f32 i64)
            local.get 1 local.get 0 f64.promote_f32 f64.sub
            local.get 0 f32.const 2 f32.mul
            local.get 1 i64.trunc_sat_f64_s)
          (func (export "call_pair") (param f32 f64) (result f64)
            local.get 0 local.get 1 call $pair
            f64.convert_i64_s
            local.set 1
            f64.promote_f32 f64.div
            local.get 1 f64.add))"#,
    )
    .expect("compiles");
    let inputs = f64_inputs();
    for &a in &inputs {
        if a.is_finite() && a > 0.0 {
            let mut x = a.max(1.0);
            for _ in 0..40 {
                x = (x + a / x) * 0.5;
            }
            let got: f64 = m.call1("newton", a);
            assert!(same_f64(got, x), "newton({a}) = {got}, want {x}");
        }
        let d = a * 2.0;
        let d = if a < 0.0 { -d } else { d + 3.0 };
        let want = (a as f32) as f64 + d;
        let got: f64 = m.call1("split", a);
        assert!(same_f64(got, want), "split({a}) = {got}, want {want}");
        for &b in &inputs {
            let want = if a > b { a } else { b * 0.25 } + 1.0;
            let got: f64 = m.call2("pick", a, b);
            assert!(same_f64(got, want), "pick({a}, {b})");
            for c in [0, 1, -1, 0x100] {
                let want = if c != 0 { a } else { b };
                let got: f64 = m.call3("select64", a, b, c);
                assert_eq!(got.to_bits(), want.to_bits(), "select64({a}, {b}, {c})");
            }
            let got: f64 = m.call2("call_many", a, b);
            let mut expected = a - b;
            for (k, p) in [3.0, a, 5.0, b, 7.0, 9.0, a, -0.5].iter().enumerate() {
                expected = match k {
                    0 => expected * p,
                    1 => expected + p,
                    2 => expected / p,
                    3 => expected - p,
                    4 => expected * p,
                    5 => expected - p,
                    6 => expected + p,
                    _ => expected / p,
                };
            }
            let expected = expected + 77.0 + 1.25 + -3.0 - (b as f32) as f64;
            assert!(
                same_f64(got, expected),
                "call_many({a}, {b}) = {got}, want {expected}"
            );
        }
    }
    for &a in &f32_inputs() {
        for &b in &f32_inputs()[..20] {
            for c in [0, 7] {
                let want = if c != 0 { -a } else { -b };
                let got: f32 = m.call3("select32", a, b, c);
                assert_eq!(got.to_bits(), want.to_bits(), "select32({a}, {b}, {c})");
            }
        }
        for &b in &inputs[..20] {
            let first = b - a as f64;
            let second = a * 2.0;
            let third = b as i64;
            let want = first / second as f64 + third as f64;
            let got: f64 = m.call2("call_pair", a, b);
            assert!(
                same_f64(got, want),
                "call_pair({a}, {b}) = {got}, want {want}"
            );
        }
    }
    fn ffib(n: f64) -> f64 {
        if n < 2.0 {
            n
        } else {
            ffib(n - 1.0) + ffib(n - 2.0)
        }
    }
    for n in [0.0, 1.0, 2.5, 10.0, 15.25, -3.0] {
        let got: f64 = m.call1("ffib", n);
        assert_eq!(got.to_bits(), ffib(n).to_bits(), "ffib({n})");
    }
}

#[test]
fn float_register_pressure_spills_xmm_registers() {
    // 10 i64, 12 f32 and 24 f64 values live at once: more than there are
    // registers of either class.
    let mut body = String::new();
    for k in 1..=10 {
        body.push_str(&format!("local.get 2 i64.const {k} i64.mul\n"));
    }
    for k in 1..=12 {
        body.push_str(&format!(
            "local.get 0 f32.demote_f64 f32.const {k} f32.mul\n"
        ));
    }
    for k in 1..=24 {
        body.push_str(&format!(
            "local.get 0 f64.const {k} f64.mul local.get 1 f64.add\n"
        ));
    }
    body.push_str(&"f64.add\n".repeat(23));
    body.push_str("f32.demote_f64\n");
    body.push_str(&"f32.add\n".repeat(12));
    body.push_str("i64.trunc_sat_f32_s\n");
    body.push_str(&"i64.add\n".repeat(10));
    let wat = format!(r#"(module (func (export "wide") (param f64 f64 i64) (result i64) {body}))"#);
    let mut m = compile(&wat).expect("compiles");
    let floats = f64_inputs();
    for &a in &floats {
        for &b in &floats[..12] {
            for &c in &inputs()[..8] {
                let mut wide = a * 24.0 + b;
                for k in (1..24).rev() {
                    wide += a * k as f64 + b;
                }
                let mut narrow = wide as f32;
                for k in (1..=12).rev() {
                    narrow += a as f32 * k as f32;
                }
                let want = (1..=10).fold(narrow as i64, |acc, k: i64| {
                    acc.wrapping_add(c.wrapping_mul(k))
                });
                let got: i64 = m.call3("wide", a, b, c);
                assert_eq!(got, want, "wide({a}, {b}, {c})");
            }
        }
    }
}

#[test]
fn float_loads_stores_and_globals() {
    let mut m = compile(
        r#"(module
          (memory 1)
          (global $scale (mut f64) (f64.const 1.5))
          (global $bias f32 (f32.const -0.25))
          (func (export "roundtrip64") (param i32 f64) (result f64)
            local.get 0 local.get 1 f64.store offset=16
            local.get 0 f64.load offset=16)
          (func (export "roundtrip32") (param i32 f32) (result f32)
            local.get 0 local.get 1 f32.store offset=3
            local.get 0 f32.load offset=3
            global.get $bias f32.add)
          (func (export "scale") (param f64) (result f64)
            global.get $scale local.get 0 f64.mul global.set $scale
            global.get $scale))"#,
    )
    .expect("compiles");
    let mut scale = 1.5f64;
    for x in [
        0.0f64,
        -0.0,
        1.0,
        -2.5,
        1e300,
        f64::MIN_POSITIVE,
        f64::INFINITY,
        3.25,
    ] {
        for addr in [0i32, 8, 1001, 65536 - 24] {
            let got: f64 = m.call2("roundtrip64", addr, x);
            assert_eq!(got.to_bits(), x.to_bits(), "roundtrip64({addr}, {x})");
            let y = x as f32;
            let got: f32 = m.call2("roundtrip32", addr, y);
            assert_eq!(
                got.to_bits(),
                (y + -0.25).to_bits(),
                "roundtrip32({addr}, {y})"
            );
        }
        scale *= x;
        let got: f64 = m.call1("scale", x);
        assert!(
            got.to_bits() == scale.to_bits() || (got.is_nan() && scale.is_nan()),
            "scale({x})"
        );
    }
    let nan: f64 = m.call2("roundtrip64", 0i32, f64::from_bits(0x7ff0_0000_0000_1234));
    assert_eq!(
        nan.to_bits(),
        0x7ff0_0000_0000_1234,
        "a signalling NaN's bits survive memory"
    );
}

#[test]
fn traps_come_back_as_values_with_a_backtrace() {
    let mut m = compile(
        r#"(module
          (memory 1)
          (func $deep (param i32) (result i32)
            local.get 0 i32.eqz
            if (result i32) unreachable else local.get 0 i32.const 1 i32.sub call $deep end)
          (func (export "unreachable") (param i32) (result i32) local.get 0 call $deep)
          (func (export "div") (param i32 i32) (result i32) local.get 0 local.get 1 i32.div_s)
          (func (export "load") (param i32) (result i32) local.get 0 i32.load offset=8)
          (func $forever (export "forever") (param i64) (result i64)
            local.get 0 i64.const 1 i64.add call $forever)
          (func (export "trunc") (param i32) (result i32)
            local.get 0 f64.convert_i32_s f64.const 0 f64.div i32.trunc_f64_s))"#,
    )
    .expect("compiles");
    let trap = |r: Result<i64, TrapInfo>| r.expect_err("traps");

    let t = trap(m.call_checked("unreachable", &[3]));
    assert_eq!(t.trap, Trap::UnreachableCodeReached);
    // $deep three times (3, 2, 1, then 0 traps), then the export.
    assert!(t.backtrace.frames().len() >= 5, "{t}");
    assert_eq!(
        m.call_checked("unreachable", &[3]).unwrap_err().trap,
        Trap::UnreachableCodeReached
    );

    assert_eq!(m.call_checked("div", &[7, -2]).unwrap() as i32, -3);
    assert_eq!(
        trap(m.call_checked("div", &[7, 0])).trap,
        Trap::IntegerDivisionByZero
    );
    assert_eq!(
        trap(m.call_checked("div", &[i32::MIN as i64, -1])).trap,
        Trap::IntegerOverflow
    );

    assert_eq!(m.call_checked("load", &[100]).unwrap(), 0);
    assert_eq!(
        trap(m.call_checked("load", &[65536 - 11])).trap,
        Trap::MemoryOutOfBounds
    );
    assert_eq!(
        trap(m.call_checked("load", &[-1])).trap,
        Trap::MemoryOutOfBounds
    );

    assert_eq!(
        trap(m.call_checked("forever", &[0])).trap,
        Trap::StackOverflow
    );
    assert_eq!(
        trap(m.call_checked("trunc", &[1])).trap,
        Trap::IntegerOverflow
    );
    assert_eq!(
        trap(m.call_checked("trunc", &[0])).trap,
        Trap::BadConversionToInteger
    );

    // The process and the instance go on.
    assert_eq!(m.call_checked("div", &[100, 7]).unwrap() as i32, 14);
}

/// Regression (found compiling SpiderMonkey): `local.tee` of a local still
/// on the value stack spills it, an `if` then spills the constants (leaving
/// dead slots between memory entries), and the call's arguments are no
/// longer contiguous on the machine stack.
#[test]
fn dead_slots_between_spilled_values_are_released() {
    let mut m = compile(
        r#"(module
          (func $callee (param i32 i32 i32 i32 i32) (result i32)
            local.get 0 local.get 1 i32.add local.get 2 i32.add local.get 3 i32.add local.get 4 i32.add)
          (func (export "f") (param i32 i32 i32) (result i32)
            local.get 2 i32.eqz
            local.get 0 i32.const 100 local.get 1
            local.get 0 i32.const 112 i32.add
            local.get 2 local.tee 1
            if (result i32) local.get 1 else i32.const 7 end
            call $callee
            i32.eqz
            i32.or
            local.get 1 i32.add))"#,
    )
    .expect("compiles");
    for &a in &inputs()[..30] {
        for &b in &inputs()[..30] {
            for c in [0i64, 1, -5] {
                let (x, y, z) = (a as i32, b as i32, c as i32);
                let fifth = if z != 0 { z } else { 7 };
                let sum = x
                    .wrapping_add(100)
                    .wrapping_add(y)
                    .wrapping_add(x.wrapping_add(112))
                    .wrapping_add(fifth);
                let want = (((z == 0) as i32) | ((sum == 0) as i32)).wrapping_add(z);
                assert_eq!(m.call_i32("f", &[a, b, c]), want, "f({x}, {y}, {z})");
            }
        }
    }
}

#[test]
fn parallel_compilation_gives_the_same_code_and_the_first_error() {
    let mut wat = String::from("(module (memory 1)");
    for k in 0..40 {
        wat.push_str(&format!(
            "(func (param i32) (result i32) local.get 0 i32.const {k} i32.add local.get 0 i32.load offset={k} i32.mul)"
        ));
    }
    wat.push(')');
    let wasm = wat::parse_str(&wat).unwrap();
    let features = cranelift_asm::x64::CpuFeatures::all();
    let compile = |wasm: &[u8], threads| {
        let translation = translate(wasm, wasmparser::WasmFeatures::default()).unwrap();
        winch_codegen::compile_module_on_threads(
            translation,
            Tunables::default(),
            features,
            threads,
        )
    };
    let one = compile(&wasm, 1).unwrap();
    for threads in [2, 4, 64] {
        let many = compile(&wasm, threads).unwrap();
        assert_eq!(one.len(), many.len());
        for (a, b) in one.iter().zip(&many) {
            assert_eq!(a.code(), b.code(), "{threads} threads");
        }
    }
    // Two failing functions: the error is always the first one's.
    let bad = wat::parse_str(
        r#"(module
          (func (result i32) i32.const 1)
          (func return_call 0)
          (func (result i32) i32.const 2)
          (func return_call 1))"#,
    )
    .unwrap();
    let first = compile(&bad, 1).unwrap_err().to_string();
    for _ in 0..20 {
        assert_eq!(compile(&bad, 4).unwrap_err().to_string(), first);
    }
}

/// Regression: a block with parameters opened in unreachable code, where the
/// value stack does not hold them.
#[test]
fn blocks_with_parameters_in_unreachable_code_compile() {
    compile(
        r#"(module
          (type $t (func (param i32) (result i32)))
          (func (result i32)
            unreachable
            block (type $t) i32.const 1 i32.add end)
          (func (param i32) (result i32)
            local.get 0
            br 0
            if (type $t) i32.const 1 i32.add else i32.const 2 i32.sub end
            loop (type $t) end))"#,
    )
    .expect("compiles");
}

/// Comparisons fused with what consumes them (`br_if`, `if`, `i32.eqz`),
/// and materialized when anything else does.
#[test]
fn pending_comparisons_feed_branches_and_values() {
    let mut m = compile(
        r#"(module
          (func (export "not_less") (param i32 i32) (result i32)
            local.get 0 local.get 1 i32.lt_s i32.eqz)
          (func (export "twice_negated") (param i64 i64) (result i32)
            local.get 0 local.get 1 i64.gt_u i32.eqz i32.eqz)
          (func (export "branch_on_negation") (param i32 i32) (result i32)
            block
              local.get 0 local.get 1 i32.le_u i32.eqz br_if 0
              i32.const 10 return
            end
            i32.const 20)
          (func (export "if_on_comparison_then_value") (param i32 i32) (result i32)
            local.get 0 local.get 1 i32.ge_s
            if (result i32) local.get 0 local.get 1 i32.ne else i32.const 7 end
            local.get 0 local.get 1 i32.eq i32.add))"#,
    )
    .expect("compiles");
    for &a in &inputs() {
        for &b in &inputs() {
            let (x, y) = (a as i32, b as i32);
            assert_eq!(m.call_i32("not_less", &[a, b]), (x >= y) as i32);
            assert_eq!(
                m.call_i32("twice_negated", &[a, b]),
                ((a as u64) > (b as u64)) as i32
            );
            let want = if (x as u32) > (y as u32) { 20 } else { 10 };
            assert_eq!(m.call_i32("branch_on_negation", &[a, b]), want);
            let first = if x >= y { (x != y) as i32 } else { 7 };
            assert_eq!(
                m.call_i32("if_on_comparison_then_value", &[a, b]),
                first + (x == y) as i32
            );
        }
    }
}

/// Division by constants: checks that cannot fire are left out, the ones
/// that can are kept.
#[test]
fn division_by_constants_keeps_the_checks_that_matter() {
    let mut m = compile(
        r#"(module
          (func (export "by7") (param i32) (result i32)
            local.get 0 i32.const 7 i32.div_s local.get 0 i32.const -7 i32.rem_s i32.add
            local.get 0 i32.const 7 i32.div_u i32.add local.get 0 i32.const 7 i32.rem_u i32.add)
          (func (export "by_minus_one") (param i32) (result i32)
            local.get 0 i32.const -1 i32.rem_s)
          (func (export "div_minus_one") (param i64) (result i64)
            local.get 0 i64.const -1 i64.div_s)
          (func (export "by_zero") (param i32) (result i32)
            local.get 0 i32.const 0 i32.div_u))"#,
    )
    .expect("compiles");
    for &a in &inputs() {
        let x = a as i32;
        let want = (x / 7)
            .wrapping_add(x % -7)
            .wrapping_add(((x as u32) / 7) as i32)
            .wrapping_add(((x as u32) % 7) as i32);
        assert_eq!(m.call_i32("by7", &[a]), want, "by7({x})");
        assert_eq!(m.call_i32("by_minus_one", &[a]), 0, "INT_MIN % -1 is 0");
        if a != i64::MIN {
            assert_eq!(m.call_checked("div_minus_one", &[a]).unwrap(), -a);
        }
    }
    let trap = m.call_checked("div_minus_one", &[i64::MIN]).unwrap_err();
    assert_eq!(trap.trap, Trap::IntegerOverflow);
    assert_eq!(
        m.call_checked("by_zero", &[5]).unwrap_err().trap,
        Trap::IntegerDivisionByZero
    );
}
