//! [`Func::wrap`] and [`Linker::func_wrap`]: host functions from Rust
//! closures whose parameters and results are Rust types, as Wasmtime has
//! them.
//!
//! A closure `Fn([Caller<'_, T>,] A1, .., An) -> R` becomes a host function
//! of type `[A1::TYPE .. An::TYPE] -> R's types`, where each `Ai` is a
//! [`WasmTy`] (`i32`, `i64`, `f32`, `f64`, `u128` for `v128`,
//! `Option<Func>`, `Option<ExternRef>`) and `R` a [`WasmRet`]: `()`, a
//! [`WasmTy`], a tuple of them, or a `Result` of one of those whose error
//! converts into a [`crate::Error`] (so `anyhow::Result<i32>`,
//! `duet::Result<i32>` and `Result<i32, std::io::Error>` all do).
//!
//! # No allocation per call
//!
//! The host trampoline hands `host_shim` (`func.rs`), instantiated for the
//! callback's closure type, the argument slots (16 bytes each, the results
//! written back into the same slots). A wrapped closure's callback, called
//! directly from that shim, reads each argument straight from its slot
//! with [`WasmTy::load`], calls the closure, and writes the results back
//! with [`WasmList::store_slots`]: no vector of [`Val`](crate::Val)s, no
//! type check at run time (the type was fixed when the function was made,
//! and the trampoline is the one of that type).
//!
//! [`Linker::func_wrap`]: crate::Linker::func_wrap
//! [`ExternRef`]: crate::ExternRef

use crate::error::Error;
use crate::func::{Caller, Func, HostFn};
use crate::instance::Instance;
use crate::store::{AsStoreDataMut, StoreInner, StoreOpaque};
use crate::typed::{WasmList, WasmTy};
use duet_environ::module::FuncType;

/// What a wrapped host function may return: `()`, a [`WasmTy`], a tuple
/// of them, or a `Result` of one of those whose error converts into a
/// [`crate::Error`] (a failure traps with
/// [`TrapCode::HostError`](crate::TrapCode::HostError), the error as the
/// trap's source, as for [`Func::new`]).
pub trait WasmRet {
    /// The values returned on success.
    type Ok: WasmList;

    /// The values, or the host function's error.
    #[doc(hidden)]
    fn into_result(self) -> Result<Self::Ok, Error>;
}

impl<R: WasmList> WasmRet for R {
    type Ok = R;

    fn into_result(self) -> Result<R, Error> {
        Ok(self)
    }
}

impl<R: WasmList, E: Into<Error>> WasmRet for Result<R, E> {
    type Ok = R;

    fn into_result(self) -> Result<R, Error> {
        self.map_err(Into::into)
    }
}

/// A host function made from a closure, ready to be put in a store: its
/// type and its callback.
#[doc(hidden)]
pub struct WrappedFunc {
    pub(crate) ty: FuncType,
    pub(crate) callback: HostFn,
}

/// A closure that [`Func::wrap`] and [`Linker::func_wrap`] accept: `Fn(A1,
/// .., An) -> R` or `Fn(Caller<'_, T>, A1, .., An) -> R` for up to 10
/// parameters of [`WasmTy`] types and an `R` of [`WasmRet`]. `Params` is
/// the tuple of the closure's parameter types, which tells the two kinds
/// apart.
///
/// [`Linker::func_wrap`]: crate::Linker::func_wrap
pub trait IntoFunc<T, Params, Results>: Send + Sync + 'static {
    /// The function's type and its callback.
    #[doc(hidden)]
    fn into_wrapped(self) -> WrappedFunc;
}

