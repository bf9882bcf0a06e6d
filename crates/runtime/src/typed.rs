//! [`TypedFunc`]: a [`Func`] whose type was checked once against Rust types,
//! so calls take and return Rust values.

use crate::error::{Error, ErrorKind};
use crate::func::{Func, invoke_entry};
use crate::store::{AsStore, AsStoreMut, ExternRef, StoreOpaque, Val};
use duet_environ::module::ValType;

/// A Rust type that is a wasm value type: `i32`, `i64`, `f32`, `f64`,
/// `u128` (a `v128`, little-endian as in [`Val::V128`]), `Option<Func>`
/// (`funcref`) and `Option<ExternRef>` (`externref`).
pub trait WasmTy: Sized {
    /// The wasm type.
    const TYPE: ValType;
    /// As a [`Val`].
    fn into_val(self) -> Val;
    /// From a [`Val`] of type [`Self::TYPE`].
    fn from_val(val: Val) -> Option<Self>;

    /// Reads the value from a trampoline's 16-byte slot, which holds one
    /// of type [`Self::TYPE`].
    #[doc(hidden)]
    fn load(store: &StoreOpaque, slot: &[u8; 16]) -> Self {
        Self::from_val(store.read_slot(Self::TYPE, slot))
            .expect("a slot read as `Self::TYPE` holds a value of that type")
    }

    /// Writes the value into a trampoline's 16-byte slot: a reference of
    /// another store is an [`ErrorKind::Type`](crate::ErrorKind::Type).
    #[doc(hidden)]
    fn store(self, store: &StoreOpaque, slot: &mut [u8; 16]) -> Result<(), Error> {
        store.write_slot(&self.into_val(), slot)
    }
}

macro_rules! wasm_ty {
    ($($t:ty => $v:ident, $get:expr, $to_bits:expr, $from_bytes:expr;)*) => {$(
        impl WasmTy for $t {
            const TYPE: ValType = ValType::$v;
            fn into_val(self) -> Val {
                Val::from(self)
            }
            fn from_val(val: Val) -> Option<Self> {
                let get: fn(&Val) -> Option<$t> = $get;
                get(&val)
            }
            /// The value's own bytes at the start of the slot,
            /// little-endian: a load no wider than the trampoline's store
            /// of it, so that it is forwarded from that store.
            #[inline]
            fn load(_store: &StoreOpaque, slot: &[u8; 16]) -> Self {
                let from_bytes: fn(&[u8; 16]) -> $t = $from_bytes;
                from_bytes(slot)
            }
            /// One 16-byte store of the value, zero-extended: a trampoline's
            /// load of the low 4 or 8 bytes right after it is forwarded
            /// from that store (two overlapping stores, the zeroes and then
            /// the value, make the load wait for both to reach the cache).
            #[inline]
            fn store(self, _store: &StoreOpaque, slot: &mut [u8; 16]) -> Result<(), Error> {
                let to_bits: fn($t) -> u128 = $to_bits;
                *slot = to_bits(self).to_le_bytes();
                Ok(())
            }
        }
    )*};
}

wasm_ty! {
    i32 => I32, Val::i32, |v| u128::from(v as u32), |s| i32::from_le_bytes(low(s));
    i64 => I64, Val::i64, |v| u128::from(v as u64), |s| i64::from_le_bytes(low(s));
    f32 => F32, Val::f32, |v| u128::from(v.to_bits()), |s| f32::from_le_bytes(low(s));
    f64 => F64, Val::f64, |v| u128::from(v.to_bits()), |s| f64::from_le_bytes(low(s));
    u128 => V128, Val::v128, |v| v, |s| u128::from_le_bytes(*s);
}

/// The first `N` bytes of a slot.
fn low<const N: usize>(slot: &[u8; 16]) -> [u8; N] {
    slot[..N].try_into().expect("N is at most 16")
}

impl WasmTy for Option<Func> {
    const TYPE: ValType = ValType::FuncRef;
    fn into_val(self) -> Val {
        Val::FuncRef(self)
    }
    fn from_val(val: Val) -> Option<Self> {
        match val {
            Val::FuncRef(f) => Some(f),
            _ => None,
        }
    }
}

