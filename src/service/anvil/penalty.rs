//! Per-IP authentication-failure penalty (spec §7.1, §8 item 21), kept by anvil as Dovecot
//! keeps it (one table per server that outlives auth reloads; auth reads and updates it
//! in-process instead of over `anvil-auth-penalty`): IPv6 addresses are masked to /48; each failure raises the penalty by one (at most 4)
//! unless the same user+password checksum already failed recently; a client with penalty `p`
//! waits 2 s × 2^p (at most 15 s) before its request is processed; entries expire after 29 s
//! without change; a success clears the penalty. Requests without a remote IP (unix-socket
//! clients such as Postfix that send no `rip`) and `no-penalty` requests are never delayed.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const INIT_SECS: u64 = 2;
pub const MAX_SECS: u64 = 15;
pub const MAX_PENALTY: u32 = 4;
pub const EXPIRE: Duration = Duration::from_secs(29);
/// Checksums remembered per IP for de-duplication.
const CHECKSUMS: usize = 8;

/// Delay for a penalty value.
pub fn to_secs(penalty: u32) -> u64 {
    let mut secs = INIT_SECS;
    for _ in 0..penalty {
        secs = secs.saturating_mul(2);
    }
    secs.min(MAX_SECS)
}

/// The penalty key: the IP, IPv6 masked to /48.
pub fn ident(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let mut o = v6.octets();
            o[6..].fill(0);
            IpAddr::V6(o.into())
        }
    }
}

struct Entry {
    penalty: u32,
    last: Instant,
    checksums: Vec<u32>,
}

/// The penalty table.
#[derive(Default)]
pub struct Penalty {
    table: Mutex<HashMap<IpAddr, Entry>>,
}

impl Penalty {
    /// The current penalty of `ip`, decayed by the time since its last failure.
    pub fn get(&self, ip: IpAddr) -> u32 {
        self.get_at(ip, Instant::now())
    }

    /// [`Penalty::get`] and the unix time of the last failure (0 when there is none), as
    /// anvil's `PENALTY-GET` answers.
    pub fn get_with_time(&self, ip: IpAddr) -> (u32, u64) {
        let now = Instant::now();
        let penalty = self.get_at(ip, now);
        let t = self.table.lock().expect("penalty lock");
        let at = t.get(&ident(ip)).map_or(0, |e| unix_secs_of(e.last, now));
        (penalty, at)
    }

    fn get_at(&self, ip: IpAddr, now: Instant) -> u32 {
        let mut t = self.table.lock().expect("penalty lock");
        let key = ident(ip);
        let Some(e) = t.get(&key) else { return 0 };
        let age = now.saturating_duration_since(e.last);
        if age >= EXPIRE {
            t.remove(&key);
            return 0;
        }
        let mut penalty = e.penalty;
        let mut drop = MAX_PENALTY;
        while penalty > 0 {
            if age.as_secs() < to_secs(drop) {
                break;
            }
            drop -= 1;
            penalty -= 1;
        }
        penalty
    }

    /// Records a failure (`value` = previous penalty + 1) or a success (`value` = 0).
    /// A repeated failure with the same checksum only refreshes the timestamp.
    pub fn update(&self, ip: IpAddr, checksum: u32, value: u32) {
        let mut t = self.table.lock().expect("penalty lock");
        let key = ident(ip);
        if value == 0 {
            t.remove(&key);
            return;
        }
        let value = value.min(MAX_PENALTY);
        let now = Instant::now();
        let e = t.entry(key).or_insert(Entry {
            penalty: 0,
            last: now,
            checksums: Vec::new(),
        });
        e.last = now;
        if e.checksums.contains(&checksum) {
            return;
        }
        if e.checksums.len() >= CHECKSUMS {
            e.checksums.remove(0);
        }
        e.checksums.push(checksum);
        e.penalty = value;
        // Opportunistic expiry so the table stays small.
        if t.len() > 10_000 {
            t.retain(|_, e| now.duration_since(e.last) < EXPIRE);
        }
    }
}

impl Penalty {
    /// Every kept entry as Dovecot's `PENALTY-DUMP` lists it: the IP (IPv6 as its /48), the
    /// penalty as stored, and the unix time of the last failure; oldest first.
    pub fn dump(&self) -> Vec<(IpAddr, u32, u64)> {
        let now = Instant::now();
        let t = self.table.lock().expect("penalty lock");
        let mut v: Vec<(IpAddr, u32, u64)> = t
            .iter()
            .filter(|(_, e)| now.duration_since(e.last) < EXPIRE)
            .map(|(ip, e)| (*ip, e.penalty, unix_secs_of(e.last, now)))
            .collect();
        v.sort_by_key(|&(ip, _, at)| (at, ip));
        v
    }
}

/// The unix time of `at`, an instant before `now`.
fn unix_secs_of(at: Instant, now: Instant) -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        .saturating_sub(now.duration_since(at).as_secs())
}

/// CRC-32 (IEEE), continuing from `crc`, as Dovecot's `crc32_str_more`.
pub fn crc32(crc: u32, data: &[u8]) -> u32 {
    let mut c = !crc;
    for &b in data {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// The user+password checksum that stops identical retries from raising the penalty.
pub fn checksum(password: &[u8], user: &str) -> u32 {
    crc32(crc32(0, password), user.as_bytes())
}

#[cfg(test)]
mod tests;
