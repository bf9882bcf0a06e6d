//! Dense entity references and the maps keyed by them.
//!
//! Every IR object (block, value, instruction, ...) is a `u32` index into a
//! table owned by the function: copyable, hashable, and four bytes. A
//! [`PrimaryMap`] allocates the indices of one kind and owns the data they
//! name; a [`SecondaryMap`] attaches more data to existing indices, with a
//! default for those it has not seen, so passes can keep side tables without
//! touching the primary data.

use core::marker::PhantomData;
use core::ops::{Index, IndexMut};

/// A type that is a dense index.
pub trait EntityRef: Copy + Eq {
    /// The entity numbered `index`.
    fn new(index: usize) -> Self;
    /// The entity's number.
    fn index(self) -> usize;
}

/// Declares entity reference types: `name(u32)` with `Display` as
/// `prefix` followed by the number.
macro_rules! entity_ref {
    ($($(#[$attr:meta])* $name:ident => $prefix:literal;)*) => {$(
        $(#[$attr])*
        #[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(u32);

        impl $crate::entity::EntityRef for $name {
            fn new(index: usize) -> Self {
                $name(u32::try_from(index).expect("more than 2^32 entities"))
            }
            fn index(self) -> usize {
                self.0 as usize
            }
        }

        impl $name {
            /// The entity numbered `n`.
            pub const fn from_u32(n: u32) -> Self {
                $name(n)
            }

            /// The entity's number.
            pub const fn as_u32(self) -> u32 {
                self.0
            }

            /// The prefix of the entity's name in the text format.
            pub const PREFIX: &'static str = $prefix;
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                core::fmt::Display::fmt(self, f)
            }
        }
    )*};
}
pub(crate) use entity_ref;

/// The owner of the entities of kind `K`: allocates them in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrimaryMap<K, V> {
    elements: Vec<V>,
    _keys: PhantomData<K>,
}

impl<K: EntityRef, V> Default for PrimaryMap<K, V> {
    fn default() -> Self {
        PrimaryMap::new()
    }
}

impl<K: EntityRef, V> PrimaryMap<K, V> {
    /// An empty map.
    pub fn new() -> Self {
        PrimaryMap {
            elements: Vec::new(),
            _keys: PhantomData,
        }
    }

    /// Allocates the next entity, with `value`.
    pub fn push(&mut self, value: V) -> K {
        let key = K::new(self.elements.len());
        self.elements.push(value);
        key
    }

    /// How many entities exist.
    pub fn len(&self) -> usize {
        self.elements.len()
    }

    /// Whether none exist.
    pub fn is_empty(&self) -> bool {
        self.elements.is_empty()
    }

    /// Whether `key` was allocated here.
    pub fn is_valid(&self, key: K) -> bool {
        key.index() < self.elements.len()
    }

    /// The data of `key`, if it exists.
    pub fn get(&self, key: K) -> Option<&V> {
        self.elements.get(key.index())
    }

    /// Every entity, in allocation order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = K> + ExactSizeIterator + use<K, V> {
        (0..self.elements.len()).map(K::new)
    }

    /// Every entity with its data.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (K, &V)> + ExactSizeIterator {
        self.elements
            .iter()
            .enumerate()
            .map(|(i, v)| (K::new(i), v))
    }

    /// Every entity's data.
    pub fn values(&self) -> core::slice::Iter<'_, V> {
        self.elements.iter()
    }

    /// The key the next `push` returns.
    pub fn next_key(&self) -> K {
        K::new(self.elements.len())
    }
}

impl<K: EntityRef, V> Index<K> for PrimaryMap<K, V> {
    type Output = V;
    fn index(&self, key: K) -> &V {
        &self.elements[key.index()]
    }
}

impl<K: EntityRef, V> IndexMut<K> for PrimaryMap<K, V> {
    fn index_mut(&mut self, key: K) -> &mut V {
        &mut self.elements[key.index()]
    }
}

/// Extra data for entities of kind `K`: a default for every entity not yet
/// written. Reading never grows the map; writing grows it as needed.
#[derive(Clone, Debug)]
pub struct SecondaryMap<K, V: Clone> {
    elements: Vec<V>,
    default: V,
    _keys: PhantomData<K>,
}

impl<K: EntityRef, V: Clone + Default> Default for SecondaryMap<K, V> {
    fn default() -> Self {
        SecondaryMap::with_default(V::default())
    }
}

impl<K: EntityRef, V: Clone> SecondaryMap<K, V> {
    /// An empty map whose entries read as `default`.
    pub fn with_default(default: V) -> Self {
        SecondaryMap {
            elements: Vec::new(),
            default,
            _keys: PhantomData,
        }
    }

    /// Forgets every entry.
    pub fn clear(&mut self) {
        self.elements.clear();
    }

    /// Makes room for entities below `len`.
    pub fn resize(&mut self, len: usize) {
        if len > self.elements.len() {
            self.elements.resize(len, self.default.clone());
        }
    }
}

impl<K: EntityRef, V: Clone> Index<K> for SecondaryMap<K, V> {
    type Output = V;
    fn index(&self, key: K) -> &V {
        self.elements.get(key.index()).unwrap_or(&self.default)
    }
}

impl<K: EntityRef, V: Clone> IndexMut<K> for SecondaryMap<K, V> {
    fn index_mut(&mut self, key: K) -> &mut V {
        let i = key.index();
        if i >= self.elements.len() {
            self.elements.resize(i + 1, self.default.clone());
        }
        &mut self.elements[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    entity_ref! {
        /// A test entity.
        E => "e";
    }

    #[test]
    fn primary_maps_allocate_in_order_and_secondary_maps_default() {
        let mut primary: PrimaryMap<E, &str> = PrimaryMap::new();
        let a = primary.push("a");
        let b = primary.push("b");
        assert_eq!((a.as_u32(), b.as_u32()), (0, 1));
        assert_eq!(primary[b], "b");
        assert_eq!(b.to_string(), "e1");
        assert_eq!((E::from_u32(1), E::PREFIX), (b, "e"));
        let mut secondary: SecondaryMap<E, u32> = SecondaryMap::with_default(7);
        assert_eq!(secondary[b], 7);
        secondary[b] = 3;
        assert_eq!((secondary[a], secondary[b]), (7, 3));
        assert_eq!(primary.keys().collect::<Vec<_>>(), [a, b]);
    }
}