impl WasmTy for Option<ExternRef> {
    const TYPE: ValType = ValType::ExternRef;
    fn into_val(self) -> Val {
        Val::ExternRef(self)
    }
    fn from_val(val: Val) -> Option<Self> {
        match val {
            Val::ExternRef(r) => Some(r),
            _ => None,
        }
    }
}

/// A list of wasm values as a Rust type: `()`, a [`WasmTy`], or a tuple of
/// them.
pub trait WasmList: Sized {
    /// How many values: `types().len()`, known at compile time.
    #[doc(hidden)]
    const COUNT: usize;
    /// The wasm types, in order.
    fn types() -> Vec<ValType>;
    /// As [`Val`]s.
    fn into_vals(self) -> Vec<Val>;
    /// From [`Val`]s of [`Self::types`].
    fn from_vals(vals: &[Val]) -> Option<Self>;

    /// Writes the values into the first slots of `slots` (there is one
    /// per value): no allocation, as a host function's results.
    #[doc(hidden)]
    fn store_slots(self, store: &StoreOpaque, slots: &mut [[u8; 16]]) -> Result<(), Error>;

    /// Reads the values from the first slots of `slots`, which hold values
    /// of [`Self::types`] (a typed call's results).
    #[doc(hidden)]
    fn load_slots(store: &StoreOpaque, slots: &[[u8; 16]]) -> Self;
}

impl<T: WasmTy> WasmList for T {
    const COUNT: usize = 1;
    fn types() -> Vec<ValType> {
        vec![T::TYPE]
    }
    fn into_vals(self) -> Vec<Val> {
        vec![self.into_val()]
    }
    fn from_vals(vals: &[Val]) -> Option<Self> {
        match vals {
            [v] => T::from_val(*v),
            _ => None,
        }
    }
    fn store_slots(self, store: &StoreOpaque, slots: &mut [[u8; 16]]) -> Result<(), Error> {
        self.store(store, &mut slots[0])
    }
    fn load_slots(store: &StoreOpaque, slots: &[[u8; 16]]) -> Self {
        T::load(store, &slots[0])
    }
}

macro_rules! wasm_tuple {
    ($($t:ident),*) => {
        #[allow(non_snake_case, reason = "the type names double as bindings")]
        impl<$($t: WasmTy),*> WasmList for ($($t,)*) {
            const COUNT: usize = {
                let names: &[&str] = &[$(stringify!($t)),*];
                names.len()
            };
            fn types() -> Vec<ValType> {
                vec![$($t::TYPE),*]
            }
            fn into_vals(self) -> Vec<Val> {
                let ($($t,)*) = self;
                vec![$($t.into_val()),*]
            }
            fn from_vals(vals: &[Val]) -> Option<Self> {
                let mut iter = vals.iter();
                let result = ($($t::from_val(*iter.next()?)?,)*);
                iter.next().is_none().then_some(result)
            }
            fn store_slots(self, _store: &StoreOpaque, _slots: &mut [[u8; 16]]) -> Result<(), Error> {
                let ($($t,)*) = self;
                let mut _slots = _slots.iter_mut();
                $($t.store(_store, _slots.next().expect("a slot per value"))?;)*
                Ok(())
            }
            #[allow(clippy::unused_unit, reason = "`()` is the empty tuple's value")]
            fn load_slots(_store: &StoreOpaque, _slots: &[[u8; 16]]) -> Self {
                let mut _slots = _slots.iter();
                ($($t::load(_store, _slots.next().expect("a slot per value")),)*)
            }
        }
    };
}

wasm_tuple!();
wasm_tuple!(A, B);
wasm_tuple!(A, B, C);
wasm_tuple!(A, B, C, D);
wasm_tuple!(A, B, C, D, E);
wasm_tuple!(A, B, C, D, E, F);

/// The most values a [`WasmList`] has (the largest tuple's): the slots of a
/// typed call fit in an array of this many on the stack.
const MAX_LIST: usize = 6;

