//! Polling with a deadline: the one way tests wait for the cluster to reach a state.

use std::time::{Duration, Instant};

/// Calls `check` (every 20 ms, backing off to 200 ms) until it returns `Ok`, and returns
/// that value; once `timeout` has passed, panics with `what` and the last `Err` description.
pub fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Result<T, String>,
) -> T {
    let start = Instant::now();
    let mut interval = Duration::from_millis(20);
    loop {
        match check() {
            Ok(v) => return v,
            Err(last) => {
                if start.elapsed() > timeout {
                    panic!(
                        "timed out after {:?} waiting for {what}; last: {last}",
                        timeout
                    );
                }
            }
        }
        std::thread::sleep(interval);
        interval = (interval * 2).min(Duration::from_millis(200));
    }
}
