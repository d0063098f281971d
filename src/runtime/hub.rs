//! The `Hub`: an in-process registry of shared handles (auth, post-login handoff, status view,
//! the privsep launcher), keyed by type, through which services reach each other without
//! importing each other.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// In-process registry of shared handles (auth, anvil, post-login pools), keyed by type.
#[derive(Default)]
pub struct Hub {
    items: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

impl Hub {
    pub fn insert<T: Any + Send + Sync>(&self, value: Arc<T>) {
        self.items
            .lock()
            .unwrap()
            .insert(TypeId::of::<T>(), value as Arc<dyn Any + Send + Sync>);
    }

    /// Inserts `make()` unless a `T` is already there (tests register their own first).
    pub fn insert_if_absent<T: Any + Send + Sync>(&self, make: impl FnOnce() -> Arc<T>) {
        let mut items = self.items.lock().unwrap();
        items
            .entry(TypeId::of::<T>())
            .or_insert_with(|| make() as Arc<dyn Any + Send + Sync>);
    }

    pub fn get<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        let v = self
            .items
            .lock()
            .unwrap()
            .get(&TypeId::of::<T>())
            .cloned()?;
        v.downcast::<T>().ok()
    }
}
