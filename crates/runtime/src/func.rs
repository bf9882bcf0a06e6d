//! [`Func`]: calling wasm from the host and the host from wasm.
//!
//! # Host to wasm
//!
//! [`Func::call`] writes the arguments into 16-byte slots and enters the
//! function through the engine's entry trampoline for its type
//! (`duet_environ::entry`), with `traps::call_wasm` turning a trap into a
//! value. The outermost call into a store sets the stack limit in every
//! VMContext of the store: wasm may use [`Config::max_wasm_stack`] bytes
//! below the host frame that entered it.
//!
//! # Wasm to host
//!
//! A host function is reached through the engine's host trampoline for its
//! type, with a [`HostContext`] as its "VMContext". The trampoline calls
//! the context's `func`, [`host_shim`] instantiated for the closure's type
//! ([`HostFn`]), with the arguments in slots; the shim reads them, runs the
//! embedder's closure with a [`Caller`] (a direct call, inlined: no
//! `dyn Fn` between wasm and the closure), and writes the results back. A closure's error is parked in the store and
//! the shim returns 1, which makes the trampoline trap with
//! `Trap::HostError`; the trap unwinds the wasm frames to the entry
//! trampoline and [`Func::call`] hands the error back inside the trap, as
//! its [`source`](std::error::Error::source). A panic is caught the same
//! way and resumed once the wasm frames are gone (unwinding through
//! generated code is not possible).
//!
//! # Host functions that call wasm
//!
//! A host function may call wasm again through its [`Caller`]; that call
//! is an activation of its own (`traps::call_wasm` nests), and a trap in it
//! comes back to the host function as an error that is a `Trap`. If the host
//! function fails with that error unchanged, the outer activation's
//! `HostError` trap is not reported as a host error wrapping a trap: the
//! inner trap goes on unwinding as itself, with its own code (an
//! `unreachable` stays `UnreachableCodeReached`) and source, and the outer
//! activation's frames appended to its backtrace, as if the host frames in
//! between were transparent:
//!
//! ```text
//!   host ─call─► wasm f ─► host fn h ─Caller─► wasm g: unreachable
//!                                   ◄─ Err(Trap { Unreachable, [g] })
//!        ◄─ Err(Trap { Unreachable, [g, f] })      (h returned it with `?`)
//! ```
//!
//! A host function that wraps the inner error in its own adds one level to
//! the error chain instead: `HostError` with the host's error as source,
//! whose source is the inner trap.
//!
//! [`Config::max_wasm_stack`]: crate::Config::max_wasm_stack

use crate::engine::Compiler;
use crate::error::{Error, ErrorKind, FrameInfo, Trap};
use crate::externals::Extern;
use crate::instance::Instance;
use crate::store::{AsStore, AsStoreMut, HostFuncParts, StoreInner, StoreOpaque, Val};
use crate::traps::{TrapInfo, call_wasm};
use crate::vm::VMFuncRef;
use duet_environ::module::FuncType;
use duet_environ::trap::Trap as TrapCode;
use duet_environ::vmoffsets::VMContext;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;

/// A host function's closure, with its store's data type erased: it is
/// given a pointer to the `StoreInner<T>` it was made for, the function's
/// type, and the trampoline's slots (the arguments in, the results out).
/// A closure of [`Func::new`] converts the slots to [`Val`]s and back; one
/// of [`Func::wrap`] reads and writes them in place, without allocating.
pub(crate) type HostCallback = dyn Fn(*mut StoreOpaque, Option<Instance>, &FuncType, &mut [[u8; 16]]) -> Result<(), Error>
    + Send
    + Sync;

/// What a host trampoline calls: `(context, slots) -> 0 or 1`.
type HostShim = unsafe extern "sysv64" fn(*mut HostContext, *mut [u8; 16]) -> u32;

/// A host function's closure and the shim that calls it: [`host_shim`]
/// instantiated for the closure's own type, so that a call from wasm
/// reaches the closure with a direct call that the compiler can inline
/// (for [`Func::wrap`], the slot loads, the embedder's closure and the
/// result stores all end up in the one shim), not through the `dyn Fn`.
/// The `Arc` owns the closure (shared by every context of the function)
/// and is what the host side calls it through.
#[derive(Clone)]
pub(crate) struct HostFn {
    pub(crate) callback: Arc<HostCallback>,
    shim: HostShim,
}

