//! `roost serve`: start-up (base_dir, pid file, listeners, pools, control socket), the signal
//! loop (SIGHUP reload, SIGTERM/SIGINT stop), reload per spec §1.8 and graceful shutdown.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tracing::{error, info, warn};

use super::control;
use super::error::MasterError;
use super::generation::Generation;
use super::handoff::Pools;
use super::pool::WorkerPool;
use super::state::{Command, MasterState};
use crate::net::FrontDoor;
use crate::runtime::{Hub, Registry, StatusHandle};
use crate::settings::{load, ConfigSource, Loaded};

/// How long old sessions get after a reload with `shutdown_clients = yes` before they are
/// aborted (Dovecot sends SIGTERM 6 s after the reload).
pub const RELOAD_KILL_AFTER: Duration = Duration::from_secs(6);
/// How long sessions get to say goodbye on stop.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// Runs the server until stopped. Errors are start-up errors (config, bind, base_dir).
pub async fn serve(
    source: ConfigSource,
    loaded: Loaded,
    registry: Registry,
) -> Result<(), MasterError> {
    // Handlers first: a SIGHUP that arrives while listeners are being bound must not kill us.
    let sig = |kind| signal(kind).map_err(|e| MasterError::io("install a signal handler", e));
    let mut hup = sig(SignalKind::hangup())?;
    let mut term = sig(SignalKind::terminate())?;
    let mut int = sig(SignalKind::interrupt())?;
    crate::runtime::metrics::install();
    super::metrics::describe();
    for w in &loaded.warnings {
        warn!("{w}");
    }
    let base_dir = loaded.settings.core.base_dir.clone();
    // base_dir and the login directories with Dovecot's owners and modes (root keeps them).
    crate::privsep::basedir::prepare(&crate::privsep::policy::Policy::from_settings(
        &loaded.settings,
    ))
    .map_err(|e| MasterError::BaseDir(e.to_string()))?;
    let pid_path = pid_file(&base_dir);
    check_not_running(&pid_path)?;
    // Started as root: a launcher keeps root for privileged helpers, and once every socket
    // is bound the server itself becomes default_internal_user.
    let drop_to = privilege_target(&loaded.settings)?;
    if matches!(source, ConfigSource::Embedded) {
        super::demo::prepare(&loaded.settings, drop_to.as_ref())?;
    }

    let hub = Arc::new(Hub::default());
    hub.insert(Arc::new(Pools::default()));
    if drop_to.is_some() {
        crate::privsep::start_launcher(&hub, &source)?;
    }
    let certs_before = generated_certs(&base_dir);
    let door = Arc::new(FrontDoor::new(Arc::new(loaded.settings.clone()))?);
    let (gen, started) = Generation::build(&loaded, &registry, &hub, &[], false)?;
    let gen = Arc::new(gen);
    std::fs::write(&pid_path, format!("{}\n", std::process::id()))
        .map_err(|e| MasterError::io(format!("write {}", pid_path.display()), e))?;

    let state = Arc::new(MasterState {
        current: Mutex::new(gen.clone()),
        draining: Mutex::new(Vec::new()),
        registry,
    });
    hub.insert(Arc::new(StatusHandle(state.clone())));
    let (tx, mut rx) = mpsc::channel::<Command>(8);
    hub.insert(Arc::new(crate::runtime::MasterControlHandle(Arc::new(
        control::HubControl(tx.clone()),
    ))));
    let control_path = base_dir.join("master");
    let control = control::listen(&control_path, state.clone(), tx.clone()).map_err(|e| {
        MasterError::io(
            format!("create control socket {}", control_path.display()),
            e,
        )
    })?;
    if let Some(user) = &drop_to {
        give_generated_certs(&base_dir, &certs_before, user)?;
        crate::privsep::restrict::drop_privileges(&user.name, "")
            .map_err(|e| MasterError::Privileges(format!("cannot become {}: {e}", user.name)))?;
        // From now on unix sockets (reload) are created by the launcher, which is still root.
        if let Some(launcher) = hub.get::<crate::privsep::launcher::Launcher>() {
            crate::net::unix::delegate_binds(Box::new(move |path, backlog| {
                launcher
                    .listen(path, backlog)
                    .map_err(std::io::Error::other)
            }));
        }
        info!(
            "dropped privileges to default_internal_user {} (uid {}); privileged work goes through the launcher",
            user.name, user.uid
        );
    }
    // Only now, bound and with final privileges, start accepting.
    gen.start(started, door, &hub);

    info!(
        "roost {} starting up ({} services, config {})",
        env!("CARGO_PKG_VERSION"),
        gen.pools.len(),
        source.display_name()
    );

    loop {
        tokio::select! {
            _ = hup.recv() => {
                info!("SIGHUP received - reloading configuration");
                let _ = reload(&source, &state, &hub);
            }
            _ = term.recv() => { info!("SIGTERM received - shutting down"); break; }
            _ = int.recv() => { info!("SIGINT received - shutting down"); break; }
            cmd = rx.recv() => match cmd {
                Some(Command::Reload(reply)) => {
                    info!("reload requested on the control socket - reloading configuration");
                    let _ = reply.send(reload(&source, &state, &hub));
                }
                Some(Command::Stop) => { info!("stop requested on the control socket - shutting down"); break; }
                None => break,
            },
        }
    }

    // Stop: listeners first, then sessions get their shutdown message.
    drop(control);
    let _ = std::fs::remove_file(&control_path);
    let mut all: Vec<Arc<WorkerPool>> = Vec::new();
    {
        let cur = state.current.lock().unwrap().clone();
        all.extend(cur.pools.values().cloned());
        for g in state.draining.lock().unwrap().iter() {
            all.extend(g.pools.values().cloned());
        }
    }
    for p in &all {
        p.stop_accepting();
    }
    let waits = all.iter().map(|p| {
        let p = p.clone();
        tokio::spawn(async move { p.shutdown_sessions(STOP_GRACE).await })
    });
    for w in waits.collect::<Vec<_>>() {
        let _ = w.await;
    }
    // Dropping the generations closes listeners and unlinks unix sockets.
    drop(all);
    // The current generation stays referenced (Hub ↔ state) until exit: unlink its unix
    // sockets explicitly so that they are removed on stop.
    {
        let cur = state.current.lock().unwrap().clone();
        cur.close_fifos();
        for l in &cur.listeners {
            l.unlink();
        }
    }
    state.draining.lock().unwrap().clear();
    let _ = std::fs::remove_file(&pid_path);
    info!("roost stopped");
    Ok(())
}

