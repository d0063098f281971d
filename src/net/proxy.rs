//! The HAProxy PROXY protocol (v1 text and v2 binary) on `haproxy = yes` listeners, parsed with
//! the proxy-header crate plus the checks Dovecot makes (spec §3.3):
//!
//! * the TCP peer must be inside `haproxy_trusted_networks` (empty trusts nobody);
//! * the whole header must arrive within `haproxy_timeout`. Unlike Dovecot, which needs the
//!   header in its first read, the header is buffered until complete (spec §8 item 16);
//! * v2: at most 1500 bytes, `LOCAL` keeps the socket addresses and skips the rest, `PROXY`
//!   needs a STREAM transport; `AF_UNSPEC`/`AF_UNIX` keep the socket addresses; a TLV that
//!   overruns the header is a violation. TLVs used: SSL (client bit → the client used TLS),
//!   its SSL_CN sub-TLV, AUTHORITY (→ `local_name`), ALPN and UNIQUE_ID (kept);
//! * bytes that follow the header are returned so the caller can replay them.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ipnet::IpNet;
use proxy_header::{ParseConfig, Protocol, ProxyHeader};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::error::NetError;
use super::reject::RejectReason;

const V1_SIG: &[u8] = b"PROXY ";
const V2_SIG: &[u8] = b"\r\n\r\n\x00\r\nQUIT\n";
/// Dovecot's limit on a v2 header, fixed part included.
pub const V2_MAX: usize = 1500;
/// The PROXY v1 spec's longest line.
pub const V1_MAX: usize = 107;

/// What a PROXY header said.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyInfo {
    /// 1 or 2.
    pub version: u8,
    /// The v2 `LOCAL` command (a health check from the proxy itself): addresses are kept.
    pub local: bool,
    /// The original client and the address it connected to; `None` keeps the socket's.
    pub source: Option<SocketAddr>,
    pub destination: Option<SocketAddr>,
    /// The client used TLS to the proxy (SSL TLV, client bit 0x01).
    pub ssl: bool,
    /// SSL_CN sub-TLV: the common name of the client's certificate.
    pub ssl_cn: Option<String>,
    /// AUTHORITY TLV (the SNI the client sent to the proxy).
    pub authority: Option<String>,
    pub alpn: Option<Vec<u8>>,
    pub unique_id: Option<Vec<u8>>,
}

/// Why a PROXY header was refused. [`ProxyError::reason`] is the metric label.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("Client not trusted (rip={0})")]
    Untrusted(IpAddr),
    #[error("Client timed out after {0:?} without a complete PROXY header")]
    Timeout(Duration),
    #[error("Failed to read valid HAproxy data: {0}")]
    Invalid(String),
    #[error("Client disconnected before sending a complete PROXY header")]
    Closed,
    #[error("read error: {0}")]
    Io(#[from] io::Error),
}

impl ProxyError {
    pub fn reason(&self) -> RejectReason {
        match self {
            ProxyError::Untrusted(_) => RejectReason::Untrusted,
            ProxyError::Timeout(_) => RejectReason::Timeout,
            ProxyError::Invalid(_) => RejectReason::Invalid,
            ProxyError::Closed => RejectReason::Closed,
            ProxyError::Io(_) => RejectReason::Io,
        }
    }
}

fn bad(msg: impl Into<String>) -> ProxyError {
    ProxyError::Invalid(msg.into())
}

/// `haproxy_trusted_networks`: the peers allowed to send PROXY headers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedNetworks(Vec<IpNet>);

impl TrustedNetworks {
    /// Parses CIDR networks and bare addresses; an error names the bad entry.
    pub fn parse(entries: &[String]) -> Result<TrustedNetworks, NetError> {
        let mut nets = Vec::new();
        for e in entries.iter().flat_map(|e| e.split([' ', ','])) {
            let e = e.trim();
            if e.is_empty() {
                continue;
            }
            let net = e
                .parse::<IpNet>()
                .or_else(|_| e.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| NetError::TrustedNetwork(e.to_string()))?;
            nets.push(net);
        }
        Ok(TrustedNetworks(nets))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True when `ip` (IPv4-mapped IPv6 counts as IPv4) is in one of the networks.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|n| n.contains(&ip))
    }
}

/// Parses a header at the start of `buf`. `Ok(None)`: not complete yet (read more).
pub fn parse(buf: &[u8]) -> Result<Option<(ProxyInfo, usize)>, ProxyError> {
    if buf.is_empty() {
        return Ok(None);
    }
    if buf[0] == b'P' {
        return parse_v1(buf);
    }
    if buf[0] == b'\r' {
        return parse_v2(buf);
    }
    Err(bad("not a PROXY header"))
}