impl HostFn {
    pub(crate) fn new<C>(callback: C) -> HostFn
    where
        C: Fn(*mut StoreOpaque, Option<Instance>, &FuncType, &mut [[u8; 16]]) -> Result<(), Error>
            + Send
            + Sync
            + 'static,
    {
        HostFn {
            callback: Arc::new(callback),
            shim: host_shim::<C>,
        }
    }
}

/// What a host function's `VMFuncRef::vmctx` (or an import's) points to.
/// `func` must stay first: the host trampoline calls
/// `[vmctx + VMHostContext::FUNC]`.
#[repr(C)]
pub(crate) struct HostContext {
    func: HostShim,
    store: *mut StoreOpaque,
    /// The instance whose import this context serves, if any.
    caller: Option<Instance>,
    /// The function's type; `StoreFunc::ty` points here for a host
    /// function.
    pub(crate) ty: FuncType,
    /// `func` is `host_shim::<C>` for the closure type `C` in here.
    callback: Arc<HostCallback>,
}

const _: () = assert!(
    core::mem::offset_of!(HostContext, func) == duet_environ::entry::VMHostContext::FUNC as usize
);

impl HostContext {
    pub(crate) fn new(
        store: *mut StoreOpaque,
        caller: Option<Instance>,
        ty: FuncType,
        host: &HostFn,
    ) -> Box<HostContext> {
        Box::new(HostContext {
            func: host.shim,
            store,
            caller,
            ty,
            callback: host.callback.clone(),
        })
    }
}

/// The host function every host trampoline calls (see the module docs),
/// one per closure type `C` ([`HostFn`]).
///
/// # Safety
///
/// `context` is a live [`HostContext`] whose callback is a `C` (made by
/// [`HostFn::new::<C>`](HostFn::new), as its `func` says) and `values` has
/// a slot per parameter and result of its type; the store is not borrowed
/// elsewhere in a way the closure could observe (it is suspended in
/// `Func::call`).
unsafe extern "sysv64" fn host_shim<C>(context: *mut HostContext, values: *mut [u8; 16]) -> u32
where
    C: Fn(*mut StoreOpaque, Option<Instance>, &FuncType, &mut [[u8; 16]]) -> Result<(), Error>,
{
    // SAFETY: the caller's contract.
    let context = unsafe { &*context };
    // SAFETY: the callback is a `C` (the caller's contract); the data
    // pointer of an `Arc<dyn Fn>` is the closure's own.
    let callback = unsafe { &*Arc::as_ptr(&context.callback).cast::<C>() };
    let store = context.store;
    let ty = &context.ty;
    let slots = ty.params.len().max(ty.results.len());
    // SAFETY: the trampoline passes a slot per parameter and result.
    let values = unsafe { core::slice::from_raw_parts_mut(values, slots) };
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        callback(store, context.caller, ty, values)
    }));
    // SAFETY: as above.
    let opaque = unsafe { &mut *store };
    match outcome {
        Ok(Ok(())) => 0,
        Ok(Err(error)) => {
            opaque.host_error = Some(error);
            1
        }
        Err(panic) => {
            opaque.host_panic = Some(panic);
            1
        }
    }
}

/// A function: exported by an instance, or defined by the host.
///
/// ```
/// use duet::{Engine, Func, FuncType, Store, Val, ValType};
/// let engine = Engine::default();
/// let mut store = Store::new(&engine, ());
/// // A host function from a closure over Rust values...
/// let add = Func::wrap(&mut store, |a: i32, b: i32| a.wrapping_add(b));
/// // ... or over `Val`s, of a type given at run time.
/// let ty = FuncType { params: [ValType::I64].into(), results: [ValType::I64].into() };
/// let negate = Func::new(&mut store, ty, |_caller, params, results| {
///     results[0] = Val::I64(-params[0].i64().unwrap());
///     Ok(())
/// });
/// let mut results = [Val::I32(0)];
/// add.call(&mut store, &[Val::I32(2), Val::I32(3)], &mut results)?;
/// assert_eq!(results[0].i32(), Some(5));
/// let mut results = [Val::I64(0)];
/// negate.call(&mut store, &[Val::I64(7)], &mut results)?;
/// assert_eq!(results[0].i64(), Some(-7));
/// // A wrong argument is an error, not a panic.
/// assert!(add.call(&mut store, &[Val::I64(2), Val::I32(3)], &mut [Val::I32(0)]).is_err());
/// # Ok::<(), duet::Error>(())
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Func {
    pub(crate) store: u64,
    pub(crate) index: u32,
}

