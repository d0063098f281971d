//! The auth service: passdb/userdb lookups, password schemes, SASL mechanisms, and the
//! auth-client / auth-master socket protocols. Login services use it in-process through
//! [`api::AuthApi`], found in the master's `Hub`; [`factory`] builds the service and puts the
//! [`api::AuthHandle`] there.

pub mod api;
pub mod cache;
pub mod db;
pub mod engine;
pub mod fail_code;
pub mod fields;
pub mod handle;
pub mod mech;
pub mod metrics;
pub mod request;
pub mod schemes;
pub mod session;
pub mod settings;
pub mod vars;

use std::sync::Arc;

use crate::net::Conn;
use crate::runtime::{BoxFuture, Hub, Service, ServiceError, Session};
use crate::settings::Settings;

pub use handle::AuthCore;
pub use schemes::{pw_command, pw_command_full};

/// The `auth` service: every listener speaks the protocol its name selects.
pub struct AuthService {
    pub core: Arc<AuthCore>,
}

impl Service for AuthService {
    fn serve(self: Arc<Self>, conn: Conn, session: Session) -> BoxFuture<()> {
        Box::pin(session::serve(self.core.clone(), conn, session))
    }
}

/// `ServiceFactory` for service `auth`: validates `auth_mechanisms` and the passdb/userdb
/// blocks, and publishes an [`api::AuthHandle`] in the hub.
pub fn factory(
    _name: &str,
    settings: &Arc<Settings>,
    hub: &Arc<Hub>,
) -> Result<Arc<dyn Service>, ServiceError> {
    // Metric handles are registered once per service, so the recorder must exist first.
    crate::runtime::metrics::install();
    metrics::describe();
    let ctx = db_context(settings, hub)?;
    // The penalty per IP is anvil's: it outlives reloads of auth.
    let penalty = crate::service::anvil::Anvil::from_hub(hub).penalty();
    let core =
        Arc::new(AuthCore::with_penalty(&settings.auth, &ctx, penalty).map_err(|e| e.to_string())?);
    if settings.auth.passdb.is_empty() {
        tracing::warn!("auth: no [[passdb]] configured; every authentication will fail");
    }
    hub.insert(Arc::new(api::AuthHandle(core.clone())));
    // doveadm's auth commands (passdb lookup, cache flush) reach the engine itself.
    hub.insert(core.clone());
    Ok(Arc::new(AuthService { core }))
}

/// The `auth-worker` service: its settings (user, group, chroot, vsz_limit, process_limit,
/// service_count, idle_kill) shape the helper processes the auth service starts through
/// privsep; it serves no in-process listener (Dovecot's `auth-worker` socket stays closed).
pub struct AuthWorkerService;

impl Service for AuthWorkerService {
    fn serve(self: Arc<Self>, _conn: Conn, _session: Session) -> BoxFuture<()> {
        Box::pin(async {})
    }

    fn supported_listeners(&self) -> Option<&'static [&'static str]> {
        Some(&[])
    }
}

/// `ServiceFactory` for service `auth-worker`.
pub fn worker_factory(
    _name: &str,
    _settings: &Arc<Settings>,
    _hub: &Arc<Hub>,
) -> Result<Arc<dyn Service>, ServiceError> {
    Ok(Arc::new(AuthWorkerService))
}

/// The auth-worker pool, when a configured driver needs it. Helpers come from the root-kept
/// launcher in the hub (put there by `roost serve` when started as root) or, without one, are
/// spawned directly, which refuses a worker identity other than roost's own.
fn db_context(settings: &Arc<Settings>, hub: &Arc<Hub>) -> Result<db::DbContext, String> {
    let auth = &settings.auth;
    let needed = auth
        .passdb
        .iter()
        .chain(&auth.userdb)
        .any(|d| db::WORKER_DRIVERS.contains(&d.driver.as_str()));
    if !needed {
        return Ok(db::DbContext::default());
    }
    let launcher = hub
        .get::<crate::privsep::launcher::Launcher>()
        .unwrap_or_else(|| Arc::new(crate::privsep::launcher::Launcher::direct()));
    let spec = crate::privsep::HelperSpec::for_service(settings, "auth-worker");
    if matches!(*launcher, crate::privsep::launcher::Launcher::Direct) && spec.needs_root() {
        return Err(crate::privsep::PrivsepError::NeedsRoot {
            service: "auth-worker".into(),
            user: if spec.user.is_empty() {
                "root".into()
            } else {
                spec.user.clone()
            },
            uid: nix::unistd::geteuid().as_raw(),
        }
        .to_string());
    }
    let eff = settings
        .service
        .get("auth-worker")
        .map(|s| s.effective(&settings.core))
        .unwrap_or_else(|| crate::settings::ServiceSettings::default().effective(&settings.core));
    let pool = crate::privsep::worker::WorkerPool::new(
        launcher,
        spec,
        crate::privsep::policy::auth_worker_max(settings),
        eff.idle_kill.as_duration(),
        eff.service_count,
    );
    Ok(db::DbContext {
        workers: Some(Arc::new(pool)),
    })
}
