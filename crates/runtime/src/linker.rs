//! [`Linker`]: resolves a module's imports by name.
//!
//! A linker holds two kinds of definitions under `(module, name)`: entities
//! of a store (another instance's exports, or memories, tables and globals
//! the host made), and host functions not yet tied to a store, which are
//! made into a [`Func`] in the store each instantiation uses.

use crate::engine::Engine;
use crate::error::Error;
use crate::externals::Extern;
use crate::func::{Caller, Func, HostCallback, erase};
use crate::instance::Instance;
use crate::module::Module;
use crate::store::{AsStoreMut, Store, Val};
use duet_environ::module::FuncType;
use std::collections::HashMap;
use std::sync::Arc;

enum Definition {
    Extern(Extern),
    HostFunc(FuncType, Arc<HostCallback>),
}

/// Definitions by name, to instantiate modules with.
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

    /// Defines every export of `instance` under `module_name`, replacing
    /// earlier definitions of the same names (as the spec's `register`
    /// does). An instance of another store than `store` is an
    /// [`Error::Type`].
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
            return Err(Error::Unlinkable(format!(
                "`{module}`.`{name}` is already defined"
            )));
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
    /// definition from another store than `store` is an [`Error::Type`]
    /// ([`Instance::new`]).
    pub fn instantiate(&self, store: &mut Store<T>, module: &Module) -> Result<Instance, Error> {
        if !Engine::same(&self.engine, module.engine()) {
            return Err(Error::Type(
                "the module was compiled by another engine than the linker's".into(),
            ));
        }
        let names: Vec<(String, String)> = module
            .imports()
            .map(|(m, n, _)| (m.to_string(), n.to_string()))
            .collect();
        let mut imports = Vec::with_capacity(names.len());
        for (m, n) in names {
            let item = match self.definitions.get(&(m.clone(), n.clone())) {
                Some(Definition::Extern(item)) => *item,
                Some(Definition::HostFunc(ty, callback)) => Extern::Func(Func::from_callback(
                    store.as_store_mut(),
                    ty.clone(),
                    callback.clone(),
                )?),
                None => {
                    return Err(Error::Unlinkable(format!(
                        "unknown import: `{m}`.`{n}` has not been defined"
                    )));
                }
            };
            imports.push(item);
        }
        Instance::new(store, module, &imports)
    }
}
