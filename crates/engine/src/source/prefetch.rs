//! Reading ahead on a thread of its own, so parsing input overlaps with the join and the model on the other core.
//!
//! [`Prefetch`] wraps any [`Source`]: a reader thread polls it and hands events over in batches through a bounded
//! channel. The bound is the backpressure: when the job falls behind, the reader blocks instead of buffering more,
//! so memory stays flat. Errors reach the caller in order, after the events read before them.

use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::Source;
use crate::error::EngineError;
use crate::flow::{InputPartition, SourceEvent};

/// Events per hand-over (amortises the channel cost).
const BATCH: usize = 256;
/// Batches in flight between the reader and the job.
const DEPTH: usize = 16;

/// A source read ahead by a background thread.
pub struct Prefetch {
    rx: Receiver<Result<Vec<SourceEvent>, EngineError>>,
    current: std::vec::IntoIter<SourceEvent>,
    ended: bool,
    partitions: Vec<InputPartition>,
    thread: Option<JoinHandle<()>>,
}

impl Prefetch {
    /// Starts reading `source` ahead; `idle_poll` is how long the reader waits on an unbounded source per poll.
    pub fn start<S: Source + 'static>(mut source: S, idle_poll: Duration) -> Prefetch {
        let partitions = source.partitions();
        let (tx, rx) = sync_channel(DEPTH);
        let thread = std::thread::Builder::new()
            .name("fraudstream-source".into())
            .spawn(move || {
                let mut batch = Vec::with_capacity(BATCH);
                loop {
                    match source.poll(idle_poll) {
                        Ok(SourceEvent::Idle) if batch.is_empty() => {
                            if tx.send(Ok(vec![SourceEvent::Idle])).is_err() {
                                return;
                            }
                        }
                        Ok(SourceEvent::Idle) => {
                            if tx.send(Ok(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))).is_err() {
                                return;
                            }
                        }
                        Ok(SourceEvent::End) => {
                            batch.push(SourceEvent::End);
                            let _ = tx.send(Ok(batch));
                            return;
                        }
                        Ok(event) => {
                            batch.push(event);
                            if batch.len() == BATCH
                                && tx.send(Ok(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))).is_err()
                            {
                                return;
                            }
                        }
                        Err(e) => {
                            if !batch.is_empty() {
                                let _ = tx.send(Ok(std::mem::take(&mut batch)));
                            }
                            let _ = tx.send(Err(e));
                            return;
                        }
                    }
                }
            })
            .ok();
        Prefetch { rx, current: Vec::new().into_iter(), ended: false, partitions, thread }
    }
}

impl Source for Prefetch {
    fn partitions(&self) -> Vec<InputPartition> {
        self.partitions.clone()
    }

    fn poll(&mut self, timeout: Duration) -> Result<SourceEvent, EngineError> {
        loop {
            if let Some(e) = self.current.next() {
                if matches!(e, SourceEvent::End) {
                    self.ended = true;
                }
                return Ok(e);
            }
            if self.ended {
                return Ok(SourceEvent::End);
            }
            match self.rx.recv_timeout(timeout.max(Duration::from_millis(1))) {
                Ok(Ok(batch)) => self.current = batch.into_iter(),
                Ok(Err(e)) => return Err(e),
                Err(RecvTimeoutError::Timeout) => return Ok(SourceEvent::Idle),
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(EngineError::Config(
                        "the source reader thread stopped unexpectedly (could not be started, or panicked)".into(),
                    ))
                }
            }
        }
    }
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        // Unblock a reader waiting on a full channel, then wait for it.
        let (_, dead_rx) = sync_channel::<Result<Vec<SourceEvent>, EngineError>>(0);
        drop(std::mem::replace(&mut self.rx, dead_rx));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bounded source of `n` idle-free events, then an error if asked.
    struct Counting {
        left: usize,
        fail_at_end: bool,
    }

    impl Source for Counting {
        fn partitions(&self) -> Vec<InputPartition> {
            Vec::new()
        }

        fn poll(&mut self, _: Duration) -> Result<SourceEvent, EngineError> {
            if self.left == 0 {
                return if self.fail_at_end { Err(EngineError::Config("boom".into())) } else { Ok(SourceEvent::End) };
            }
            self.left -= 1;
            Ok(SourceEvent::DeadLetter(crate::flow::DeadLetter {
                kind: crate::flow::DeadLetterKind::Unreadable,
                reason: self.left.to_string(),
                origin: crate::flow::Origin::Kafka { topic: "t".into(), partition: 0, offset: self.left as i64 },
                payload: Vec::new(),
                key: None,
            }))
        }
    }

    #[test]
    fn delivers_every_event_in_order_then_end() {
        let mut p = Prefetch::start(Counting { left: 1000, fail_at_end: false }, Duration::from_millis(1));
        for i in (0..1000).rev() {
            match p.poll(Duration::from_secs(5)).expect("event") {
                SourceEvent::DeadLetter(d) => assert_eq!(d.reason, i.to_string()),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(p.poll(Duration::from_secs(5)).expect("end"), SourceEvent::End);
        assert_eq!(p.poll(Duration::from_secs(5)).expect("still end"), SourceEvent::End);
    }

    #[test]
    fn an_error_arrives_after_the_events_before_it() {
        let mut p = Prefetch::start(Counting { left: 300, fail_at_end: true }, Duration::from_millis(1));
        for _ in 0..300 {
            assert!(matches!(p.poll(Duration::from_secs(5)), Ok(SourceEvent::DeadLetter(_))));
        }
        assert!(p.poll(Duration::from_secs(5)).is_err());
    }

    #[test]
    fn dropping_early_stops_the_reader() {
        let mut p = Prefetch::start(Counting { left: 1_000_000, fail_at_end: false }, Duration::from_millis(1));
        assert!(p.poll(Duration::from_secs(5)).is_ok());
        drop(p); // must not hang on the full channel
    }
}
