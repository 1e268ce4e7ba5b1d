//! Locks that keep working after a holder panicked.
//!
//! A panic while a lock is held poisons it; every later request would then panic too. The values
//! guarded here (maps, options, caches) are whole after any panic between two of their own method
//! calls, so the guard is taken as it is instead.

use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Locks `m`, poisoned or not.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Read-locks `m`, poisoned or not.
pub(crate) fn read<T>(m: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(PoisonError::into_inner)
}

/// Write-locks `m`, poisoned or not.
pub(crate) fn write<T>(m: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_poisoned_by_a_panic_still_hands_out_its_value() {
        let m = std::sync::Arc::new(Mutex::new(1));
        let rw = std::sync::Arc::new(RwLock::new(2));
        let (m2, rw2) = (std::sync::Arc::clone(&m), std::sync::Arc::clone(&rw));
        let panicked = std::thread::spawn(move || {
            let _held = m2.lock();
            let _written = rw2.write();
            panic!("a holder panics");
        })
        .join();
        assert!(panicked.is_err() && m.is_poisoned() && rw.is_poisoned());
        *lock(&m) += 1;
        *write(&rw) += 1;
        assert_eq!((*lock(&m), *read(&rw)), (2, 3));
    }
}