/// What a host function receives: the store (with its data) and the
/// instance that called it, if it was called as an instance's import.
pub struct Caller<'a, T> {
    pub(crate) store: &'a mut StoreInner<T>,
    pub(crate) caller: Option<Instance>,
}

impl<T> Caller<'_, T> {
    /// The store's data.
    pub fn data(&self) -> &T {
        &self.store.data
    }

    /// The store's data, for writing.
    pub fn data_mut(&mut self) -> &mut T {
        &mut self.store.data
    }

    /// The store's fuel left ([`Store::get_fuel`](crate::Store::get_fuel)).
    pub fn get_fuel(&self) -> Result<u64, Error> {
        self.store.opaque.get_fuel()
    }

    /// Gives the store `fuel` units of fuel
    /// ([`Store::set_fuel`](crate::Store::set_fuel)).
    pub fn set_fuel(&mut self, fuel: u64) -> Result<(), Error> {
        self.store.opaque.set_fuel(fuel)
    }

    /// Sets the store's epoch deadline `delta` epochs after the current
    /// one ([`Store::set_epoch_deadline`](crate::Store::set_epoch_deadline)).
    pub fn set_epoch_deadline(&mut self, delta: u64) {
        self.store.opaque.set_epoch_deadline(delta);
    }

    /// An export of the calling instance (its memory, typically).
    pub fn get_export(&mut self, name: &str) -> Option<Extern> {
        let instance = self.caller?;
        instance
            .get_export(&*self, name)
            .expect("a caller's instance belongs to the store it runs in")
    }
}

impl Func {
    /// A host function of type `ty` that runs `f`.
    pub fn new<T: 'static>(
        store: &mut crate::Store<T>,
        ty: FuncType,
        f: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<(), Error> + Send + Sync + 'static,
    ) -> Func {
        let callback = erase(f);
        Func::from_callback(store.as_store_mut(), ty, callback)
            .expect("the trampolines of a function type compile")
    }

    /// A host function of type `ty` that runs `callback`.
    pub(crate) fn from_callback(
        store: &mut StoreOpaque,
        ty: FuncType,
        callback: HostFn,
    ) -> Result<Func, Error> {
        let trampolines = store.engine.trampolines(&ty)?;
        let context = HostContext::new(store, None, ty, &callback);
        let ty = &context.ty;
        let func_ref = Box::new(VMFuncRef {
            wasm_call: trampolines.host(),
            vmctx: (&*context as *const HostContext).cast_mut().cast(),
            type_id: store.engine.type_id(ty),
        });
        let pointer: *const VMFuncRef = &*func_ref;
        let ty: *const FuncType = &context.ty;
        Ok(store.push_func(
            pointer,
            ty,
            Some(Box::new(HostFuncParts {
                callback,
                _context: context,
                _func_ref: func_ref,
                trampolines,
            })),
        ))
    }

    /// The function's type.
    ///
    /// A function of another store is an [`ErrorKind::Type`](crate::ErrorKind::Type) (see "Handles
    /// from another store" in the docs of [`Store`](crate::Store)).
    pub fn ty(&self, store: impl AsStore) -> Result<FuncType, Error> {
        let store = store.as_store();
        store.check(self.store, "the function")?;
        Ok(store.funcs[self.index as usize].ty().clone())
    }

    /// Calls the function with `params`, writing its results into
    /// `results` (which must have one slot per result).
    ///
    /// A function, or an argument's reference value, of another store is
    /// an [`ErrorKind::Type`](crate::ErrorKind::Type), and nothing runs.
    pub fn call(
        &self,
        mut store: impl AsStoreMut,
        params: &[Val],
        results: &mut [Val],
    ) -> Result<(), Error> {
        let store = store.as_store_mut();
        store.check(self.store, "the function")?;
        let ty = store.funcs[self.index as usize].ty();
        if params.len() != ty.params.len() {
            return Err(Error::from(ErrorKind::Type(format!(
                "{ty} takes {} arguments, given {}",
                ty.params.len(),
                params.len()
            ))));
        }
        if results.len() != ty.results.len() {
            return Err(Error::from(ErrorKind::Type(format!(
                "{ty} has {} results, given room for {}",
                ty.results.len(),
                results.len()
            ))));
        }
        for (i, (param, &t)) in params.iter().zip(ty.params.iter()).enumerate() {
            if param.ty() != t {
                return Err(Error::from(ErrorKind::Type(format!(
                    "argument {i}: expected a value of type {t}, got {}",
                    param.ty()
                ))));
            }
        }
        // The slots live on the stack unless the type has more values than
        // a typical one: no allocation per call.
        let count = params.len().max(results.len()).max(1);
        let mut on_stack = [[0u8; 16]; SLOTS_ON_STACK];
        let mut on_heap = Vec::new();
        let values = if count <= SLOTS_ON_STACK {
            &mut on_stack[..count]
        } else {
            on_heap.resize(count, [0u8; 16]);
            &mut on_heap[..]
        };
        for (param, slot) in params.iter().zip(values.iter_mut()) {
            store.write_slot(param, slot)?;
        }
        let entry = store.entry_point(self.index)?;
        // SAFETY: the entry point is of the function's type, and `values`
        // has a slot per parameter and result.
        unsafe { invoke_entry(store, entry, values)? };
        let ty = store.funcs[self.index as usize].ty();
        for ((result, &t), slot) in results.iter_mut().zip(ty.results.iter()).zip(&*values) {
            *result = store.read_slot(t, slot);
        }
        Ok(())
    }
}

