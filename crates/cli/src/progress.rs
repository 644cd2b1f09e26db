//! Progress reporting for long commands: a bar with rows/s and ETA on a terminal, nothing when `--quiet`.

use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A progress bar refreshed by a background thread, so the hot loop only bumps a counter.
pub struct Progress {
    bar: ProgressBar,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    /// Starts a bar over `total` units (`None`: unknown) labelled `what`, reading `position` ten times a second.
    pub fn start(what: &str, total: Option<u64>, position: impl Fn() -> u64 + Send + 'static, quiet: bool) -> Progress {
        Self::start_with_status(what, total, position, None, quiet)
    }

    /// Like [`start`](Self::start), with a one-line status (counts a long-running job wants visible) refreshed
    /// beside the bar.
    pub fn start_with_status(
        what: &str,
        total: Option<u64>,
        position: impl Fn() -> u64 + Send + 'static,
        status: Option<Box<dyn Fn() -> String + Send>>,
        quiet: bool,
    ) -> Progress {
        let bar = if quiet { ProgressBar::hidden() } else { ProgressBar::new(total.unwrap_or(0)) };
        let template = if total.is_some() {
            "{spinner} {msg} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} ({per_sec}, ETA {eta})"
        } else {
            "{spinner} {msg} [{elapsed_precise}] {human_pos} ({per_sec})"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        bar.set_message(what.to_string());
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (bar, stop, what) = (bar.clone(), stop.clone(), what.to_string());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(status) = &status {
                        bar.set_message(format!("{what} | {}", status()));
                    }
                    bar.set_position(position());
                    std::thread::sleep(Duration::from_millis(100));
                }
                bar.set_position(position());
            })
        };
        Progress { bar, stop, thread: Some(thread) }
    }

    /// Stops updating and clears the bar (the caller prints its own summary).
    pub fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.bar.finish_and_clear();
    }
}

/// Data rows in a CSV file (lines minus the header), for a progress total. Fast: a byte scan, no parsing.
pub fn count_data_lines(path: &Path) -> std::io::Result<u64> {
    let mut f = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    let (mut lines, mut last) = (0u64, b'\n');
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        last = buf[n - 1];
    }
    if last != b'\n' {
        lines += 1;
    }
    Ok(lines.saturating_sub(1))
}
