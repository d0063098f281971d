//! The master's side of the post-login handoff: [`Pools`], the current generation's pools by
//! service name, and [`PoolsPostLogin`], the runtime's `PostLogin` over them
//! (`WorkerPool::hand_over` waits while the post-login pool is full). The master publishes it
//! in the hub as the `PostLoginHandle` login services use.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use super::pool::WorkerPool;
use crate::net::Conn;
use crate::runtime::{BoxFuture, Handoff, HandoffError, PostLogin};

/// The current pools by service name.
#[derive(Default)]
pub struct Pools {
    current: RwLock<BTreeMap<String, Arc<WorkerPool>>>,
}

impl Pools {
    pub fn get(&self, service: &str) -> Option<Arc<WorkerPool>> {
        self.current.read().unwrap().get(service).cloned()
    }

    pub fn all(&self) -> Vec<Arc<WorkerPool>> {
        self.current.read().unwrap().values().cloned().collect()
    }

    pub(super) fn replace(&self, pools: BTreeMap<String, Arc<WorkerPool>>) {
        *self.current.write().unwrap() = pools;
    }
}

/// Hands over through the master's pools.
pub struct PoolsPostLogin(pub Arc<Pools>);

impl PostLogin for PoolsPostLogin {
    fn hand_over(
        &self,
        service: &str,
        conn: Conn,
        handoff: Handoff,
    ) -> BoxFuture<Result<(), (HandoffError, Option<Conn>)>> {
        let pool = self.0.get(service);
        let service = service.to_string();
        Box::pin(async move {
            let Some(pool) = pool else {
                return Err((HandoffError::NoService(service), Some(conn)));
            };
            pool.hand_over(conn, handoff)
                .await
                .map_err(|conn| (HandoffError::Unavailable(service), Some(conn)))
        })
    }
}
