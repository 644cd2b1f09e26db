//! The Kafka-protocol broker the integration tests talk to over TCP.
//!
//! `scripts/test.sh` (and so CI) starts tansu on 127.0.0.1:9092 before `cargo test`. Tests that need it call
//! [`require_broker`], which fails loudly if nothing listens there instead of skipping.

use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `FRAUDSTREAM_TEST_BROKERS`, or the address `scripts/test.sh` starts the broker on.
pub fn brokers() -> String {
    std::env::var("FRAUDSTREAM_TEST_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".to_string())
}

/// The broker list, after checking that the first broker accepts TCP connections.
pub fn require_broker() -> String {
    let brokers = brokers();
    let first = brokers.split(',').next().unwrap_or_default().to_string();
    let reachable = first
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .is_some_and(|addr| TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok());
    assert!(
        reachable,
        "no Kafka-protocol broker at {first}: run the tests with scripts/test.sh, which starts tansu, \
         or set FRAUDSTREAM_TEST_BROKERS"
    );
    brokers
}

/// A topic name no other test (or earlier run against the same broker) uses.
pub fn unique_topic(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{prefix}-{}-{nanos}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}
