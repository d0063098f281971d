//! The registry of implemented services: service name → factory. `main.rs` builds it from
//! `service::registry()` and hands it to the master; a configured service without an entry is
//! "not implemented" (listed by `roost config` and `roost ps`, its listeners stay closed).

use std::collections::BTreeMap;

use super::ServiceFactory;

#[derive(Clone, Default)]
pub struct Registry {
    factories: BTreeMap<&'static str, ServiceFactory>,
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    pub fn with(mut self, name: &'static str, factory: ServiceFactory) -> Registry {
        self.factories.insert(name, factory);
        self
    }

    /// The factory for `name`, if roost implements it.
    pub fn factory(&self, name: &str) -> Option<ServiceFactory> {
        self.factories.get(name).copied()
    }

    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.factories.keys().copied()
    }
}
