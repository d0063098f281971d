//! The state machine's rules with the time passed in: nothing here sleeps. Each test walks a
//! pool through events at chosen instants and checks the answers and queued decisions.

use std::time::{Duration, Instant};

use super::state::{Admit, Decision, PoolState, Slot, DROP_TIMEOUT};
use super::status;
use super::vproc::ExitReason;
use crate::settings::{Effective, ServiceType, Time};

fn eff(process_limit: u32, client_limit: u32) -> Effective {
    Effective {
        process_limit,
        client_limit,
        service_count: 0,
        process_min_avail: 0,
        idle_kill: Time::NEVER,
        vsz_limit: 0,
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn accept(a: Admit) -> Slot {
    match a {
        Admit::Accept(s) => s,
        other => panic!("expected Accept, got {other:?}"),
    }
}

fn warns(ds: &[Decision]) -> usize {
    ds.iter()
        .filter(|d| matches!(d, Decision::Warn { .. }))
        .count()
}

fn kicks(ds: &[Decision]) -> Vec<u64> {
    ds.iter()
        .filter_map(|d| match d {
            Decision::Kick { session } => Some(*session),
            _ => None,
        })
        .collect()
}

fn retired(ds: &[Decision]) -> Vec<(u64, ExitReason)> {
    ds.iter()
        .filter_map(|d| match d {
            Decision::Retire { vproc, reason } => Some((*vproc, *reason)),
            _ => None,
        })
        .collect()
}

fn throttles(ds: &[Decision]) -> Vec<u64> {
    ds.iter()
        .filter_map(|d| match d {
            Decision::Throttle { secs, .. } => Some(*secs),
            _ => None,
        })
        .collect()
}

fn processes(st: &PoolState) -> usize {
    st.procs().count()
}

// ---- slots ----------------------------------------------------------------------------

#[test]
fn capacity_is_process_limit_times_client_limit_busiest_process_first() {
    let t = Instant::now();
    let mut st = PoolState::new(eff(2, 3), ServiceType::Normal);
    let slots: Vec<Slot> = (0..6)
        .map(|_| st.try_reserve(t).expect("capacity 6"))
        .collect();
    assert!(st.try_reserve(t).is_none(), "7th has no slot");
    assert_eq!(processes(&st), 2);
    assert!(
        slots[..3].iter().all(|s| s.vproc == slots[0].vproc),
        "the first process is filled before a second starts: {slots:?}"
    );
    let starts = st
        .take_decisions()
        .iter()
        .filter(|d| matches!(d, Decision::Start { .. }))
        .count();
    assert_eq!(starts, 2);
    st.slot_released(slots[0], t);
    assert_eq!(st.try_reserve(t).map(|s| s.vproc), Some(slots[0].vproc));
}

#[test]
fn service_count_retires_a_process_when_its_last_connection_ends() {
    let t = Instant::now();
    let mut e = eff(5, 1);
    e.service_count = 1;
    let mut st = PoolState::new(e, ServiceType::Normal);
    let a = accept(st.connection_pending(t));
    let b = accept(st.connection_pending(t));
    assert_ne!(a.vproc, b.vproc, "each connection gets a new process");
    st.take_decisions();
    st.slot_released(a, t + ms(5));
    assert_eq!(
        retired(&st.take_decisions()),
        vec![(a.vproc, ExitReason::ServiceCount)]
    );
    assert_eq!(processes(&st), 1);
}

#[test]
fn process_min_avail_processes_stay_available() {
    let t = Instant::now();
    let mut e = eff(4, 1);
    e.process_min_avail = 2;
    let mut st = PoolState::new(e, ServiceType::Normal);
    st.start(t);
    assert_eq!(processes(&st), 2, "created at start, before any client");
    let slots: Vec<Slot> = (0..3).map(|_| accept(st.connection_pending(t))).collect();
    assert_eq!(processes(&st), 4, "topped up, but not past process_limit");
    assert_eq!(st.available_count(), 1);
    st.slot_released(slots[0], t);
    assert_eq!(st.available_count(), 2);
    assert_eq!(processes(&st), 4);
}

#[test]
fn type_startup_starts_one_process_without_a_connection() {
    let t = Instant::now();
    let mut st = PoolState::new(eff(4, 10), ServiceType::Startup);
    st.start(t);
    assert_eq!(processes(&st), 1);
    let mut st = PoolState::new(eff(4, 10), ServiceType::Normal);
    st.start(t);
    assert_eq!(processes(&st), 0);
}

// ---- throttle -------------------------------------------------------------------------

/// One connection whose fresh process fails its start-up at `t`; returns the throttle.
fn fail_start_up(st: &mut PoolState, t: Instant) -> u64 {
    let slot = accept(st.connection_pending(t));
    assert!(st.claim_start_up(slot.vproc));
    st.start_up_failed(slot.vproc, t, "init failed".into());
    st.slot_released(slot, t);
    let ds = st.take_decisions();
    assert_eq!(retired(&ds), vec![(slot.vproc, ExitReason::Crash)]);
    let th = throttles(&ds);
    assert_eq!(th.len(), 1, "{ds:?}");
    th[0]
}

#[test]
fn start_up_failures_throttle_two_seconds_doubling_to_sixty() {
    let mut t = Instant::now();
    let mut st = PoolState::new(eff(2, 1), ServiceType::Normal);
    for want in [2, 4, 8, 16, 32, 60, 60] {
        assert_eq!(fail_start_up(&mut st, t), want);
        let end = t + secs(want);
        assert_eq!(
            st.connection_pending(t + ms(1)),
            Admit::Wait { until: end },
            "no connection is taken while throttled"
        );
        assert_eq!(status::pool("x", &st, t + ms(1)).throttle_secs, want - 1);
        assert!(st.try_reserve(end - ms(1)).is_none(), "no new process");
        t = end;
    }
    assert_eq!(status::pool("x", &st, t).throttle_secs, 0);
}

#[test]
fn a_clean_exit_resets_the_throttle_to_two_seconds() {
    let t = Instant::now();
    let mut e = eff(2, 1);
    e.service_count = 1;
    let mut st = PoolState::new(e, ServiceType::Normal);
    assert_eq!(fail_start_up(&mut st, t), 2);
    assert_eq!(fail_start_up(&mut st, t + secs(2)), 4);
    // After the throttle a process starts fine and later exits cleanly (service_count).
    let t = t + secs(6);
    let ok = accept(st.connection_pending(t));
    assert!(st.claim_start_up(ok.vproc));
    assert!(
        !st.claim_start_up(ok.vproc),
        "start-up runs once per process"
    );
    st.slot_released(ok, t + secs(1));
    assert_eq!(
        retired(&st.take_decisions()),
        vec![(ok.vproc, ExitReason::ServiceCount)]
    );
    assert_eq!(fail_start_up(&mut st, t + secs(2)), 2, "back to 2 s");
}

// ---- idle_kill ------------------------------------------------------------------------

#[test]
fn idle_kill_ends_what_stayed_idle_all_interval_but_keeps_min_avail() {
    let t = Instant::now();
    let mut e = eff(10, 1);
    e.process_min_avail = 2;
    let mut st = PoolState::new(e, ServiceType::Normal);
    st.start(t);
    st.idle_interval_start();
    let slots: Vec<Slot> = (0..4).map(|_| accept(st.connection_pending(t))).collect();
    assert_eq!(processes(&st), 6, "4 busy + 2 available");
    for (i, s) in slots.iter().enumerate() {
        st.slot_released(*s, t + secs(1 + i as u64));
    }
    st.take_decisions();
    // process_min_avail kept two spare all along: only those two stayed idle throughout the
    // first interval, not the four that just finished.
    st.idle_kill_tick();
    let ds = retired(&st.take_decisions());
    assert_eq!(ds.len(), 2, "{ds:?}");
    assert!(ds.iter().all(|d| d.1 == ExitReason::IdleKill));
    assert!(
        ds.iter().all(|d| slots.iter().all(|s| s.vproc != d.0)),
        "the longest idle go first, not ones just released"
    );
    assert_eq!(processes(&st), 4);
    // The next interval all were idle throughout: shrink to process_min_avail, no further.
    st.idle_kill_tick();
    assert_eq!(retired(&st.take_decisions()).len(), 2);
    assert_eq!(processes(&st), 2);
    st.idle_kill_tick();
    assert!(retired(&st.take_decisions()).is_empty());
    assert_eq!(processes(&st), 2);
}

#[test]
fn idle_kill_spares_as_many_as_were_busy_during_the_interval() {
    let t = Instant::now();
    let mut st = PoolState::new(eff(10, 1), ServiceType::Normal);
    let a = accept(st.connection_pending(t));
    let b = accept(st.connection_pending(t));
    st.slot_released(a, t);
    st.slot_released(b, t);
    st.idle_interval_start();
    // One of the two idle processes serves a client for a moment during the interval.
    let c = accept(st.connection_pending(t + secs(10)));
    st.slot_released(c, t + secs(11));
    st.take_decisions();
    st.idle_kill_tick();
    assert_eq!(retired(&st.take_decisions()).len(), 1);
    st.idle_kill_tick();
    assert_eq!(retired(&st.take_decisions()).len(), 1);
    assert!(st.is_empty());
}

// ---- saturation -----------------------------------------------------------------------

#[test]
fn saturated_service_queues_ten_seconds_then_drops_until_a_slot_frees() {
    let t = Instant::now();
    let mut st = PoolState::new(eff(1, 1), ServiceType::Normal);
    let held = accept(st.connection_pending(t));
    st.take_decisions();
    assert_eq!(
        st.connection_pending(t),
        Admit::Wait {
            until: t + DROP_TIMEOUT
        }
    );
    assert_eq!(
        st.take_decisions(),
        vec![
            Decision::LimitReached,
            Decision::Warn {
                what: "client_limit",
                n: 1
            }
        ]
    );
    assert_eq!(
        st.connection_pending(t + secs(10) - ms(1)),
        Admit::Wait {
            until: t + DROP_TIMEOUT
        },
        "still queued just before 10 s"
    );
    assert!(st.take_decisions().is_empty(), "one episode, counted once");
    assert_eq!(st.connection_pending(t + secs(10)), Admit::Drop);
    assert_eq!(st.connection_pending(t + secs(10) + ms(1)), Admit::Drop);
    assert_eq!(st.connection_pending(t + secs(15)), Admit::Drop);
    // A freed slot ends the dropping.
    st.slot_released(held, t + secs(16));
    let next = accept(st.connection_pending(t + secs(16)));
    // Full again: a new episode, queued for a fresh 10 s.
    st.take_decisions();
    assert_eq!(
        st.connection_pending(t + secs(17)),
        Admit::Wait {
            until: t + secs(17) + DROP_TIMEOUT
        }
    );
    assert_eq!(st.take_decisions()[0], Decision::LimitReached);
    st.slot_released(next, t + secs(18));
}

#[test]
fn saturation_warning_at_most_once_a_second() {
    let t = Instant::now();
    let mut st = PoolState::new(eff(2, 1), ServiceType::Normal);
    let a = accept(st.connection_pending(t));
    accept(st.connection_pending(t));
    st.connection_pending(t);
    assert_eq!(
        st.take_decisions().last(),
        Some(&Decision::Warn {
            what: "process_limit",
            n: 2
        })
    );
    // A new episode 300 ms later does not warn again; one after a second does.
    st.slot_released(a, t + ms(200));
    let a = accept(st.connection_pending(t + ms(200)));
    st.take_decisions();
    st.connection_pending(t + ms(300));
    assert_eq!(warns(&st.take_decisions()), 0);
    st.slot_released(a, t + ms(400));
    accept(st.connection_pending(t + ms(400)));
    st.connection_pending(t + ms(1000));
    assert_eq!(warns(&st.take_decisions()), 1);
    // Dropping connections from 10 s on: one warning per second at most.
    let start = t + ms(1000);
    let mut n = 0;
    for step in 0..30 {
        let now = start + DROP_TIMEOUT + ms(100 * step);
        assert_eq!(st.connection_pending(now), Admit::Drop);
        n += warns(&st.take_decisions());
    }
    assert_eq!(n, 3, "30 drops over 2.9 s");
}

#[test]
fn warning_names_client_limit_or_service_count_when_process_limit_is_one() {
    let t = Instant::now();
    let mut e = eff(1, 1);
    e.service_count = 1;
    let mut st = PoolState::new(e, ServiceType::Normal);
    accept(st.connection_pending(t));
    st.take_decisions();
    st.connection_pending(t);
    assert!(st.take_decisions().contains(&Decision::Warn {
        what: "client_limit/service_count",
        n: 1
    }));
}

#[test]
fn worker_warns_only_if_still_full_after_500_ms() {
    let t = Instant::now();
    let mut st = PoolState::new(eff(1, 1), ServiceType::Worker);
    accept(st.connection_pending(t));
    st.take_decisions();
    assert_eq!(st.connection_pending(t), Admit::Wait { until: t + ms(500) });
    assert_eq!(st.take_decisions(), vec![Decision::LimitReached]);
    assert_eq!(
        st.connection_pending(t + ms(499)),
        Admit::Wait { until: t + ms(500) }
    );
    assert!(st.take_decisions().is_empty());
    assert_eq!(
        st.connection_pending(t + ms(500)),
        Admit::Wait {
            until: t + DROP_TIMEOUT
        }
    );
    assert_eq!(warns(&st.take_decisions()), 1);
    st.connection_pending(t + ms(800));
    assert_eq!(warns(&st.take_decisions()), 0, "warned once this episode");
}

#[test]
fn worker_says_nothing_if_a_slot_frees_within_500_ms() {
    let t = Instant::now();
    let mut st = PoolState::new(eff(1, 1), ServiceType::Worker);
    let held = accept(st.connection_pending(t));
    st.connection_pending(t);
    st.slot_released(held, t + ms(200));
    let held = accept(st.connection_pending(t + ms(200)));
    assert_eq!(warns(&st.take_decisions()), 0);
    // Full again at 700 ms: a new 500 ms grace from there.
    assert_eq!(
        st.connection_pending(t + ms(700)),
        Admit::Wait {
            until: t + ms(1200)
        }
    );
    assert_eq!(warns(&st.take_decisions()), 0);
    st.slot_released(held, t + ms(1100));
    accept(st.connection_pending(t + ms(1100)));
    assert_eq!(warns(&st.take_decisions()), 0);
}

// ---- login kick -----------------------------------------------------------------------

#[test]
fn full_login_service_kicks_exactly_the_oldest_pre_auth_client() {
    let t = Instant::now();
    let mut st = PoolState::new(eff(1, 3), ServiceType::Login);
    let slots: Vec<Slot> = (0..3).map(|_| accept(st.connection_pending(t))).collect();
    for (i, s) in slots.iter().enumerate() {
        st.session_started(*s, t + secs(i as u64), false);
    }
    st.session_authenticated(slots[0].session);
    assert!(st.would_kick(t + secs(3)));
    st.take_decisions();
    st.connection_pending(t + secs(3));
    assert_eq!(
        kicks(&st.take_decisions()),
        vec![slots[1].session],
        "the oldest not yet authenticated"
    );
    assert!(!st.would_kick(t + secs(4)));
    st.connection_pending(t + secs(4));
    assert!(
        kicks(&st.take_decisions()).is_empty(),
        "only one per episode"
    );
    // The kicked client leaves; the newcomer gets its slot.
    st.slot_released(slots[1], t + secs(5));
    let newcomer = accept(st.connection_pending(t + secs(5)));
    st.session_started(newcomer, t + secs(5), false);
    // Full again: the next oldest pre-auth client goes, never the authenticated one.
    st.connection_pending(t + secs(6));
    assert_eq!(kicks(&st.take_decisions()), vec![slots[2].session]);
}

#[test]
fn kick_is_for_login_listeners_only() {
    let t = Instant::now();
    for kind in [ServiceType::Normal, ServiceType::Worker] {
        let mut st = PoolState::new(eff(1, 1), kind);
        let s = accept(st.connection_pending(t));
        st.session_started(s, t, false);
        assert!(!st.would_kick(t));
        st.connection_pending(t);
        assert!(kicks(&st.take_decisions()).is_empty(), "{kind:?}");
    }
    let mut st = PoolState::new(eff(1, 1), ServiceType::Login);
    let s = accept(st.connection_pending(t));
    st.session_started(s, t, false);
    st.handoff_pending(t);
    assert!(
        kicks(&st.take_decisions()).is_empty(),
        "handoffs never kick"
    );
}

// ---- handoff, stop, status ------------------------------------------------------------

#[test]
fn handoff_waits_while_full_asking_every_second_and_never_drops() {
    let t = Instant::now();
    let mut st = PoolState::new(eff(1, 1), ServiceType::Normal);
    let held = accept(st.handoff_pending(t));
    st.take_decisions();
    for s in [0, 1, 30] {
        let now = t + secs(s);
        assert_eq!(
            st.handoff_pending(now),
            Admit::Wait {
                until: now + secs(1)
            }
        );
        let ds = st.take_decisions();
        assert_eq!(ds[0], Decision::LimitReached, "{ds:?}");
        assert_eq!(warns(&ds), 1);
    }
    st.slot_released(held, t + secs(31));
    accept(st.handoff_pending(t + secs(31)));
    st.stop();
    assert_eq!(st.handoff_pending(t + secs(32)), Admit::Stopped);
}

#[test]
fn stop_ends_idle_processes_now_and_busy_ones_when_empty() {
    let t = Instant::now();
    let mut e = eff(4, 1);
    e.process_min_avail = 1;
    let mut st = PoolState::new(e, ServiceType::Normal);
    st.start(t);
    let busy = accept(st.connection_pending(t));
    assert_eq!(processes(&st), 2);
    st.take_decisions();
    st.stop();
    let ds = retired(&st.take_decisions());
    assert_eq!(ds.len(), 1);
    assert_eq!(ds[0].1, ExitReason::Shutdown);
    assert_eq!(st.connection_pending(t), Admit::Stopped);
    assert!(status::processes("x", &st, t)[0].retiring);
    st.slot_released(busy, t + secs(1));
    assert_eq!(
        retired(&st.take_decisions()),
        vec![(busy.vproc, ExitReason::Shutdown)]
    );
    assert!(st.is_empty(), "no top-up after stop");
}

#[test]
fn status_reads_counts_and_ages_at_the_given_time() {
    let t = Instant::now();
    let mut st = PoolState::new(eff(3, 2), ServiceType::Normal);
    let a = accept(st.connection_pending(t));
    accept(st.connection_pending(t));
    accept(st.connection_pending(t + secs(1)));
    st.slot_released(a, t + secs(2));
    let s = status::pool("svc", &st, t + secs(5));
    assert_eq!(
        (s.processes, s.available, s.clients, s.processes_total),
        (2, 2, 2, 2)
    );
    let rows = status::processes("svc", &st, t + secs(5));
    assert_eq!(rows[0].age_secs, 5);
    assert_eq!(rows[0].idle_secs, None);
    assert_eq!(rows[1].clients, 1);
    assert_eq!(rows[1].idle_secs, None);
}
