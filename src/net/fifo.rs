//! fifo listeners (spec §3.1): a named pipe created with `mkfifo` at the configured mode and
//! owner (an existing file at the path is replaced once), opened **read-write** and
//! non-blocking so that it never reads EOF when writers come and go. Each line written to it is
//! handed to the service (`Service::fifo_line`); a fifo does not use a client slot.

use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;

use super::spec::{ListenerKind, ListenerSpec};

/// Lines longer than this are cut (the rest of the line is dropped) so one writer cannot grow
/// memory without bound.
pub const MAX_LINE: usize = 64 * 1024;

/// An open fifo listener.
pub struct FifoListener {
    pub spec: ListenerSpec,
    path: PathBuf,
    inode: (u64, u64),
    rx: pipe::Receiver,
    buf: Vec<u8>,
    /// Discarding the rest of an over-long line.
    skipping: bool,
}

impl FifoListener {
    /// Creates (or replaces) the fifo and opens it.
    pub fn open(spec: ListenerSpec) -> io::Result<FifoListener> {
        let ListenerKind::Fifo {
            path,
            mode,
            user,
            group,
        } = &spec.kind
        else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a fifo listener",
            ));
        };
        let path = path.clone();
        make_fifo(&path, *mode)?;
        super::unix::chown(&path, user, group)?;
        let rx = pipe::OpenOptions::new()
            .read_write(true)
            .open_receiver(&path)
            .map_err(|e| with_path(e, &path, "cannot open fifo"))?;
        let m = std::fs::metadata(&path)?;
        Ok(FifoListener {
            spec,
            path,
            inode: (m.dev(), m.ino()),
            rx,
            buf: Vec::new(),
            skipping: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next complete line, without its `\n` (and `\r`). Never returns EOF: the fifo is
    /// held open for writing by ourselves.
    pub async fn next_line(&mut self) -> io::Result<String> {
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=i).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if std::mem::take(&mut self.skipping) {
                    continue;
                }
                return Ok(String::from_utf8_lossy(&line).into_owned());
            }
            if self.buf.len() > MAX_LINE {
                if !self.skipping {
                    tracing::warn!(
                        listener = %self.spec.name,
                        "fifo {}: line longer than {MAX_LINE} bytes dropped",
                        self.path.display()
                    );
                }
                self.buf.clear();
                self.skipping = true;
            }
            let n = self.rx.read(&mut chunk).await?;
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Runs until the task is aborted (or the fifo fails), giving each line to `on_line`.
    pub fn spawn<F>(mut self, mut on_line: F) -> tokio::task::JoinHandle<()>
    where
        F: FnMut(&str, String) + Send + 'static,
    {
        tokio::spawn(async move {
            loop {
                match self.next_line().await {
                    Ok(line) => on_line(self.spec.short_name(), line),
                    Err(e) => {
                        tracing::error!("fifo {}: {e}", self.path.display());
                        return;
                    }
                }
            }
        })
    }
}

impl Drop for FifoListener {
    /// Removes the fifo, unless a newer one has replaced it at the same path.
    fn drop(&mut self) {
        let same = std::fs::symlink_metadata(&self.path)
            .map(|m| (m.dev(), m.ino()) == self.inode)
            .unwrap_or(false);
        if same {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn with_path(e: io::Error, path: &Path, what: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}

/// `mkfifo` with `mode` (set explicitly, whatever the umask), replacing an existing file once.
fn make_fifo(path: &Path, mode: u32) -> io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mk = || {
        nix::unistd::mkfifo(
            path,
            nix::sys::stat::Mode::from_bits_truncate(mode & 0o7777),
        )
        .map_err(io::Error::from)
    };
    if let Err(e) = mk() {
        if e.kind() != io::ErrorKind::AlreadyExists {
            return Err(with_path(e, path, "cannot create fifo"));
        }
        let meta = std::fs::symlink_metadata(path)?;
        if meta.is_dir() {
            return Err(with_path(
                io::Error::new(io::ErrorKind::AlreadyExists, "a directory is in the way"),
                path,
                "cannot create fifo",
            ));
        }
        if !meta.file_type().is_fifo() {
            tracing::warn!("fifo {}: replacing the existing file", path.display());
        }
        std::fs::remove_file(path)?;
        mk().map_err(|e| with_path(e, path, "cannot create fifo"))?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o7777))
}

#[cfg(test)]
mod tests;
