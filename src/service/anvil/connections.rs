//! Anvil's table of post-login sessions (Dovecot's `connect-limit.c`, made atomic): the login
//! layer reserves a `mail_max_userip_connections` slot per (protocol, client IP, user) before the
//! handoff; the post-login session turns the reservation into a registered connection (user,
//! protocol, virtual process, IPs, start time, session id, kick token) that lives as long as
//! its [`Connection`] guard. Dovecot counts in anvil without reserving, so racing logins can
//! exceed the limit; here reservation and count are one step under one lock.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;

use super::filter::Filter;
use super::metrics;
use crate::runtime::{DirectoryError, SessionDirectory, SessionRow};

/// What `mail_max_userip_connections` counts by.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UserIpKey {
    pub protocol: String,
    pub ip: IpAddr,
    pub user: String,
}

/// What a post-login session tells anvil when it starts.
#[derive(Clone, Debug)]
pub struct Connect {
    pub user: String,
    pub protocol: String,
    pub vproc: u64,
    pub rip: Option<IpAddr>,
    pub lip: Option<IpAddr>,
    pub session_id: String,
    /// Cancelled by a kick: the session sends its protocol's goodbye and ends.
    pub kick: CancellationToken,
}

struct Entry {
    row: SessionRow,
    kick: CancellationToken,
}

#[derive(Default)]
struct Table {
    next_id: u64,
    /// Registered sessions by id (ids grow, so this is oldest first).
    conns: BTreeMap<u64, Entry>,
    /// Slots per key: reserved by a login plus registered sessions.
    counts: HashMap<UserIpKey, u32>,
    /// Reservations not yet taken over by a session.
    reserved: HashMap<UserIpKey, u32>,
}

/// Anvil: one per server (it outlives reloads), shared through the hub.
#[derive(Default)]
pub struct Anvil {
    table: Mutex<Table>,
    /// The auth penalty per IP (Dovecot's `anvil-auth-penalty` table).
    penalty: Arc<super::penalty::Penalty>,
}

impl Anvil {
    /// The auth penalty table, shared with the auth service.
    pub fn penalty(&self) -> Arc<super::penalty::Penalty> {
        self.penalty.clone()
    }
}

fn dec(map: &mut HashMap<UserIpKey, u32>, key: &UserIpKey) -> bool {
    match map.get_mut(key) {
        Some(n) if *n > 1 => {
            *n -= 1;
            true
        }
        Some(_) => {
            map.remove(key);
            true
        }
        None => false,
    }
}

impl Anvil {
    /// Takes a slot unless `limit` (> 0) sessions of this user from this IP over this protocol
    /// already exist or are being handed over (`0` = unlimited).
    pub fn try_reserve(&self, key: &UserIpKey, limit: u32) -> bool {
        let mut t = self.table.lock().unwrap();
        let n = t.counts.get(key).copied().unwrap_or(0);
        if limit > 0 && n >= limit {
            return false;
        }
        *t.counts.entry(key.clone()).or_insert(0) += 1;
        *t.reserved.entry(key.clone()).or_insert(0) += 1;
        true
    }

    /// Gives back a reservation whose handoff failed.
    pub fn release(&self, key: &UserIpKey) {
        let mut t = self.table.lock().unwrap();
        if dec(&mut t.reserved, key) {
            dec(&mut t.counts, key);
        }
    }

    /// Sessions (and reservations) counted for `key`.
    pub fn count(&self, key: &UserIpKey) -> u32 {
        let t = self.table.lock().unwrap();
        t.counts.get(key).copied().unwrap_or(0)
    }

    /// Registers a post-login session, taking over the login's reservation for its key if
    /// there is one (a session started without a login counts from now on). The session is
    /// listed until the guard drops.
    pub fn connect(self: &Arc<Self>, c: Connect) -> Connection {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let key = c.rip.map(|ip| UserIpKey {
            protocol: c.protocol.clone(),
            ip,
            user: c.user.clone(),
        });
        let mut t = self.table.lock().unwrap();
        if let Some(k) = &key {
            if !dec(&mut t.reserved, k) {
                *t.counts.entry(k.clone()).or_insert(0) += 1;
            }
        }
        t.next_id += 1;
        let id = t.next_id;
        metrics::connected(&c.protocol);
        t.conns.insert(
            id,
            Entry {
                row: SessionRow {
                    user: c.user,
                    service: c.protocol,
                    vproc: c.vproc,
                    rip: c.rip,
                    lip: c.lip,
                    since,
                    session_id: c.session_id,
                },
                kick: c.kick,
            },
        );
        Connection {
            anvil: self.clone(),
            id,
            key,
        }
    }

    fn disconnect(&self, id: u64, key: &Option<UserIpKey>) {
        let mut t = self.table.lock().unwrap();
        if let Some(e) = t.conns.remove(&id) {
            metrics::disconnected(&e.row.service);
        }
        if let Some(k) = key {
            dec(&mut t.counts, k);
        }
    }
}

