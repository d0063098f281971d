//! Listening sockets: turning a service's `inet_listener`/`unix_listener`/`fifo_listener` blocks
//! into bound sockets (socket2), waiting for a pending connection without taking it (so a full
//! pool leaves clients in the kernel backlog), and accepting.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::os::fd::AsRawFd;

use socket2::{Domain, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;

use super::error::NetError;
pub use super::spec::{ListenerKind, ListenerSpec};
use crate::settings::{InetListener, ServiceSettings, Settings, SslMode, UnixListener};

/// Resolves one entry of `listen`/`address`: `*` is IPv4 any, `::`/`[::]` IPv6 any, anything
/// else an address or a host name (every resolved address gets its own socket).
fn resolve(entry: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    let e = entry.trim();
    match e {
        "*" => Ok(vec![SocketAddr::new(
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port,
        )]),
        "::" | "[::]" => Ok(vec![SocketAddr::new(
            IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            port,
        )]),
        _ => {
            let bare = e.trim_start_matches('[').trim_end_matches(']');
            if let Ok(ip) = bare.parse::<IpAddr>() {
                return Ok(vec![SocketAddr::new(ip, port)]);
            }
            let addrs: Vec<SocketAddr> = (bare, port).to_socket_addrs()?.collect();
            if addrs.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("'{e}' resolves to no address"),
                ));
            }
            Ok(addrs)
        }
    }
}

/// The sockets a service wants, in a stable order. Disabled listeners (`port = 0`, `mode = 0`,
/// `ssl = yes` under a global `ssl = no`) are left out.
pub fn specs_for_service(
    settings: &Settings,
    name: &str,
    svc: &ServiceSettings,
) -> Result<Vec<ListenerSpec>, NetError> {
    let mut out = Vec::new();
    for (lname, l) in &svc.inet_listener {
        out.extend(inet_specs(settings, name, lname, l)?);
    }
    for (lname, l) in &svc.unix_listener {
        if let Some(kind) = file_kind(settings, lname, l, false) {
            out.push(ListenerSpec {
                service: name.into(),
                name: lname.clone(),
                kind,
            });
        }
    }
    for (lname, l) in &svc.fifo_listener {
        if let Some(kind) = file_kind(settings, lname, l, true) {
            out.push(ListenerSpec {
                service: name.into(),
                name: lname.clone(),
                kind,
            });
        }
    }
    Ok(out)
}

fn inet_specs(
    settings: &Settings,
    service: &str,
    lname: &str,
    l: &InetListener,
) -> Result<Vec<ListenerSpec>, NetError> {
    if l.port == 0 || (l.ssl && settings.core.ssl.0 == SslMode::No) {
        return Ok(Vec::new());
    }
    let port = u16::try_from(l.port).map_err(|_| NetError::Port {
        setting: format!("service.{service}.inet_listener.{lname}.port"),
        port: l.port,
    })?;
    let entries: Vec<String> = if l.address.trim().is_empty() {
        settings.core.listen.clone()
    } else {
        crate::settings::values::split_list(&l.address)
    };
    let mut out = Vec::new();
    for e in entries {
        let addrs = resolve(&e, port).map_err(|source| NetError::Resolve {
            setting: format!("service.{service}.inet_listener.{lname}"),
            address: e.clone(),
            source,
        })?;
        for addr in addrs {
            out.push(ListenerSpec {
                service: service.into(),
                name: lname.into(),
                kind: ListenerKind::Inet {
                    addr,
                    ssl: l.ssl,
                    haproxy: l.haproxy,
                    reuse_port: l.reuse_port,
                },
            });
        }
    }
    Ok(out)
}

fn file_kind(settings: &Settings, key: &str, l: &UnixListener, fifo: bool) -> Option<ListenerKind> {
    if l.mode.0 == 0 {
        return None;
    }
    let path = settings.listener_path(key, l);
    let user = settings.expand_user(&l.user);
    let group = settings.expand_user(&l.group);
    Some(if fifo {
        ListenerKind::Fifo {
            path,
            mode: l.mode.0,
            user,
            group,
        }
    } else {
        ListenerKind::Unix {
            path,
            mode: l.mode.0,
            user,
            group,
        }
    })
}

/// An accepted socket before the front door (PROXY, TLS) has run.
pub struct Accepted {
    pub socket: Socket,
    pub peer: Option<SocketAddr>,
    pub local: Option<SocketAddr>,
}

/// A bound, listening socket (inet or unix). Fifos are opened by [`crate::net::fifo`].
pub struct BoundListener {
    pub spec: ListenerSpec,
    /// (dev, inode) of the unix socket file we created, so that dropping an old generation's
    /// listener never unlinks the socket a newer generation created at the same path.
    inode: Option<(u64, u64)>,
    fd: AsyncFd<Socket>,
}

