//! Loopback ports and TCP connections: a free port below the ephemeral range, plain
//! connections with timeouts, connections from a chosen 127.0.0.x source, waiting for a port.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// A port in 20000..32000 (below the kernel's ephemeral range) free on 127.0.0.1 right now,
/// spread by test process id so parallel test binaries rarely collide.
pub fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let seed = std::process::id().wrapping_mul(7919);
    for _ in 0..12000 {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = 20000 + (seed.wrapping_add(n.wrapping_mul(17)) % 12000) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in 20000..32000");
}

/// A TCP connection to `addr` with a 10 s read timeout.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// [`connect`] to 127.0.0.1:`port`.
pub fn connect_port(port: u16) -> TcpStream {
    connect(SocketAddr::from(([127, 0, 0, 1], port)))
}

/// A TCP connection to 127.0.0.1:`port` from a chosen loopback source address (e.g. 127.0.0.2).
pub fn connect_from(src: &str, port: u16) -> TcpStream {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let src: SocketAddr = format!("{src}:0").parse().unwrap();
    sock.bind(&src.into()).unwrap();
    let dst = SocketAddr::from(([127, 0, 0, 1], port));
    sock.connect_timeout(&dst.into(), Duration::from_secs(5))
        .unwrap();
    let s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Whether 127.0.0.1:`port` accepts a connection now.
pub fn port_open(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}