impl SessionDirectory for Anvil {
    fn who(&self) -> Vec<SessionRow> {
        let t = self.table.lock().unwrap();
        t.conns.values().map(|e| e.row.clone()).collect()
    }

    fn kick(&self, masks: &[String]) -> Result<Vec<String>, DirectoryError> {
        let filter = Filter::parse(masks)?;
        if filter.is_empty() {
            return Err(DirectoryError::NoMask);
        }
        let t = self.table.lock().unwrap();
        let mut users: Vec<String> = Vec::new();
        for e in t.conns.values() {
            if filter.matches(&e.row.user, e.row.rip.as_slice()) {
                if !e.kick.is_cancelled() {
                    metrics::kicked(&e.row.service);
                }
                e.kick.cancel();
                users.push(e.row.user.clone());
            }
        }
        users.sort();
        users.dedup();
        Ok(users)
    }
}

/// A registered session; dropping it disconnects it from anvil and frees its slot.
pub struct Connection {
    anvil: Arc<Anvil>,
    id: u64,
    key: Option<UserIpKey>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.anvil.disconnect(self.id, &self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(user: &str) -> UserIpKey {
        UserIpKey {
            protocol: "pop3".into(),
            ip: "127.0.0.1".parse().unwrap(),
            user: user.into(),
        }
    }

    fn connect(a: &Arc<Anvil>, user: &str, vproc: u64) -> (Connection, CancellationToken) {
        let kick = CancellationToken::new();
        let c = a.connect(Connect {
            user: user.into(),
            protocol: "pop3".into(),
            vproc,
            rip: Some("127.0.0.1".parse().unwrap()),
            lip: Some("127.0.0.2".parse().unwrap()),
            session_id: format!("s{vproc}"),
            kick: kick.clone(),
        });
        (c, kick)
    }

    #[test]
    fn reservations_and_sessions_share_the_limit_and_free_it_on_drop() {
        let a = Arc::new(Anvil::default());
        let k = key("bob");
        assert!(a.try_reserve(&k, 2));
        assert!(a.try_reserve(&k, 2));
        assert!(!a.try_reserve(&k, 2), "third over the limit");
        let (c1, _) = connect(&a, "bob", 1);
        assert_eq!(a.count(&k), 2, "the session took over a reservation");
        a.release(&k);
        assert_eq!(a.count(&k), 1, "the unused reservation is gone");
        a.release(&k);
        assert_eq!(
            a.count(&k),
            1,
            "nothing more to release: the session keeps its slot"
        );
        drop(c1);
        assert_eq!(a.count(&k), 0);
        assert!(a.try_reserve(&k, 0), "0 = unlimited");
    }

    #[test]
    fn a_session_without_a_login_still_counts() {
        let a = Arc::new(Anvil::default());
        let (c, _) = connect(&a, "bob", 1);
        assert_eq!(a.count(&key("bob")), 1);
        assert!(!a.try_reserve(&key("bob"), 1));
        drop(c);
        assert!(a.try_reserve(&key("bob"), 1));
    }

    #[test]
    fn who_lists_sessions_oldest_first_and_kick_cancels_only_the_matching_ones() {
        let a = Arc::new(Anvil::default());
        let (_b1, kb1) = connect(&a, "bob", 3);
        let (_al, ka) = connect(&a, "alice", 4);
        let (_b2, kb2) = connect(&a, "bob", 5);
        let rows = a.who();
        let users: Vec<&str> = rows.iter().map(|r| r.user.as_str()).collect();
        assert_eq!(users, ["bob", "alice", "bob"]);
        assert_eq!(rows[1].vproc, 4);
        assert_eq!(rows[1].session_id, "s4");
        assert_eq!(rows[1].lip, Some("127.0.0.2".parse().unwrap()));
        assert_eq!(a.kick(&["BOB".into()]).unwrap(), ["bob"]);
        assert!(kb1.is_cancelled() && kb2.is_cancelled());
        assert!(!ka.is_cancelled());
        assert_eq!(a.kick(&["nobody".into()]).unwrap(), Vec::<String>::new());
        assert_eq!(a.kick(&[]), Err(DirectoryError::NoMask));
        assert_eq!(
            a.kick(&["al*".into(), "10.0.0.0/8".into()]).unwrap(),
            Vec::<String>::new(),
            "user matches, network does not"
        );
        assert_eq!(
            a.kick(&["al*".into(), "127.0.0.0/8".into()]).unwrap(),
            ["alice"]
        );
        assert!(ka.is_cancelled());
    }

    #[test]
    fn exactly_limit_of_many_racing_reservations_succeed() {
        let a = Arc::new(Anvil::default());
        let ok: usize = std::thread::scope(|s| {
            let hs: Vec<_> = (0..100)
                .map(|_| s.spawn(|| a.try_reserve(&key("bob"), 10)))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap() as usize).sum()
        });
        assert_eq!(ok, 10);
    }
}