impl BoundListener {
    /// Binds and listens with `backlog` (the pool's capacity, at least 4; the kernel caps it).
    /// A unix socket path that another live server answers on is an error.
    pub fn bind(spec: ListenerSpec, backlog: u64) -> io::Result<BoundListener> {
        Self::bind_inner(spec, backlog, false)
    }

    /// As [`bind`](Self::bind), but a unix socket path is unlinked and recreated even if the
    /// previous generation still listens on it (reload: spec §1.8 step 5).
    pub fn bind_replacing(spec: ListenerSpec, backlog: u64) -> io::Result<BoundListener> {
        Self::bind_inner(spec, backlog, true)
    }

    fn bind_inner(spec: ListenerSpec, backlog: u64, replace: bool) -> io::Result<BoundListener> {
        let backlog = backlog.clamp(4, i32::MAX as u64) as i32;
        let socket = match &spec.kind {
            ListenerKind::Inet {
                addr, reuse_port, ..
            } => {
                let s = Socket::new(Domain::for_address(*addr), Type::STREAM, None)?;
                s.set_reuse_address(true)?;
                s.set_keepalive(true)?;
                if addr.is_ipv6() {
                    s.set_only_v6(true)?;
                }
                if *reuse_port {
                    s.set_reuse_port(true)?;
                }
                s.set_nonblocking(true)?;
                s.bind(&SockAddr::from(*addr))?;
                s.listen(backlog)?;
                s
            }
            ListenerKind::Unix { path, .. } => {
                let s = super::unix::bind_unix(&spec, path, backlog, replace)?;
                s.set_nonblocking(true)?;
                s
            }
            ListenerKind::Fifo { .. } => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "fifo listeners are not accept()ed",
                ))
            }
        };
        let inode = match &spec.kind {
            ListenerKind::Unix { path, .. } => std::fs::metadata(path).ok().map(|m| {
                use std::os::unix::fs::MetadataExt;
                (m.dev(), m.ino())
            }),
            _ => None,
        };
        Ok(BoundListener {
            spec,
            inode,
            // SAFETY: `socket` owns its fd and is moved into the AsyncFd, which keeps it open
            // and unchanged until drop.
            fd: unsafe { AsyncFd::register_with_interest(socket, tokio::io::Interest::READABLE) }
                .map_err(io::Error::from)?,
        })
    }

    /// The bound address (for inet listeners with port 0 in tests, and for logs).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.fd.get_ref().local_addr().ok()?.as_socket()
    }

    /// Waits until a connection is pending, without accepting it.
    pub async fn pending(&self) -> io::Result<()> {
        loop {
            let mut guard = self.fd.readable().await?;
            if poll_in(self.fd.get_ref().as_raw_fd()) {
                return Ok(());
            }
            guard.clear_ready();
        }
    }

    /// Accepts one connection, waiting for it.
    pub async fn accept(&self) -> io::Result<Accepted> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|inner| inner.get_ref().accept()) {
                Ok(Ok((socket, peer))) => {
                    socket.set_nonblocking(true)?;
                    let local = socket.local_addr().ok().and_then(|a| a.as_socket());
                    return Ok(Accepted {
                        socket,
                        peer: peer.as_socket(),
                        local,
                    });
                }
                Ok(Err(e)) if is_transient(&e) => continue,
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
    }

    /// Accepts a connection only if one is pending right now.
    pub fn try_accept(&self) -> io::Result<Option<Accepted>> {
        match self.fd.get_ref().accept() {
            Ok((socket, peer)) => {
                socket.set_nonblocking(true)?;
                let local = socket.local_addr().ok().and_then(|a| a.as_socket());
                Ok(Some(Accepted {
                    socket,
                    peer: peer.as_socket(),
                    local,
                }))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock || is_transient(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl BoundListener {
    /// Removes a unix listener's socket file now (on stop), unless a newer listener has
    /// replaced it at the same path. Dropping the listener does the same.
    pub fn unlink(&self) {
        if let ListenerKind::Unix { path, .. } = &self.spec.kind {
            use std::os::unix::fs::MetadataExt;
            let same = std::fs::symlink_metadata(path)
                .ok()
                .map(|m| (m.dev(), m.ino()))
                == self.inode;
            if same && self.inode.is_some() {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

impl Drop for BoundListener {
    fn drop(&mut self) {
        self.unlink();
    }
}

/// Errors after which accept() should simply be retried (the peer went away, fd pressure).
fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ECONNABORTED) | Some(libc::EINTR) | Some(libc::EPROTO)
    )
}

/// True when `fd` has input ready right now (a pending connection on a listening socket).
fn poll_in(fd: i32) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    n > 0 && (p.revents & libc::POLLIN) != 0
}

#[cfg(test)]
mod tests;
