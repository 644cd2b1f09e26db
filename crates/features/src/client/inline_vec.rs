//! A vector that keeps its first few items inline and moves to the heap only when it outgrows them.
//!
//! Most client keys have one to three transactions, and the client stage creates one state per key: with a plain
//! `Vec` every new key costs heap allocations and every lookup a second cache miss on the heap block. Inline
//! storage keeps a typical key's entries in its map slot. Items are `Copy`, so this needs no unsafe code.

use std::ops::{Deref, DerefMut};

/// See the module doc. Dereferences to a slice of the live items.
#[derive(Debug, Clone)]
pub(crate) enum InlineVec<T: Copy + Default, const N: usize> {
    Inline { len: u8, items: [T; N] },
    Heap(Vec<T>),
}

impl<T: Copy + Default, const N: usize> Default for InlineVec<T, N> {
    fn default() -> Self {
        InlineVec::Inline { len: 0, items: [T::default(); N] }
    }
}

impl<T: Copy + Default, const N: usize> Deref for InlineVec<T, N> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        match self {
            InlineVec::Inline { len, items } => &items[..*len as usize],
            InlineVec::Heap(v) => v,
        }
    }
}

impl<T: Copy + Default, const N: usize> DerefMut for InlineVec<T, N> {
    fn deref_mut(&mut self) -> &mut [T] {
        match self {
            InlineVec::Inline { len, items } => &mut items[..*len as usize],
            InlineVec::Heap(v) => v,
        }
    }
}

impl<T: Copy + Default, const N: usize> InlineVec<T, N> {
    /// Inserts `item` at `at` (`at <= len`), shifting later items.
    pub(crate) fn insert(&mut self, at: usize, item: T) {
        match self {
            InlineVec::Inline { len, items } if (*len as usize) < N => {
                let n = *len as usize;
                items.copy_within(at..n, at + 1);
                items[at] = item;
                *len += 1;
            }
            InlineVec::Inline { len, items } => {
                let mut heap = Vec::with_capacity(2 * N.max(2));
                heap.extend_from_slice(&items[..*len as usize]);
                heap.insert(at, item);
                *self = InlineVec::Heap(heap);
            }
            InlineVec::Heap(v) => v.insert(at, item),
        }
    }

    pub(crate) fn push(&mut self, item: T) {
        self.insert(self.len(), item);
    }

    /// Removes the first `n` items.
    pub(crate) fn drain_front(&mut self, n: usize) {
        match self {
            InlineVec::Inline { len, items } => {
                items.copy_within(n..*len as usize, 0);
                *len -= n as u8;
            }
            InlineVec::Heap(v) => {
                v.drain(..n);
            }
        }
    }

    /// Removes every item, keeping a heap allocation for reuse.
    pub(crate) fn clear(&mut self) {
        match self {
            InlineVec::Inline { len, .. } => *len = 0,
            InlineVec::Heap(v) => v.clear(),
        }
    }

    /// Gives back memory a burst left behind: back inline when the items fit, else down to twice their number.
    pub(crate) fn shrink(&mut self) {
        if let InlineVec::Heap(v) = self {
            if v.len() <= N {
                let mut items = [T::default(); N];
                items[..v.len()].copy_from_slice(v);
                *self = InlineVec::Inline { len: v.len() as u8, items };
            } else if v.capacity() > 64 && v.capacity() > 4 * v.len() {
                v.shrink_to(2 * v.len());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_a_vec_across_the_inline_heap_boundary() {
        let mut v: InlineVec<u32, 2> = InlineVec::default();
        let mut model: Vec<u32> = Vec::new();
        for (i, at) in [0usize, 0, 1, 3, 2, 0, 6].into_iter().enumerate() {
            v.insert(at, i as u32);
            model.insert(at, i as u32);
            assert_eq!(&*v, &model[..]);
        }
        v.drain_front(5);
        model.drain(..5);
        assert_eq!(&*v, &model[..]);
        v.shrink();
        assert!(matches!(v, InlineVec::Inline { len: 2, .. }));
        v.drain_front(1);
        v.push(9);
        v[0] += 1;
        assert_eq!(&*v, &[model[1] + 1, 9]);
        v.clear();
        assert!(v.is_empty());
    }
}
