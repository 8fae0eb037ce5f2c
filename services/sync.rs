//! The one way this crate takes a `std::sync::Mutex`.
//!
//! Every mutex here guards state whose updates are single steps (an insert, a remove, a
//! counter bump) made after all checks, so a panic while the lock was held cannot have left
//! the state half-updated: a poisoned lock is as good as a clean one, and refusing it would
//! only turn one panicked task into a server that fails every later call.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, poisoned or not (see the module docs for why that is sound here).
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