/// How many value slots [`Func::call`] keeps on the stack; a type with
/// more parameters or results than this puts them on the heap.
const SLOTS_ON_STACK: usize = 16;

/// Where a call of a function enters: the entry trampoline of its type,
/// the function's code and the VMContext to call it with.
#[derive(Copy, Clone)]
pub(crate) struct EntryPoint {
    pub(crate) trampoline: *const u8,
    pub(crate) wasm_call: *const u8,
    pub(crate) vmctx: *mut u8,
}

/// Wraps a closure over `Caller<T>` and [`Val`] slices as a
/// [`HostFn`] ([`Func::new`], [`Linker::func_new`]): the arguments
/// are read into a vector, and the results checked against the type.
///
/// [`Linker::func_new`]: crate::Linker::func_new
pub(crate) fn erase<T: 'static>(
    f: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<(), Error> + Send + Sync + 'static,
) -> HostFn {
    HostFn::new(
        move |store: *mut StoreOpaque, caller, ty: &FuncType, values: &mut [[u8; 16]]| {
            // SAFETY: host callbacks of a `Store<T>` are only made by
            // `Func::new::<T>`, `Func::wrap` and `Linker<T>`, and the
            // opaque part is the first field of the `#[repr(C)]`
            // `StoreInner<T>`; the store is suspended in `Func::call`.
            let store = unsafe { &mut *store.cast::<StoreInner<T>>() };
            let params: Vec<Val> = ty
                .params
                .iter()
                .zip(values.iter())
                .map(|(&t, slot)| store.opaque.read_slot(t, slot))
                .collect();
            let mut results: Vec<Val> = ty.results.iter().map(|&t| Val::default_for(t)).collect();
            f(
                Caller {
                    store: &mut *store,
                    caller,
                },
                &params,
                &mut results,
            )?;
            let opaque = &store.opaque;
            for ((result, &t), slot) in results.iter().zip(ty.results.iter()).zip(values.iter_mut())
            {
                opaque.check_type(result, t, "a host function's result")?;
                opaque.write_slot(result, slot)?;
            }
            Ok(())
        },
    )
}

/// Calls `wasm_call` with `vmctx` through the entry trampoline of `ty`,
/// with arguments and results in `values`, and turns a trap into an
/// error.
///
/// # Safety
///
/// `wasm_call` is a function of type `ty` (wasm code, or a host trampoline)
/// that may be called with `vmctx`; `values` has a slot per parameter and
/// result.
pub(crate) unsafe fn invoke(
    store: &mut StoreOpaque,
    wasm_call: *const u8,
    vmctx: *mut u8,
    ty: &FuncType,
    values: &mut [[u8; 16]],
) -> Result<(), Error> {
    let trampolines = store.engine.trampolines(ty)?;
    let entry = EntryPoint {
        trampoline: trampolines.entry(),
        wasm_call,
        vmctx,
    };
    // SAFETY: the caller's contract; the engine keeps the trampoline.
    unsafe { invoke_entry(store, entry, values) }
}

/// The most the stack limit of an outermost call is rounded up by (see
/// [`invoke_entry`]).
const STACK_LIMIT_GRANULE: usize = 4096;