/// A function checked to have type `Params -> Results`: `()`, a
/// [`WasmTy`] or a tuple of them on each side.
///
/// ```
/// use duet::{Engine, Instance, Module, Store};
/// let engine = Engine::default();
/// let module = Module::new(&engine, r#"(module
///     (func (export "divmod") (param i32 i32) (result i32 i32)
///       (i32.div_u (local.get 0) (local.get 1))
///       (i32.rem_u (local.get 0) (local.get 1))))"#)?;
/// let mut store = Store::new(&engine, ());
/// let instance = Instance::new(&mut store, &module, &[])?;
/// let divmod = instance.get_typed_func::<(i32, i32), (i32, i32)>(&mut store, "divmod")?;
/// assert_eq!(divmod.call(&mut store, (17, 5))?, (3, 2));
/// // Dividing by zero traps: an error holding the `Trap`.
/// let error = divmod.call(&mut store, (1, 0)).unwrap_err();
/// let trap = error.downcast_ref::<duet::Trap>().expect("a trap");
/// assert_eq!(trap.code(), duet::TrapCode::IntegerDivisionByZero);
/// // The wrong types are refused when the function is typed.
/// assert!(instance.get_typed_func::<i32, i32>(&mut store, "divmod").is_err());
/// # Ok::<(), duet::Error>(())
/// ```
pub struct TypedFunc<Params, Results> {
    func: Func,
    _types: core::marker::PhantomData<fn(Params) -> Results>,
}

impl<Params, Results> Clone for TypedFunc<Params, Results> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<Params, Results> Copy for TypedFunc<Params, Results> {}

impl<Params, Results> core::fmt::Debug for TypedFunc<Params, Results> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("TypedFunc").field(&self.func).finish()
    }
}

impl Func {
    /// This function as a [`TypedFunc`], if its type is `Params -> Results`
    /// (an [`ErrorKind::Type`](crate::ErrorKind::Type) if not, or if the function belongs to another
    /// store).
    pub fn typed<Params: WasmList, Results: WasmList>(
        &self,
        store: impl AsStore,
    ) -> Result<TypedFunc<Params, Results>, Error> {
        let store = store.as_store();
        store.check(self.store, "the function")?;
        let ty = store.funcs[self.index as usize].ty();
        if *ty.params != *Params::types() || *ty.results != *Results::types() {
            return Err(Error::from(ErrorKind::Type(format!(
                "the function has type {ty}, not the requested {}",
                duet_environ::module::FuncType {
                    params: Params::types().into(),
                    results: Results::types().into(),
                }
            ))));
        }
        Ok(TypedFunc {
            func: *self,
            _types: core::marker::PhantomData,
        })
    }
}

impl<Params: WasmList, Results: WasmList> TypedFunc<Params, Results> {
    /// Calls the function ([`Func::call`]: a store other than the
    /// function's is an [`ErrorKind::Type`](crate::ErrorKind::Type)).
    ///
    /// The arguments go straight into slots on the stack and the results
    /// come straight out of them: no [`Val`]s, no type check (it was made
    /// once, by [`Func::typed`]), no allocation, and no lock (the entry
    /// trampoline was looked up on the function's first call).
    pub fn call(&self, mut store: impl AsStoreMut, params: Params) -> Result<Results, Error> {
        const { assert!(Params::COUNT <= MAX_LIST && Results::COUNT <= MAX_LIST) };
        let store = store.as_store_mut();
        store.check(self.func.store, "the function")?;
        let mut slots = [[0u8; 16]; MAX_LIST];
        let values = &mut slots[..Params::COUNT.max(Results::COUNT).max(1)];
        params.store_slots(store, values)?;
        let entry = store.entry_point(self.func.index)?;
        // SAFETY: `Func::typed` checked that the function has type
        // `Params -> Results`, so the entry point is of that type, and
        // `values` has a slot per parameter and result.
        unsafe { invoke_entry(store, entry, values)? };
        Ok(Results::load_slots(store, values))
    }

    /// The untyped function.
    pub fn func(&self) -> Func {
        self.func
    }
}
