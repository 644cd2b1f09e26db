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

/// The member ids of a consumer group, as the coordinator `coordinator` (`host:port`) describes them
/// (DescribeGroups v0). A static member's id begins with its `group.instance.id`.
pub fn group_member_ids(coordinator: &str, group: &str) -> std::io::Result<Vec<String>> {
    const DESCRIBE_GROUPS: i16 = 15;
    let mut body = 1i32.to_be_bytes().to_vec(); // one group
    put_string(&mut body, group);
    let response = kafka_request(coordinator, DESCRIBE_GROUPS, 0, &body)?;
    let mut r = Cursor { bytes: &response, at: 0 };
    let mut ids = Vec::new();
    for _ in 0..r.int32()? {
        r.int16()?; // error code
        for _ in 0..4 {
            r.string()?; // group id, state, protocol type, protocol
        }
        for _ in 0..r.int32()? {
            ids.push(r.string()?);
            r.string()?; // client id
            r.string()?; // client host
            r.bytes()?; // member metadata
            r.bytes()?; // member assignment
        }
    }
    Ok(ids)
}

/// Removes a member from a consumer group by its member id, as `kafka-consumer-groups --delete --members` and
/// `AdminClient.removeMembersFromConsumerGroup` do: a LeaveGroup (v3) request sent on the member's behalf to the
/// group coordinator `coordinator` (`host:port`). Returns the top-level and the member's error codes (0: removed).
///
/// Why tests need it: tansu 0.6.0 notices a SIGKILLed member only when another request arrives, and then answers
/// the survivor's rejoin with the old assignment, so the dead member's partitions are never reassigned. Removing
/// the member explicitly makes it rebalance, which is what a Kafka broker does on its own once the member's session
/// times out. Written by hand because librdkafka has no API for it; the request layout is Kafka's public protocol.
pub fn remove_group_member(coordinator: &str, group: &str, member_id: &str) -> std::io::Result<(i16, Vec<i16>)> {
    const LEAVE_GROUP: i16 = 13;
    let mut body = Vec::new();
    put_string(&mut body, group);
    body.extend_from_slice(&1i32.to_be_bytes()); // one member
    put_string(&mut body, member_id);
    body.extend_from_slice(&(-1i16).to_be_bytes()); // group_instance_id: null
    let response = kafka_request(coordinator, LEAVE_GROUP, 3, &body)?;
    let mut r = Cursor { bytes: &response, at: 0 };
    r.int32()?; // throttle time
    let error = r.int16()?;
    let mut members = Vec::new();
    for _ in 0..r.int32()? {
        r.string()?; // member id
        r.string()?; // group instance id
        members.push(r.int16()?);
    }
    Ok((error, members))
}

/// Sends one request (header v1, non-flexible versions only) and returns the response body after its header.
fn kafka_request(coordinator: &str, api_key: i16, version: i16, body: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::{Error, ErrorKind, Read, Write};
    const CORRELATION: i32 = 7;
    let mut request = Vec::with_capacity(body.len() + 32);
    request.extend_from_slice(&api_key.to_be_bytes());
    request.extend_from_slice(&version.to_be_bytes());
    request.extend_from_slice(&CORRELATION.to_be_bytes());
    put_string(&mut request, "fraudstream-test");
    request.extend_from_slice(body);
    let mut stream = TcpStream::connect(coordinator)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(&(request.len() as i32).to_be_bytes())?;
    stream.write_all(&request)?;
    let mut size = [0u8; 4];
    stream.read_exact(&mut size)?;
    let mut response = vec![0u8; i32::from_be_bytes(size).max(0) as usize];
    stream.read_exact(&mut response)?;
    if response.get(..4) != Some(&CORRELATION.to_be_bytes()[..]) {
        return Err(Error::new(ErrorKind::InvalidData, "a Kafka response for another request"));
    }
    Ok(response.split_off(4))
}

fn put_string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as i16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// Reads Kafka protocol primitives (big-endian) from a response.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> std::io::Result<&[u8]> {
        let bytes = self
            .bytes
            .get(self.at..self.at + n)
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "a Kafka response ended early"))?;
        self.at += n;
        Ok(bytes)
    }

    fn int16(&mut self) -> std::io::Result<i16> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    fn int32(&mut self) -> std::io::Result<i32> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A (nullable) string; null reads as empty.
    fn string(&mut self) -> std::io::Result<String> {
        let len = self.int16()?.max(0) as usize;
        Ok(String::from_utf8_lossy(self.take(len)?).into_owned())
    }

    fn bytes(&mut self) -> std::io::Result<Vec<u8>> {
        let len = self.int32()?.max(0) as usize;
        Ok(self.take(len)?.to_vec())
    }
}