/// Reload: a broken configuration keeps the old one running and says why.
fn reload(source: &ConfigSource, state: &Arc<MasterState>, hub: &Arc<Hub>) -> Result<(), String> {
    let result = (|| {
        let loaded = load(source)?;
        for w in &loaded.warnings {
            warn!("{w}");
        }
        // The launcher re-reads the file itself: new helpers and sockets are checked against it.
        if let Some(launcher) = hub.get::<crate::privsep::launcher::Launcher>() {
            launcher.reload()?;
        }
        let old = state.current.lock().unwrap().clone();
        let door = Arc::new(FrontDoor::new(Arc::new(loaded.settings.clone()))?);
        let (gen, started) =
            Generation::build(&loaded, &state.registry, hub, &old.listeners, true)?;
        let gen = Arc::new(gen);
        for p in old.pools.values() {
            p.stop_accepting();
        }
        old.close_fifos();
        gen.start(started, door, hub);
        *state.current.lock().unwrap() = gen.clone();
        retire(old, state.clone(), gen.settings.core.shutdown_clients);
        Ok::<_, MasterError>(gen.pools.len())
    })();
    match result {
        Ok(n) => {
            info!("configuration reloaded ({n} services)");
            Ok(())
        }
        Err(e) => {
            error!("Config reload failed: {e}");
            Err(e.to_string())
        }
    }
}

/// Lets an old generation's sessions finish (shutdown_clients = no) or ends them
/// (shutdown_clients = yes: shutdown message now, abort after 6 s).
fn retire(old: Arc<Generation>, state: Arc<MasterState>, shutdown_clients: bool) {
    state.draining.lock().unwrap().push(old.clone());
    tokio::spawn(async move {
        let pools: Vec<_> = old.pools.values().cloned().collect();
        let mut tasks = Vec::new();
        for p in pools {
            tasks.push(tokio::spawn(async move {
                if shutdown_clients {
                    p.shutdown_sessions(RELOAD_KILL_AFTER).await;
                }
                p.drained().await;
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
        state
            .draining
            .lock()
            .unwrap()
            .retain(|g| !Arc::ptr_eq(g, &old));
    });
}

/// The user to become after binding: `default_internal_user` when started as root, unless that
/// is root itself.
fn privilege_target(
    settings: &crate::settings::Settings,
) -> Result<Option<nix::unistd::User>, MasterError> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    let name = &settings.core.default_internal_user;
    let user = nix::unistd::User::from_name(name)
        .ok()
        .flatten()
        .ok_or_else(|| MasterError::Privileges(format!("user '{name}' does not exist (create it, or set default_internal_user to an existing unprivileged user)")))?;
    Ok((!user.uid.is_root()).then_some(user))
}

/// The self-signed certificate files in base_dir that exist now.
fn generated_certs(base_dir: &Path) -> Vec<PathBuf> {
    use crate::net::tls::selfsigned::{CERT_FILE, KEY_FILE};
    [CERT_FILE, KEY_FILE]
        .iter()
        .map(|f| base_dir.join(f))
        .filter(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file()))
        .collect()
}

/// Hands the self-signed certificate files that roost generated during this start-up (and
/// only those) to the dropped user, who re-reads them on reload. Nothing else in base_dir
/// changes owner: base_dir stays root's, as in Dovecot.
fn give_generated_certs(
    base_dir: &Path,
    before: &[PathBuf],
    user: &nix::unistd::User,
) -> Result<(), MasterError> {
    for p in generated_certs(base_dir) {
        if before.contains(&p) {
            continue;
        }
        std::os::unix::fs::lchown(&p, Some(user.uid.as_raw()), Some(user.gid.as_raw())).map_err(
            |e| {
                MasterError::BaseDir(format!(
                    "cannot chown {} to {}: {e}",
                    p.display(),
                    user.name
                ))
            },
        )?;
    }
    Ok(())
}

/// Refuses to start when the pid file names a live process.
fn check_not_running(pid_path: &Path) -> Result<(), MasterError> {
    if let Ok(text) = std::fs::read_to_string(pid_path) {
        if let Ok(pid) = text.trim().parse::<i32>() {
            let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok();
            if alive && pid != std::process::id() as i32 {
                return Err(MasterError::AlreadyRunning {
                    pid,
                    path: pid_path.display().to_string(),
                });
            }
        }
    }
    Ok(())
}

/// The pid file path for a base_dir.
pub fn pid_file(base_dir: &Path) -> PathBuf {
    base_dir.join("master.pid")
}