fn prefix_ok(buf: &[u8], sig: &[u8]) -> bool {
    let n = buf.len().min(sig.len());
    buf[..n] == sig[..n]
}

fn parse_v1(buf: &[u8]) -> Result<Option<(ProxyInfo, usize)>, ProxyError> {
    if !prefix_ok(buf, V1_SIG) {
        return Err(bad("not a PROXY header"));
    }
    let Some(end) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() >= V1_MAX {
            return Err(bad("v1 header longer than 107 bytes"));
        }
        return Ok(None);
    };
    let line = &buf[..=end];
    if line.len() > V1_MAX + 1 || !line.ends_with(b"\r\n") {
        return Err(bad("v1 header not terminated by CRLF"));
    }
    let (h, used) =
        ProxyHeader::parse(line, ParseConfig::default()).map_err(|e| bad(format!("v1: {e}")))?;
    if used != line.len() {
        return Err(bad("v1: trailing fields"));
    }
    let mut info = ProxyInfo {
        version: 1,
        ..Default::default()
    };
    if let Some(a) = h.proxied_address() {
        info.source = Some(a.source);
        info.destination = Some(a.destination);
    }
    Ok(Some((info, used)))
}

fn parse_v2(buf: &[u8]) -> Result<Option<(ProxyInfo, usize)>, ProxyError> {
    if !prefix_ok(buf, V2_SIG) {
        return Err(bad("not a PROXY header"));
    }
    if buf.len() < 16 {
        return Ok(None);
    }
    let ver_cmd = buf[12];
    if ver_cmd >> 4 != 2 {
        return Err(bad(format!("v2: unsupported version {}", ver_cmd >> 4)));
    }
    let total = 16 + u16::from_be_bytes([buf[14], buf[15]]) as usize;
    if total > V2_MAX {
        return Err(bad(format!("v2: header of {total} bytes exceeds {V2_MAX}")));
    }
    if buf.len() < total {
        return Ok(None);
    }
    let mut info = ProxyInfo {
        version: 2,
        ..Default::default()
    };
    match ver_cmd & 0x0f {
        0x0 => {
            info.local = true;
            return Ok(Some((info, total)));
        }
        0x1 => {}
        c => return Err(bad(format!("v2: unknown command {c}"))),
    }
    let fam = buf[13];
    match fam {
        0x00 | 0x11 | 0x21 | 0x31 => {}
        0x12 | 0x22 | 0x32 => return Err(bad("v2: PROXY needs a STREAM transport")),
        f => {
            return Err(bad(format!(
                "v2: unknown address family/transport 0x{f:02x}"
            )))
        }
    }
    let (h, used) = ProxyHeader::parse(&buf[..total], ParseConfig::default())
        .map_err(|e| bad(format!("v2: {e}")))?;
    if used != total {
        return Err(bad("v2: length mismatch"));
    }
    if let Some(a) = h.proxied_address() {
        if a.protocol != Protocol::Stream {
            return Err(bad("v2: PROXY needs a STREAM transport"));
        }
        info.source = Some(a.source);
        info.destination = Some(a.destination);
    }
    for tlv in h.tlvs() {
        use proxy_header::Tlv;
        match tlv.map_err(|e| bad(format!("v2 TLV: {e}")))? {
            Tlv::Alpn(v) => info.alpn = Some(v.into_owned()),
            Tlv::Authority(v) => info.authority = Some(v.into_owned()),
            Tlv::UniqueId(v) => info.unique_id = Some(v.into_owned()),
            Tlv::Ssl(ssl) => {
                info.ssl = ssl.client_ssl();
                for sub in ssl.tlvs() {
                    if let Tlv::SslCn(cn) = sub.map_err(|e| bad(format!("v2 SSL TLV: {e}")))? {
                        info.ssl_cn = Some(cn.into_owned());
                    }
                }
            }
            _ => {}
        }
    }
    Ok(Some((info, total)))
}

/// Reads a complete header from `io` within `timeout`. Returns it and any bytes read past it.
pub async fn read_header<S: AsyncRead + Unpin>(
    io: &mut S,
    timeout: Duration,
) -> Result<(ProxyInfo, Vec<u8>), ProxyError> {
    let work = async {
        let mut buf: Vec<u8> = Vec::with_capacity(256);
        let mut chunk = [0u8; 512];
        loop {
            if let Some((info, used)) = parse(&buf)? {
                return Ok((info, buf.split_off(used)));
            }
            let n = io.read(&mut chunk).await?;
            if n == 0 {
                return Err(ProxyError::Closed);
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(ProxyError::Timeout(timeout)),
    }
}

#[cfg(test)]
mod tests;
