//! The embedded default's demo (README: `cargo run --release -- serve`): on first run, the
//! demo user's passwd-file (`demo`/`demo`) and the root of the demo's mail_location are
//! created, owned by the user the server will run as (started as root, base_dir stays root's
//! as in Dovecot, so the dropped server could neither read a root-only file nor create its
//! mail directory there).

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use tracing::info;

use super::error::MasterError;
use crate::settings::Settings;

/// Writes what the demo needs that does not exist yet, owned by `owner` when given.
pub fn prepare(settings: &Settings, owner: Option<&nix::unistd::User>) -> Result<(), MasterError> {
    let give = |p: &Path| -> Result<(), MasterError> {
        if let Some(u) = owner {
            nix::unistd::chown(p, Some(u.uid), Some(u.gid)).map_err(|e| {
                MasterError::DemoUsers(format!("cannot chown {} to {}: {e}", p.display(), u.name))
            })?;
        }
        Ok(())
    };
    for db in settings
        .auth
        .passdb
        .iter()
        .filter(|d| d.driver == "passwd-file")
    {
        let Some(path) = db.args.split_whitespace().find(|w| w.starts_with('/')) else {
            continue;
        };
        let path = Path::new(path);
        if path.exists() {
            continue;
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| MasterError::io(format!("create {}", dir.display()), e))?;
        }
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| {
                MasterError::DemoUsers(format!(
                    "cannot write the demo passwd-file {}: {e}",
                    path.display()
                ))
            })?;
        std::io::Write::write_all(&mut f, b"demo:{PLAIN}demo::::::\n")
            .map_err(|e| MasterError::io(format!("write {}", path.display()), e))?;
        give(path)?;
        info!(
            "wrote demo user 'demo' (password 'demo') to {}",
            path.display()
        );
    }
    if let Some(root) = mail_root(&settings.mail.mail_location) {
        if !root.exists() {
            std::fs::create_dir_all(&root)
                .map_err(|e| MasterError::io(format!("create {}", root.display()), e))?;
            give(&root)?;
        }
    }
    Ok(())
}

/// The fixed directory above every user's mail: `maildir:/tmp/roost/mail/%u` → `/tmp/roost/mail`.
fn mail_root(location: &str) -> Option<PathBuf> {
    let path = location.split_once(':').map_or(location, |(_, p)| p);
    let path = path.split(':').next()?;
    let fixed: PathBuf = Path::new(path)
        .components()
        .take_while(|c| !c.as_os_str().to_string_lossy().contains('%'))
        .collect();
    (fixed.is_absolute() && fixed != Path::new("/")).then_some(fixed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_root_is_the_part_before_the_first_variable() {
        assert_eq!(
            mail_root("maildir:/tmp/roost/mail/%u"),
            Some(PathBuf::from("/tmp/roost/mail"))
        );
        assert_eq!(
            mail_root("maildir:/srv/mail/%d/%n:LAYOUT=fs"),
            Some(PathBuf::from("/srv/mail"))
        );
        assert_eq!(mail_root("maildir:~/Maildir"), None);
        assert_eq!(mail_root("maildir:/%u"), None);
    }
}
