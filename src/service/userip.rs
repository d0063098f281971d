//! `mail_max_userip_connections`: sessions per (protocol, client IP, user), Dovecot's anvil
//! accounting (this module becomes roost's anvil). Dovecot counts in anvil and checks without
//! reserving, so racing logins can exceed the limit; here the login layer reserves the slot
//! atomically before the handoff (spec §8 item 22), and the post-login session (pop3) adopts
//! the reservation and releases it when it ends. Both use it from here, neither from the other.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::runtime::Hub;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UserIpKey {
    pub protocol: String,
    pub ip: String,
    pub user: String,
}

#[derive(Default)]
pub struct UserIpLimits {
    counts: Mutex<HashMap<UserIpKey, u32>>,
}

impl UserIpLimits {
    /// The shared table in the hub, created on first use.
    pub fn from_hub(hub: &Hub) -> Arc<UserIpLimits> {
        if let Some(l) = hub.get::<UserIpLimits>() {
            return l;
        }
        let l = Arc::new(UserIpLimits::default());
        hub.insert(l.clone());
        l
    }

    /// Takes a slot unless `limit` (> 0) sessions already exist.
    pub fn try_reserve(&self, key: &UserIpKey, limit: u32) -> bool {
        let mut m = self.counts.lock().unwrap();
        let n = m.entry(key.clone()).or_insert(0);
        if limit > 0 && *n >= limit {
            return false;
        }
        *n += 1;
        true
    }

    /// Gives a reserved slot back (a handoff that failed).
    pub fn release(&self, key: &UserIpKey) {
        let mut m = self.counts.lock().unwrap();
        if let Some(n) = m.get_mut(key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(key);
            }
        }
    }

    pub fn count(&self, key: &UserIpKey) -> u32 {
        self.counts.lock().unwrap().get(key).copied().unwrap_or(0)
    }

    /// Takes over a slot the login layer reserved; it is released when the guard drops.
    pub fn adopt(self: &Arc<Self>, key: UserIpKey) -> UserIpGuard {
        UserIpGuard {
            limits: self.clone(),
            key,
        }
    }
}

/// Releases its slot on drop.
pub struct UserIpGuard {
    limits: Arc<UserIpLimits>,
    key: UserIpKey,
}

impl Drop for UserIpGuard {
    fn drop(&mut self) {
        self.limits.release(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserve_up_to_the_limit_and_release_on_guard_drop() {
        let l = Arc::new(UserIpLimits::default());
        let k = UserIpKey {
            protocol: "pop3".into(),
            ip: "127.0.0.1".into(),
            user: "bob".into(),
        };
        assert!(l.try_reserve(&k, 2));
        assert!(l.try_reserve(&k, 2));
        assert!(!l.try_reserve(&k, 2));
        let g = l.adopt(k.clone());
        drop(g);
        assert_eq!(l.count(&k), 1);
        assert!(l.try_reserve(&k, 2));
        assert!(l.try_reserve(&k, 0), "0 = unlimited");
    }
}
