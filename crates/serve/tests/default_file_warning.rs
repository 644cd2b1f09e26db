//! A `default` file that is not a version number is warned about once per change of its content, not on every
//! rescan. Its own test binary: it installs the process-wide log subscriber that captures the warnings.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;

/// Log output shared with the subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines_with(&self, needle: &str) -> usize {
        let text = String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned();
        text.lines().filter(|l| l.contains("WARN") && l.contains(needle)).count()
    }
}

#[test]
fn a_bad_default_file_is_warned_about_once_per_change() {
    let log = Captured::default();
    let writer = log.clone();
    tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).init();

    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    copy("lgbm_binary.onnx", &root.join("w/1/model.onnx"));
    std::fs::write(root.join("w/default"), "latest\n").expect("default");
    let mut cfg = config();
    cfg.model_dir = Some(root.to_path_buf());
    cfg.reload_interval = Duration::from_millis(20);
    let _srv = start(cfg);

    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(log.lines_with("latest"), 1, "one warning for the first bad content");

    std::fs::write(root.join("w/default"), "newest\n").expect("default");
    wait_until("the warning for the new content", || log.lines_with("newest") >= 1);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!((log.lines_with("latest"), log.lines_with("newest")), (1, 1), "one warning per change");
}
