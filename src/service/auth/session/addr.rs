//! Addresses from the auth protocols' `rip`/`rport`, `lip`/`lport` parameter pairs, shared by
//! the auth-client and auth-master connections.

use std::net::{IpAddr, SocketAddr};

/// `ip` with `port` (0 when missing or invalid); `None` without a valid IP.
pub(super) fn addr(ip: Option<&str>, port: Option<&str>) -> Option<SocketAddr> {
    let ip: IpAddr = ip?.parse().ok()?;
    Some(SocketAddr::new(
        ip,
        port.and_then(|p| p.parse().ok()).unwrap_or(0),
    ))
}
