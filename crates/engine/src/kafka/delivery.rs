//! Per-message delivery tracking for our producers: every message is either acknowledged or counted as failed,
//! and the first failure is kept for the error message.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

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
}

impl DeliveryTracker {
    pub(crate) fn new(progress: Arc<ProduceProgress>) -> DeliveryTracker {
        DeliveryTracker { progress, first_error: Mutex::new(None) }
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
            Ok(_) => {
                self.progress.acked.fetch_add(1, Ordering::Relaxed);
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
