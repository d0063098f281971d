//! The auth cache (`auth_cache_size`, `auth_cache_ttl`, `auth_cache_negative_ttl`): passdb and
//! userdb lookup results keyed by db and username, with separate TTLs for found and not-found
//! entries, bounded by an approximate byte size (oldest entries evicted first).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::db::{PassLookup, UserLookupRaw};
use super::metrics::Metrics;
use std::sync::Arc;

/// A cached lookup.
#[derive(Clone, Debug)]
pub enum Cached {
    Pass(PassLookup),
    User(UserLookupRaw),
}

impl Cached {
    fn negative(&self) -> bool {
        matches!(
            self,
            Cached::Pass(PassLookup::NotFound) | Cached::User(UserLookupRaw::NotFound)
        )
    }

    fn size(&self, key: &str) -> usize {
        let fields = |f: &super::fields::Fields| -> usize {
            f.0.iter().map(|(k, v)| k.len() + v.len() + 2).sum()
        };
        key.len()
            + 64
            + match self {
                Cached::Pass(PassLookup::Found {
                    password,
                    fields: f,
                }) => password.as_ref().map_or(0, |p| p.len()) + fields(f),
                Cached::User(UserLookupRaw::Found(f)) => fields(f),
                _ => 0,
            }
    }
}

struct Entry {
    value: Cached,
    at: Instant,
    size: usize,
    seq: u64,
}

#[derive(Default)]
struct Inner {
    map: HashMap<String, Entry>,
    order: VecDeque<(u64, String)>,
    used: usize,
    seq: u64,
}

/// The cache; disabled when `max_size` is 0.
pub struct Cache {
    max_size: usize,
    ttl: Duration,
    negative_ttl: Duration,
    inner: Mutex<Inner>,
    metrics: Arc<Metrics>,
}

impl Cache {
    pub fn new(
        max_size: u64,
        ttl: Duration,
        negative_ttl: Duration,
        metrics: Arc<Metrics>,
    ) -> Cache {
        Cache {
            metrics,
            max_size: max_size as usize,
            ttl,
            negative_ttl,
            inner: Mutex::new(Inner::default()),
        }
    }

    pub fn enabled(&self) -> bool {
        self.max_size > 0
    }

    /// A live entry, counting the hit or miss.
    pub fn get(&self, key: &str) -> Option<Cached> {
        if !self.enabled() {
            return None;
        }
        let mut inner = self.inner.lock().expect("auth cache lock");
        let hit = match inner.map.get(key) {
            Some(e) => {
                let ttl = if e.value.negative() {
                    self.negative_ttl
                } else {
                    self.ttl
                };
                if e.at.elapsed() < ttl {
                    Some(e.value.clone())
                } else {
                    None
                }
            }
            None => None,
        };
        if hit.is_none() {
            if let Some(e) = inner.map.remove(key) {
                inner.used -= e.size;
            }
        }
        drop(inner);
        self.metrics.cache_lookup(hit.is_some());
        hit
    }

    /// Stores a result. Internal failures are never cached; a zero negative TTL disables
    /// negative caching.
    pub fn put(&self, key: &str, value: Cached) {
        if !self.enabled()
            || matches!(
                value,
                Cached::Pass(PassLookup::InternalFail(_))
                    | Cached::User(UserLookupRaw::InternalFail(_))
            )
            || (value.negative() && self.negative_ttl.is_zero())
        {
            return;
        }
        let size = value.size(key);
        if size > self.max_size {
            return;
        }
        let mut inner = self.inner.lock().expect("auth cache lock");
        inner.seq += 1;
        let seq = inner.seq;
        if let Some(old) = inner.map.insert(
            key.to_string(),
            Entry {
                value,
                at: Instant::now(),
                size,
                seq,
            },
        ) {
            inner.used -= old.size;
        }
        inner.used += size;
        inner.order.push_back((seq, key.to_string()));
        while inner.used > self.max_size {
            let Some((s, k)) = inner.order.pop_front() else {
                break;
            };
            if inner.map.get(&k).is_some_and(|e| e.seq == s) {
                let e = inner.map.remove(&k).expect("present");
                inner.used -= e.size;
            }
        }
        // Keep the order queue from growing without bound when keys are rewritten.
        if inner.order.len() > inner.map.len() * 2 + 64 {
            let live: std::collections::HashSet<u64> = inner.map.values().map(|e| e.seq).collect();
            inner.order.retain(|(s, _)| live.contains(s));
        }
    }

    /// Drops all entries (no users) or those of the given users; returns how many.
    pub fn flush(&self, users: &[String]) -> usize {
        let mut inner = self.inner.lock().expect("auth cache lock");
        let before = inner.map.len();
        if users.is_empty() {
            inner.map.clear();
            inner.order.clear();
            inner.used = 0;
            return before;
        }
        let mut freed = 0;
        inner.map.retain(|k, e| {
            let user = k.split_once('\t').map(|(_, u)| u).unwrap_or(k);
            let drop = users.iter().any(|u| u == user);
            if drop {
                freed += e.size;
            }
            !drop
        });
        inner.used -= freed;
        before - inner.map.len()
    }
}

#[cfg(test)]
mod tests;
