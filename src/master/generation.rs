//! A generation: the set of pools and listeners built from one configuration. Start-up builds
//! the first; each reload builds a new one, carrying inet sockets over (no bind gap) and
//! recreating unix sockets, while the old generation stops accepting and drains or ends.

use std::collections::BTreeMap;
use std::sync::Arc;

use tracing::warn;

use super::error::MasterError;
use super::handoff::{Pools, PoolsPostLogin};
use super::pool::WorkerPool;
use crate::net::{BoundListener, FrontDoor, ListenerKind, ListenerSpec};
use crate::runtime::{Hub, PostLoginHandle, Registry, ServiceState};
use crate::settings::{Loaded, Settings};

/// Pools with the listeners each will accept on, waiting for [`Generation::start`].
pub type Unstarted = Vec<(Arc<WorkerPool>, Vec<Arc<BoundListener>>)>;

pub struct Generation {
    pub settings: Arc<Settings>,
    pub pools: BTreeMap<String, Arc<WorkerPool>>,
    pub listeners: Vec<Arc<BoundListener>>,
    pub states: BTreeMap<String, ServiceState>,
    /// Tasks reading this generation's fifo listeners; aborted on reload and stop.
    fifos: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// Whether `svc` is the main service of a protocol (`pop3`, `pop3-login`, `lmtp`): enabling
/// the protocol while it is not implemented is a start-up error.
fn is_protocol_core(name: &str, protocol: &str) -> bool {
    !protocol.is_empty() && (name == protocol || name == format!("{protocol}-login"))
}

/// The state each configured service would have, without building anything.
pub fn service_states(settings: &Settings, registry: &Registry) -> BTreeMap<String, ServiceState> {
    settings
        .service
        .iter()
        .map(|(name, svc)| {
            let st = if !settings.service_enabled(svc) {
                ServiceState::Disabled
            } else if registry.factory(name).is_some() {
                ServiceState::Running
            } else {
                ServiceState::NotImplemented
            };
            (name.clone(), st)
        })
        .collect()
}

impl Generation {
    /// Builds pools and binds listeners. `reuse` holds the previous generation's listeners
    /// (reload): inet sockets with the same address are carried over, unix sockets replaced.
    pub fn build(
        loaded: &Loaded,
        registry: &Registry,
        hub: &Arc<Hub>,
        reuse: &[Arc<BoundListener>],
        reloading: bool,
    ) -> Result<(Generation, Unstarted), MasterError> {
        let settings = Arc::new(loaded.settings.clone());
        let states = service_states(&settings, registry);
        for (name, st) in &states {
            let svc = &settings.service[name];
            if *st == ServiceState::NotImplemented && is_protocol_core(name, &svc.protocol) {
                return Err(MasterError::NotImplemented {
                    at: loaded.locate("protocols"),
                    protocol: svc.protocol.clone(),
                    service: name.clone(),
                });
            }
        }
        if !reloading {
            warn_unenforced(&settings, &states);
        }
        let mut pools = BTreeMap::new();
        let mut started = Vec::new();
        let mut fifos = Vec::new();
        let mut all_listeners = Vec::new();
        for (name, st) in &states {
            let svc = &settings.service[name];
            let specs = crate::net::listener::specs_for_service(&settings, name, svc)?;
            match st {
                ServiceState::Disabled => continue,
                ServiceState::NotImplemented => {
                    if !specs.is_empty() && !reloading {
                        warn!(
                            "service({name}): not implemented in roost yet; its listeners stay closed: {}",
                            specs.iter().map(|s| s.describe()).collect::<Vec<_>>().join(", ")
                        );
                    }
                    continue;
                }
                ServiceState::Running => {}
            }
            let factory = registry.factory(name).expect("state says implemented");
            let service = factory(name, &settings, hub).map_err(|source| MasterError::Service {
                service: name.clone(),
                source,
            })?;
            let eff = svc.effective(&settings.core);
            let supported = service.supported_listeners();
            let mut listeners = Vec::new();
            for spec in specs {
                if let Some(ok) = supported {
                    if !ok.contains(&spec.short_name()) && !ok.contains(&spec.name.as_str()) {
                        if !reloading {
                            warn!(
                                "service({name}): listener {} ({}) speaks a protocol roost does not implement yet; it stays closed",
                                spec.name,
                                spec.describe()
                            );
                        }
                        continue;
                    }
                }
                if matches!(spec.kind, ListenerKind::Fifo { .. }) {
                    let fifo =
                        crate::net::fifo::FifoListener::open(spec.clone()).map_err(|source| {
                            MasterError::Fifo {
                                service: name.clone(),
                                path: spec.describe(),
                                listener: spec.name.clone(),
                                source,
                            }
                        })?;
                    let svc = service.clone();
                    fifos.push(fifo.spawn(move |l, line| svc.fifo_line(l, line)));
                    continue;
                }
                let l = bind_or_reuse(&spec, eff.capacity(), reuse, reloading)?;
                if let Some(l) = l {
                    listeners.push(l.clone());
                    all_listeners.push(l);
                }
            }
            let login = states.get(&format!("{name}-login"));
            super::metrics::register_service(
                name,
                svc.service_type,
                &listeners.iter().map(|l| &l.spec).collect::<Vec<_>>(),
                login == Some(&ServiceState::Running),
            );
            let pool = WorkerPool::new(
                name,
                eff,
                svc.service_type,
                service,
                settings.clone(),
                hub.clone(),
            );
            pools.insert(name.clone(), pool.clone());
            started.push((pool, listeners));
        }
        Ok((
            Generation {
                settings,
                pools,
                listeners: all_listeners,
                states,
                fifos: std::sync::Mutex::new(fifos),
            },
            started,
        ))
    }