/// Calls `entry`, with arguments and results in `values`, and turns a trap
/// into an error: the part of every call from the host into wasm
/// ([`Func::call`], [`TypedFunc::call`](crate::TypedFunc::call), a start
/// function).
///
/// The outermost call writes the stack limit into every VMContext of the
/// store, but only when it changed: the limit is `max_wasm_stack` below
/// the caller's frame rounded up to [`STACK_LIMIT_GRANULE`] (so wasm gets
/// up to 4 KiB less than `max_wasm_stack`, never more), which makes it the
/// same for calls made from the same place, as in a loop.
///
/// # Safety
///
/// `entry` is the entry trampoline of a function type, a function of that
/// type (wasm code, or a host trampoline) and a VMContext it may be called
/// with; `values` has a slot per parameter and result.
pub(crate) unsafe fn invoke_entry(
    store: &mut StoreOpaque,
    entry: EntryPoint,
    values: &mut [[u8; 16]],
) -> Result<(), Error> {
    if store.depth == 0 {
        let here = &store as *const _ as usize;
        let limit = here
            .saturating_sub(store.engine.max_wasm_stack())
            .next_multiple_of(STACK_LIMIT_GRANULE);
        if limit != store.stack_limit {
            store.stack_limit = limit;
            for instance in &store.instances {
                instance.set_stack_limit(limit);
            }
        }
    }
    store.depth += 1;
    let store_ptr: *mut StoreOpaque = store;
    // SAFETY: the caller's contract; every function wasm can reach is in
    // registered code of a module or trampoline the store or engine keeps
    // alive. Host functions reach the store through its raw pointer while
    // this frame does not touch it.
    let outcome = unsafe {
        call_wasm(
            entry.trampoline,
            entry.vmctx,
            entry.wasm_call,
            values.as_mut_ptr(),
        )
    };
    // SAFETY: the call is over; nothing else refers to the store.
    let store = unsafe { &mut *store_ptr };
    store.depth -= 1;
    if let Some(panic) = store.host_panic.take() {
        resume_unwind(panic);
    }
    match outcome {
        Ok(()) => Ok(()),
        Err(info) => Err(trap_error(store, &info)),
    }
}

/// The error of a trap that unwound to the host: a [`Trap`] with its
/// frames, and a host function's error as its source.
#[cold]
fn trap_error(store: &mut StoreOpaque, info: &TrapInfo) -> Error {
    let frames = frames(store, info);
    let truncated = info.backtrace.is_truncated();
    let host_error = match info.trap {
        // A host function's error, or an epoch callback's.
        TrapCode::HostError | TrapCode::Interrupt => store.host_error.take(),
        _ => None,
    };
    Error::new(match host_error.map(Error::downcast::<Trap>) {
        // The host function passed on the trap of a call it made into wasm:
        // that trap goes on unwinding as itself, through these frames too.
        Some(Ok(inner)) => inner.unwound_through(frames, truncated),
        Some(Err(error)) => Trap::with_frames(info.trap, frames, truncated).with_source(error),
        None => Trap::with_frames(info.trap, frames, truncated),
    })
}

/// The trap's frames, as function indices and module offsets. An
/// activation that moved to optimized code by on-stack replacement is one
/// frame, the optimized one's: the baseline frame it left, which called
/// it, is not listed.
fn frames(store: &StoreOpaque, info: &TrapInfo) -> Vec<FrameInfo> {
    let mut frames = Vec::new();
    let mut replaced: Option<u32> = None;
    for frame in info.backtrace.frames() {
        let Some((module, (defined, compiler, osr))) = store
            .modules
            .iter()
            .find_map(|m| Some((m, m.inner.frame_function(frame.code, frame.function)?)))
        else {
            replaced = None;
            continue;
        };
        let info = &module.inner.info;
        let func_index = info.num_imported_functions + defined;
        if replaced.take() == Some(func_index) && compiler == Compiler::Winch {
            continue;
        }
        if osr {
            replaced = Some(func_index);
        }
        frames.push(FrameInfo {
            func_index,
            func_name: info
                .function_name(duet_environ::module::FuncIndex::from_u32(func_index))
                .map(str::to_string),
            module_offset: frame.wasm_offset,
            compiler,
        });
    }
    frames
}

/// Writes `limit` as the stack limit of the VMContext at `vmctx`.
///
/// # Safety
///
/// `vmctx` is a live VMContext.
pub(crate) unsafe fn write_stack_limit(vmctx: *mut u8, limit: usize) {
    // SAFETY: the header's stack-limit field is 8-aligned in every
    // VMContext.
    unsafe { (vmctx.add(VMContext::STACK_LIMIT as usize) as *mut usize).write(limit) };
}
