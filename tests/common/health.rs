//! The health-check service (`PING` → `PONG`) as a test peer: its config block, a line client
//! with timeouts, a one-shot ping on any stream, and "closed without a word" checks.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Config for a health-check service with `settings` and an inet listener `hc` on `port`.
pub fn health_check(port: u16, settings: &str) -> String {
    format!("[service.health-check]\n{settings}\n[service.health-check.inet_listener.hc]\nport = {port}\n")
}

/// Sends `PING` and expects `PONG` on any stream (TCP, unix, TLS).
pub fn ping<S: Read + Write>(s: &mut S) {
    s.write_all(b"PING\n").unwrap();
    s.flush().unwrap();
    let mut b = [0u8; 5];
    s.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"PONG\n");
}

/// A line-protocol client of the health-check service.
pub struct Pinger {
    pub stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Pinger {
    pub fn connect(port: u16) -> Pinger {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let reader = BufReader::new(stream.try_clone().unwrap());
        Pinger { stream, reader }
    }

    /// Sends PING and waits up to `timeout` for PONG. None: no answer in time (or closed).
    pub fn ping(&mut self, timeout: Duration) -> Option<String> {
        self.stream.write_all(b"PING\n").ok()?;
        self.read_line(timeout)
    }

    pub fn read_line(&mut self, timeout: Duration) -> Option<String> {
        self.stream.set_read_timeout(Some(timeout)).unwrap();
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => None,
            Ok(_) => Some(line.trim_end().to_string()),
            Err(_) => None,
        }
    }

    /// True when the server closed the connection (EOF or reset) within `timeout`.
    pub fn closed_within(&mut self, timeout: Duration) -> bool {
        self.stream.set_read_timeout(Some(timeout)).unwrap();
        let mut buf = [0u8; 64];
        match self.reader.read(&mut buf) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => {
                e.kind() != std::io::ErrorKind::WouldBlock
                    && e.kind() != std::io::ErrorKind::TimedOut
            }
        }
    }
}

/// Asserts the peer closes the connection within `within` without sending anything; returns
/// how long that took.
pub fn assert_closed_silently(s: &mut TcpStream, within: Duration) -> Duration {
    s.set_read_timeout(Some(within)).unwrap();
    let t0 = Instant::now();
    let mut b = [0u8; 64];
    match s.read(&mut b) {
        Ok(0) => {}
        Ok(n) => panic!(
            "server sent {n} bytes: {:?}",
            String::from_utf8_lossy(&b[..n])
        ),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("connection not closed within {within:?}: {e}"),
    }
    t0.elapsed()
}