    /// Stops reading this generation's fifos (their files are removed unless a newer
    /// generation has recreated them).
    pub fn close_fifos(&self) {
        for t in self.fifos.lock().unwrap().drain(..) {
            t.abort();
        }
    }

    /// Starts accepting on every pool and publishes the pools in the Hub (and, unless one is
    /// there already, the pooled post-login handoff).
    pub fn start(&self, started: Unstarted, door: Arc<FrontDoor>, hub: &Arc<Hub>) {
        let registry = hub.get::<Pools>().unwrap_or_else(|| {
            let p = Arc::new(Pools::default());
            hub.insert(p.clone());
            p
        });
        registry.replace(self.pools.clone());
        hub.insert_if_absent(|| {
            Arc::new(PostLoginHandle(Arc::new(PoolsPostLogin(registry.clone()))))
        });
        for (pool, listeners) in started {
            pool.start(listeners, door.clone());
        }
    }
}

/// Spec §8 item 26: per-process OS limits and identities cannot apply to tasks. Says so once
/// when the admin set any of them on a service that runs in-process.
fn warn_unenforced(settings: &Settings, states: &BTreeMap<String, ServiceState>) {
    let defaults = crate::settings::defaults::default_services();
    let mut touched = Vec::new();
    for (name, st) in states {
        if *st != ServiceState::Running {
            continue;
        }
        let (svc, def) = (&settings.service[name], defaults.get(name));
        let differs = |f: fn(&crate::settings::ServiceSettings) -> String| {
            def.map(|d| f(d) != f(svc)).unwrap_or(!f(svc).is_empty())
        };
        let mut keys = Vec::new();
        if svc.vsz_limit.is_some() {
            keys.push("vsz_limit");
        }
        if differs(|s| s.user.clone()) {
            keys.push("user");
        }
        if differs(|s| s.group.clone()) {
            keys.push("group");
        }
        if differs(|s| s.chroot.clone()) {
            keys.push("chroot");
        }
        if differs(|s| s.extra_groups.clone()) {
            keys.push("extra_groups");
        }
        if !keys.is_empty() {
            touched.push(format!("{name} ({})", keys.join(", ")));
        }
    }
    if !touched.is_empty() {
        warn!(
            "not enforced for in-process virtual processes (only for privsep helper processes): {}",
            touched.join("; ")
        );
    }
}

fn bind_or_reuse(
    spec: &ListenerSpec,
    capacity: u64,
    reuse: &[Arc<BoundListener>],
    reloading: bool,
) -> Result<Option<Arc<BoundListener>>, MasterError> {
    if let Some(old) = reuse.iter().find(|l| l.spec.same_socket(spec)) {
        return Ok(Some(old.clone()));
    }
    let result = if reloading {
        BoundListener::bind_replacing(spec.clone(), capacity)
    } else {
        BoundListener::bind(spec.clone(), capacity)
    };
    match result {
        Ok(l) => Ok(Some(Arc::new(l))),
        Err(e) if reloading && e.kind() == std::io::ErrorKind::AddrInUse => {
            warn!(
                "service({}): listener {} on {}: {e} (kept running without it)",
                spec.service,
                spec.name,
                spec.describe()
            );
            Ok(None)
        }
        Err(source) => Err(MasterError::Bind {
            service: spec.service.clone(),
            address: spec.describe(),
            listener: spec.name.clone(),
            source,
        }),
    }
}
