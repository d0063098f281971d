//! Polling: wait until a condition holds or a deadline passes, and wait until a (log) file
//! contains a string.

use std::path::Path;
use std::time::{Duration, Instant};

/// Polls `f` every 50 ms until it holds (true) or `timeout` passes (false).
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The file's text, empty when it does not exist (yet).
pub fn read_text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Waits until the file at `path` contains `needle`.
pub fn wait_file_contains(path: &Path, needle: &str, timeout: Duration) -> bool {
    wait_until(timeout, || read_text(path).contains(needle))
}
