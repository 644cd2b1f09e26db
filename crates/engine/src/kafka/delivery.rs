//! Per-message delivery tracking for our producers: every message is either acknowledged or counted as failed,
//! and the first failure is kept for the error message. For the job's outputs it also notes, per partition, the
//! highest offset the broker acknowledged — where the output written so far ends (see `checkpoint`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use rdkafka::producer::{DeliveryResult, ProducerContext};
use rdkafka::ClientContext;

/// Live counters, readable from a progress thread while the run goes on.
#[derive(Debug, Default)]
pub struct ProduceProgress {
    pub sent: AtomicU64,
    pub acked: AtomicU64,
    pub failed: AtomicU64,
}

/// Counts acknowledgements and keeps the first failure.
pub(crate) struct DeliveryTracker {
    progress: Arc<ProduceProgress>,
    first_error: Mutex<Option<String>>,
    /// Per watched topic, per partition: one past the highest acknowledged offset (or where the partition ended
    /// when it was watched).
    ends: RwLock<Vec<(String, Vec<AtomicI64>)>>,
}

/// Where each partition of the watched output topics ends: (topic, partition) → offset.
pub(crate) type OutputEnds = BTreeMap<(String, i32), i64>;

impl DeliveryTracker {
    pub(crate) fn new(progress: Arc<ProduceProgress>) -> DeliveryTracker {
        DeliveryTracker { progress, first_error: Mutex::new(None), ends: RwLock::new(Vec::new()) }
    }

    /// Starts noting where `topic`'s partitions end, from `starts` (each partition's end when watching began, or
    /// a lower bound of it) on.
    pub(crate) fn watch(&self, topic: &str, starts: &[i64]) {
        let mut ends = self.ends.write().unwrap_or_else(PoisonError::into_inner);
        ends.retain(|(t, _)| t != topic);
        ends.push((topic.to_string(), starts.iter().map(|&s| AtomicI64::new(s)).collect()));
    }

    /// Where the watched partitions end, as far as acknowledged so far.
    pub(crate) fn ends(&self) -> OutputEnds {
        let ends = self.ends.read().unwrap_or_else(PoisonError::into_inner);
        let mut out = OutputEnds::new();
        for (topic, partitions) in ends.iter() {
            for (p, end) in partitions.iter().enumerate() {
                out.insert((topic.clone(), p as i32), end.load(Ordering::Acquire));
            }
        }
        out
    }

    /// The first delivery failure, if any.
    pub(crate) fn first_error(&self) -> Option<String> {
        self.first_error.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub(crate) fn progress(&self) -> &ProduceProgress {
        &self.progress
    }
}

impl ClientContext for DeliveryTracker {}

impl ProducerContext for DeliveryTracker {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(msg) => {
                use rdkafka::message::Message;
                let ends = self.ends.read().unwrap_or_else(PoisonError::into_inner);
                if let Some((_, partitions)) = ends.iter().find(|(t, _)| t == msg.topic()) {
                    if let Some(end) = usize::try_from(msg.partition()).ok().and_then(|p| partitions.get(p)) {
                        end.fetch_max(msg.offset() + 1, Ordering::AcqRel);
                    }
                }
                // Counted after the end is noted: whoever sees every message acknowledged sees its end too.
                self.progress.acked.fetch_add(1, Ordering::Release);
            }
            Err((e, msg)) => {
                self.progress.failed.fetch_add(1, Ordering::Relaxed);
                let mut first = self.first_error.lock().unwrap_or_else(PoisonError::into_inner);
                if first.is_none() {
                    use rdkafka::message::Message;
                    *first = Some(format!("{e} (topic {}, partition {})", msg.topic(), msg.partition()));
                }
            }
        }
    }
}
