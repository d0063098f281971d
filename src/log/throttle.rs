//! Throttling of repeated log lines: under a flood (a reconnect storm that gets kicked, a scan
//! of stalled TLS handshakes) the first line of a kind is written, the rest of a window are
//! counted, and one summary line with the count follows when the window ends.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// How long repeated lines of one kind are counted instead of written.
pub const WINDOW: Duration = Duration::from_secs(5);

/// One kind of repeated line.
pub struct Throttle {
    window: Duration,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// End of the current window; `None` when no line was written recently.
    until: Option<Instant>,
    suppressed: u64,
}

/// What to do with one occurrence.
#[derive(Debug, PartialEq, Eq)]
pub enum Admit {
    /// Write the line: it opens a window.
    Write,
    /// Counted. `first`: the first one of this window, so a summary must be scheduled for
    /// `until`.
    Counted { first: bool, until: Instant },
}

impl Throttle {
    pub fn new(window: Duration) -> Arc<Throttle> {
        Arc::new(Throttle {
            window,
            inner: Mutex::new(Inner::default()),
        })
    }

    pub fn admit(&self, now: Instant) -> Admit {
        let mut i = self.inner.lock().unwrap();
        match i.until {
            Some(until) if now < until => {
                i.suppressed += 1;
                Admit::Counted {
                    first: i.suppressed == 1,
                    until,
                }
            }
            _ => {
                i.until = Some(now + self.window);
                i.suppressed = 0;
                Admit::Write
            }
        }
    }

    /// Ends the window: returns how many lines were counted in it.
    pub fn close(&self) -> u64 {
        let mut i = self.inner.lock().unwrap();
        i.until = None;
        std::mem::take(&mut i.suppressed)
    }
}

/// Writes `line` now, or counts it; when a window had counted lines, `summary(count)` runs at
/// its end (on a task of the current runtime).
pub fn throttled(
    t: &Arc<Throttle>,
    line: impl FnOnce(),
    summary: impl FnOnce(u64) + Send + 'static,
) {
    match t.admit(Instant::now()) {
        Admit::Write => line(),
        Admit::Counted { first: true, until } => {
            let t = t.clone();
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    tokio::time::sleep_until(until).await;
                    let n = t.close();
                    if n > 0 {
                        summary(n);
                    }
                });
            }
        }
        Admit::Counted { .. } => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_line_writes_the_rest_of_the_window_is_counted() {
        let t = Throttle::new(WINDOW);
        let t0 = Instant::now();
        assert_eq!(t.admit(t0), Admit::Write);
        let until = t0 + WINDOW;
        assert_eq!(
            t.admit(t0 + Duration::from_millis(1)),
            Admit::Counted { first: true, until }
        );
        for i in 2..1000 {
            assert_eq!(
                t.admit(t0 + Duration::from_millis(i)),
                Admit::Counted {
                    first: false,
                    until
                }
            );
        }
        assert_eq!(t.close(), 999);
        // After the window a line is written again.
        assert_eq!(t.admit(t0 + WINDOW), Admit::Write);
        assert_eq!(t.close(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_flood_gives_one_line_and_one_summary_per_window() {
        let t = Throttle::new(WINDOW);
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        for _ in 0..10_000 {
            let l = lines.clone();
            let s = lines.clone();
            throttled(
                &t,
                move || l.lock().unwrap().push("kicked".into()),
                move |n| s.lock().unwrap().push(format!("{n} more")),
            );
        }
        tokio::time::sleep(WINDOW + Duration::from_millis(1)).await;
        assert_eq!(*lines.lock().unwrap(), vec!["kicked", "9999 more"]);
    }
}