macro_rules! into_func {
    ($($arg:ident)*) => {
        #[allow(non_snake_case, reason = "the type names double as bindings")]
        impl<T, F, R, $($arg,)*> IntoFunc<T, ($($arg,)*), R> for F
        where
            F: Fn($($arg),*) -> R + Send + Sync + 'static,
            $($arg: WasmTy,)*
            R: WasmRet,
        {
            fn into_wrapped(self) -> WrappedFunc {
                let ty = FuncType {
                    params: [$($arg::TYPE),*].into(),
                    results: <R::Ok as WasmList>::types().into(),
                };
                let callback = move |store: *mut StoreOpaque,
                                     _caller: Option<Instance>,
                                     _ty: &FuncType,
                                     values: &mut [[u8; 16]]| {
                    // SAFETY: the store outlives its functions' contexts,
                    // and is suspended in `Func::call` while wasm runs.
                    let opaque = unsafe { &*store };
                    let mut _slots = values.iter();
                    $(let $arg = $arg::load(opaque, _slots.next().expect("a slot per parameter"));)*
                    let results = self($($arg),*).into_result()?;
                    results.store_slots(opaque, values)
                };
                WrappedFunc { ty, callback: HostFn::new(callback) }
            }
        }

        #[allow(non_snake_case, reason = "the type names double as bindings")]
        impl<'a, T: 'static, F, R, $($arg,)*> IntoFunc<T, (Caller<'a, T>, $($arg,)*), R> for F
        where
            F: Fn(Caller<'_, T>, $($arg),*) -> R + Send + Sync + 'static,
            $($arg: WasmTy,)*
            R: WasmRet,
        {
            fn into_wrapped(self) -> WrappedFunc {
                let ty = FuncType {
                    params: [$($arg::TYPE),*].into(),
                    results: <R::Ok as WasmList>::types().into(),
                };
                let callback = move |store: *mut StoreOpaque,
                                     caller: Option<Instance>,
                                     _ty: &FuncType,
                                     values: &mut [[u8; 16]]| {
                    // SAFETY: `IntoFunc<T, ..>` is only turned into a host
                    // function of a `Store<T>` (`Func::wrap` takes a store
                    // whose data is `T`, `Linker<T>` instantiates in
                    // `Store<T>`), whose opaque part is the first field of
                    // the `#[repr(C)]` `StoreInner<T>`; the store is
                    // suspended in `Func::call` while wasm runs.
                    let store = unsafe { &mut *store.cast::<StoreInner<T>>() };
                    let mut _slots = values.iter();
                    $(let $arg = $arg::load(&store.opaque, _slots.next().expect("a slot per parameter"));)*
                    let results = self(Caller { store: &mut *store, caller }, $($arg),*).into_result()?;
                    results.store_slots(&store.opaque, values)
                };
                WrappedFunc { ty, callback: HostFn::new(callback) }
            }
        }
    };
}

into_func!();
into_func!(A1);
into_func!(A1 A2);
into_func!(A1 A2 A3);
into_func!(A1 A2 A3 A4);
into_func!(A1 A2 A3 A4 A5);
into_func!(A1 A2 A3 A4 A5 A6);
into_func!(A1 A2 A3 A4 A5 A6 A7);
into_func!(A1 A2 A3 A4 A5 A6 A7 A8);
into_func!(A1 A2 A3 A4 A5 A6 A7 A8 A9);
into_func!(A1 A2 A3 A4 A5 A6 A7 A8 A9 A10);

impl Func {
    /// A host function that runs `func`, a closure over Rust values
    /// (see [`IntoFunc`]), with or without a leading [`Caller`]: Wasmtime's
    /// `Func::wrap`. Wasm calls it without allocating (`wrap.rs`).
    ///
    /// ```
    /// use duet::{Caller, Engine, Func, Store};
    /// let engine = Engine::default();
    /// let mut store = Store::new(&engine, 10);
    /// let add = Func::wrap(&mut store, |caller: Caller<'_, i32>, a: i32, b: i32| {
    ///     a + b + *caller.data()
    /// });
    /// let add = add.typed::<(i32, i32), i32>(&store)?;
    /// assert_eq!(add.call(&mut store, (1, 2))?, 13);
    /// # Ok::<(), duet::Error>(())
    /// ```
    pub fn wrap<T: 'static, Params, Results>(
        mut store: impl AsStoreDataMut<Data = T>,
        func: impl IntoFunc<T, Params, Results>,
    ) -> Func {
        let WrappedFunc { ty, callback } = func.into_wrapped();
        Func::from_callback(store.as_store_mut(), ty, callback)
            .expect("the trampolines of a function type compile")
    }
}
