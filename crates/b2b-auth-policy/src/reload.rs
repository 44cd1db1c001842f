//! Hot reload: a compiled policy or IP set swapped atomically while requests read it.

use std::fmt;
use std::sync::Arc;

use arc_swap::ArcSwap;

/// A value that can be replaced while other threads read it, without locks: readers see the
/// old value or the new one, never a mix. Cheap to clone; clones share the value.
///
/// Compile the new policy or IP set first (where errors surface), then
/// [`store`](Self::store) it.
///
/// ```
/// use b2b_auth_policy::{IpSet, Reloadable};
///
/// let allowlist = Reloadable::new(IpSet::parse(["192.0.2.0/24"])?);
/// let reader = allowlist.clone();
/// allowlist.store(IpSet::parse(["198.51.100.0/24"])?);
/// assert!(reader.load().contains("198.51.100.1".parse()?));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Reloadable<T> {
    current: Arc<ArcSwap<T>>,
}

impl<T> Reloadable<T> {
    /// Starts with `value`.
    pub fn new(value: T) -> Self {
        Self { current: Arc::new(ArcSwap::from_pointee(value)) }
    }

    /// The current value.
    pub fn load(&self) -> Arc<T> {
        self.current.load_full()
    }

    /// Replaces the value for every clone; requests already reading the old one finish with it.
    pub fn store(&self, value: T) {
        self.current.store(Arc::new(value));
    }

    /// Runs `f` on the current value without touching its reference count (the hot path).
    pub(crate) fn with<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        f(&self.current.load())
    }
}

impl<T> Clone for Reloadable<T> {
    fn clone(&self) -> Self {
        Self { current: Arc::clone(&self.current) }
    }
}

impl<T> From<T> for Reloadable<T> {
    fn from(value: T) -> Self {
        Self::new(value)
    }
}

impl<T: fmt::Debug> fmt::Debug for Reloadable<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Reloadable").field(&*self.current.load()).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::thread;

    use super::*;

    #[test]
    fn readers_see_the_old_or_the_new_value_never_a_mix() {
        let shared = Reloadable::new((0u64, 0u64));
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let shared = shared.clone();
                thread::spawn(move || {
                    for _ in 0..10_000 {
                        shared.with(|&(a, b)| assert_eq!(a, b));
                    }
                })
            })
            .collect();
        for i in 1..=1_000 {
            shared.store((i, i));
        }
        for reader in readers {
            reader.join().unwrap();
        }
        assert_eq!(*shared.load(), (1_000, 1_000));
    }
}
