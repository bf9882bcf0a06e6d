//! Lists of values (call arguments, branch arguments, block parameters,
//! results), stored in one pool per function.

use super::entities::Value;

/// A list of values in a [`ValueListPool`]: a range of it. Copyable and
/// eight bytes, so instruction data stays small and `Copy`.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct ValueList {
    start: u32,
    len: u32,
}

/// The storage of a function's value lists. Lists are appended and never
/// freed individually: a list that changes is copied to the end (cheap,
/// and the pool is freed with the function).
#[derive(Clone, Debug, Default)]
pub struct ValueListPool {
    values: Vec<Value>,
}

impl ValueList {
    /// The empty list.
    pub const EMPTY: ValueList = ValueList { start: 0, len: 0 };

    /// The number of values.
    pub const fn len(self) -> usize {
        self.len as usize
    }

    /// Whether the list is empty.
    pub const fn is_empty(self) -> bool {
        self.len == 0
    }

    /// The values.
    pub fn as_slice(self, pool: &ValueListPool) -> &[Value] {
        &pool.values[self.start as usize..(self.start + self.len) as usize]
    }

    /// The values, for changing in place.
    pub fn as_mut_slice(self, pool: &mut ValueListPool) -> &mut [Value] {
        &mut pool.values[self.start as usize..(self.start + self.len) as usize]
    }

    /// Value `i`.
    pub fn get(self, i: usize, pool: &ValueListPool) -> Option<Value> {
        self.as_slice(pool).get(i).copied()
    }

    /// Appends `value`, moving the list to the end of the pool unless it is
    /// there already.
    pub fn push(&mut self, value: Value, pool: &mut ValueListPool) {
        let end = (self.start + self.len) as usize;
        if self.is_empty() || end != pool.values.len() {
            let start = u32::try_from(pool.values.len()).expect("a value pool over 4 G entries");
            pool.values.extend_from_within(self.start as usize..end);
            self.start = start;
        }
        pool.values.push(value);
        self.len += 1;
    }

    /// Removes value `i`.
    pub fn remove(&mut self, i: usize, pool: &mut ValueListPool) {
        let slice = self.as_mut_slice(pool);
        slice[i..].rotate_left(1);
        self.len -= 1;
    }
}

impl ValueListPool {
    /// An empty pool.
    pub fn new() -> Self {
        ValueListPool::default()
    }

    /// A new list of `values`.
    pub fn alloc(&mut self, values: impl IntoIterator<Item = Value>) -> ValueList {
        let start = u32::try_from(self.values.len()).expect("a value pool over 4 G entries");
        self.values.extend(values);
        let len = self.values.len() as u32 - start;
        if len == 0 {
            return ValueList::EMPTY;
        }
        ValueList { start, len }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_grow_and_shrink_without_disturbing_others() {
        let mut pool = ValueListPool::new();
        let v = |n| Value::from_u32(n);
        let mut a = pool.alloc([v(1), v(2)]);
        let b = pool.alloc([v(3)]);
        a.push(v(4), &mut pool);
        assert_eq!(a.as_slice(&pool), [v(1), v(2), v(4)]);
        assert_eq!(b.as_slice(&pool), [v(3)]);
        a.remove(0, &mut pool);
        assert_eq!(a.as_slice(&pool), [v(2), v(4)]);
        let mut e = ValueList::EMPTY;
        e.push(v(9), &mut pool);
        assert_eq!(e.as_slice(&pool), [v(9)]);
    }
}
