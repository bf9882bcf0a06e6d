//! [`Linker`]: resolves a module's imports by name, at once or once for
//! many instantiations ([`InstancePre`]).
//!
//! A linker holds two kinds of definitions under `(module, name)`: entities
//! of a store (another instance's exports, or memories, tables and globals
//! the host made), and host functions not yet tied to a store, which are
//! made into a [`Func`] in the store each instantiation uses.

use crate::engine::Engine;
use crate::error::{Error, ErrorKind};
use crate::externals::Extern;
use crate::func::{Caller, Func, HostFn, erase};
use crate::instance::Instance;
use crate::module::Module;
use crate::store::{AsStoreDataMut, AsStoreMut, Store, Val};
use crate::wrap::{IntoFunc, WrappedFunc};
use duet_environ::module::FuncType;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Clone)]
enum Definition {
    Extern(Extern),
    HostFunc(FuncType, HostFn),
}

/// Definitions by name, to instantiate modules with.
///
/// ```
/// use duet::{Engine, Linker, Module, Store};
/// let engine = Engine::default();
/// let mut linker = Linker::new(&engine);
/// linker.func_wrap("env", "twice", |x: i64| x * 2)?;
/// let mut store = Store::new(&engine, ());
/// // Another instance's exports, under a module name of their own.
/// let lib = Module::new(&engine, r#"(module (func (export "one") (result i64) i64.const 1))"#)?;
/// let lib = linker.instantiate(&mut store, &lib)?;
/// linker.instance(&mut store, "lib", lib)?;
/// let main = Module::new(&engine, r#"(module
///     (import "env" "twice" (func $twice (param i64) (result i64)))
///     (import "lib" "one" (func $one (result i64)))
///     (func (export "two") (result i64) (call $twice (call $one))))"#)?;
/// let main = linker.instantiate(&mut store, &main)?;
/// let two = main.get_typed_func::<(), i64>(&mut store, "two")?;
/// assert_eq!(two.call(&mut store, ())?, 2);
/// // An import nobody defined is an error naming it.
/// let other = Module::new(&engine, r#"(module (import "env" "missing" (func)))"#)?;
/// let error = linker.instantiate(&mut store, &other).unwrap_err();
/// assert!(error.to_string().contains("`env`.`missing`"));
/// # Ok::<(), duet::Error>(())
/// ```
pub struct Linker<T> {
    engine: Engine,
    definitions: HashMap<(String, String), Definition>,
    _data: core::marker::PhantomData<fn(T)>,
}

impl<T: 'static> Linker<T> {
    /// An empty linker for modules of `engine`.
    pub fn new(engine: &Engine) -> Linker<T> {
        Linker {
            engine: engine.clone(),
            definitions: HashMap::new(),
            _data: core::marker::PhantomData,
        }
    }

    /// Defines `module`.`name` as `item` (an entity of one store).
    pub fn define(
        &mut self,
        module: &str,
        name: &str,
        item: impl Into<Extern>,
    ) -> Result<&mut Self, Error> {
        self.insert(module, name, Definition::Extern(item.into()))
    }

    /// Defines `module`.`name` as a host function of type `ty`.
    pub fn func_new(
        &mut self,
        module: &str,
        name: &str,
        ty: FuncType,
        f: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<(), Error> + Send + Sync + 'static,
    ) -> Result<&mut Self, Error> {
        self.insert(module, name, Definition::HostFunc(ty, erase(f)))
    }

    /// Defines `module`.`name` as a host function that runs `func`, a
    /// closure over Rust values with or without a leading [`Caller`]
    /// (Wasmtime's `Linker::func_wrap`; [`IntoFunc`] says which closures).
    ///
    /// ```
    /// use duet::{Caller, Engine, Linker, Module, Store};
    /// let engine = Engine::default();
    /// let mut linker = Linker::new(&engine);
    /// linker.func_wrap("host", "double", |x: i32| x * 2)?;
    /// linker.func_wrap("host", "count", |mut caller: Caller<'_, u32>| {
    ///     *caller.data_mut() += 1;
    /// })?;
    /// let module = Module::new(&engine, r#"(module
    ///     (import "host" "double" (func $double (param i32) (result i32)))
    ///     (import "host" "count" (func $count))
    ///     (func (export "run") (param i32) (result i32)
    ///       call $count
    ///       (call $double (local.get 0))))"#)?;
    /// let mut store = Store::new(&engine, 0);
    /// let instance = linker.instantiate(&mut store, &module)?;
    /// let run = instance.get_typed_func::<i32, i32>(&mut store, "run")?;
    /// assert_eq!(run.call(&mut store, 21)?, 42);
    /// assert_eq!(*store.data(), 1);
    /// # Ok::<(), duet::Error>(())
    /// ```
    pub fn func_wrap<Params, Results>(
        &mut self,
        module: &str,
        name: &str,
        func: impl IntoFunc<T, Params, Results>,
    ) -> Result<&mut Self, Error> {
        let WrappedFunc { ty, callback } = func.into_wrapped();
        self.insert(module, name, Definition::HostFunc(ty, callback))
    }

    /// Defines every export of `instance` under `module_name`, replacing
    /// earlier definitions of the same names (as the spec's `register`
    /// does). An instance of another store than `store` is an
    /// [`ErrorKind::Type`](crate::ErrorKind::Type).
    pub fn instance(
        &mut self,
        store: &mut Store<T>,
        module_name: &str,
        instance: Instance,
    ) -> Result<&mut Self, Error> {
        for (name, item) in instance.exports(&*store)? {
            self.definitions
                .insert((module_name.to_string(), name), Definition::Extern(item));
        }
        Ok(self)
    }

    fn insert(
        &mut self,
        module: &str,
        name: &str,
        definition: Definition,
    ) -> Result<&mut Self, Error> {
        let key = (module.to_string(), name.to_string());
        if self.definitions.contains_key(&key) {
            return Err(Error::from(ErrorKind::Unlinkable(format!(
                "`{module}`.`{name}` is already defined"
            ))));
        }
        self.definitions.insert(key, definition);
        Ok(self)
    }

    /// The definition of `module`.`name` in `store`.
    pub fn get(&self, store: &mut Store<T>, module: &str, name: &str) -> Option<Extern> {
        match self
            .definitions
            .get(&(module.to_string(), name.to_string()))?
        {
            Definition::Extern(item) => Some(*item),
            Definition::HostFunc(ty, callback) => Some(Extern::Func(
                Func::from_callback(store.as_store_mut(), ty.clone(), callback.clone()).ok()?,
            )),
        }
    }

    /// Instantiates `module` with its imports resolved by name. A
    /// definition from another store than `store` is an [`ErrorKind::Type`](crate::ErrorKind::Type)
    /// ([`Instance::new`]).
    pub fn instantiate(&self, store: &mut Store<T>, module: &Module) -> Result<Instance, Error> {
        self.instantiate_pre(module)?.instantiate(store)
    }

    /// Resolves `module`'s imports by name once, for many instantiations
    /// (Wasmtime's `Linker::instantiate_pre`): an import the linker does
    /// not define is an [`ErrorKind::Unlinkable`](crate::ErrorKind::Unlinkable) here, and a module of
    /// another engine an [`ErrorKind::Type`](crate::ErrorKind::Type). Types are checked by each
    /// [`InstancePre::instantiate`], as [`Instance::new`] checks them.
    pub fn instantiate_pre(&self, module: &Module) -> Result<InstancePre<T>, Error> {
        if !Engine::same(&self.engine, module.engine()) {
            return Err(Error::from(ErrorKind::Type(
                "the module was compiled by another engine than the linker's".into(),
            )));
        }
        let imports = module
            .imports()
            .map(
                |(m, n, _)| match self.definitions.get(&(m.to_string(), n.to_string())) {
                    Some(definition) => Ok(definition.clone()),
                    None => Err(Error::from(ErrorKind::Unlinkable(format!(
                        "unknown import: `{m}`.`{n}` has not been defined"
                    )))),
                },
            )
            .collect::<Result<Arc<[Definition]>, Error>>()?;
        Ok(InstancePre {
            module: module.clone(),
            imports,
            _data: core::marker::PhantomData,
        })
    }
}

/// A module whose imports a [`Linker`] has resolved, ready to be
/// instantiated in any number of stores (Wasmtime's `InstancePre`). Cheap
/// to clone, and `Send + Sync`, so one can serve many threads.
///
/// Host functions the linker defined are made anew in each store an
/// instantiation uses; an import the linker defined as an entity of one
/// store (an [`Extern`]) can only be used in that store, and
/// instantiating in another is an [`ErrorKind::Type`](crate::ErrorKind::Type), as with
/// [`Instance::new`].
///
/// ```
/// use duet::{Engine, Linker, Module, Store};
/// let engine = Engine::default();
/// let mut linker = Linker::new(&engine);
/// linker.func_wrap("host", "seed", || 40)?;
/// let module = Module::new(&engine, r#"(module
///     (import "host" "seed" (func $seed (result i32)))
///     (func (export "answer") (result i32) (i32.add (call $seed) (i32.const 2))))"#)?;
/// let pre = linker.instantiate_pre(&module)?;
/// for _ in 0..3 {
///     let mut store = Store::new(&engine, ());
///     let instance = pre.instantiate(&mut store)?;
///     let answer = instance.get_typed_func::<(), i32>(&mut store, "answer")?;
///     assert_eq!(answer.call(&mut store, ())?, 42);
/// }
/// # Ok::<(), duet::Error>(())
/// ```
pub struct InstancePre<T> {
    module: Module,
    /// The definition of each import, in the module's order.
    imports: Arc<[Definition]>,
    _data: core::marker::PhantomData<fn(T)>,
}

impl<T> Clone for InstancePre<T> {
    fn clone(&self) -> Self {
        InstancePre {
            module: self.module.clone(),
            imports: self.imports.clone(),
            _data: core::marker::PhantomData,
        }
    }
}

impl<T: 'static> InstancePre<T> {
    /// The module.
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// Instantiates the module in `store`: its host functions are made in
    /// `store`, then [`Instance::new`] does the rest (types, segments, the
    /// start function).
    pub fn instantiate(&self, mut store: impl AsStoreDataMut<Data = T>) -> Result<Instance, Error> {
        let store = store.as_store_mut();
        let imports = self
            .imports
            .iter()
            .map(|definition| match definition {
                Definition::Extern(item) => Ok(*item),
                Definition::HostFunc(ty, callback) => {
                    Func::from_callback(store, ty.clone(), callback.clone()).map(Extern::Func)
                }
            })
            .collect::<Result<Vec<Extern>, Error>>()?;
        crate::instance::instantiate(store, &self.module, &imports)
    }
}

impl<T> core::fmt::Debug for InstancePre<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("InstancePre")
            .field("imports", &self.imports.len())
            .finish_non_exhaustive()
    }
}
