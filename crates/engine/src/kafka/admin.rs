//! Topic administration: which topics exist with how many partitions, and creating the missing ones.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;

use super::KafkaSettings;
use crate::error::EngineError;

impl KafkaSettings {
    /// Creates the topics that do not exist yet and returns every topic's partition count, in order.
    pub fn ensure_topics(&self, topics: &[&str], partitions: i32, replication: i32) -> Result<Vec<i32>, EngineError> {
        let admin: AdminClient<DefaultClientContext> =
            self.client_config(&[]).create().map_err(|e| EngineError::kafka("creating an admin client", e))?;
        let existing = self.partition_counts(topics)?;
        let missing: Vec<NewTopic> = topics
            .iter()
            .zip(&existing)
            .filter(|(_, n)| n.is_none())
            .map(|(t, _)| NewTopic::new(t, partitions, TopicReplication::Fixed(replication)))
            .collect();
        if !missing.is_empty() {
            let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
            let results = futures_executor::block_on(admin.create_topics(missing.iter(), &opts))
                .map_err(|e| EngineError::kafka("creating topics", e))?;
            for r in results {
                match r {
                    Ok(t) => tracing::info!("created topic {t} with {partitions} partitions"),
                    Err((t, RDKafkaErrorCode::TopicAlreadyExists)) => tracing::debug!("topic {t} already exists"),
                    Err((t, code)) => {
                        return Err(EngineError::Config(format!(
                            "creating topic {t} on {} failed: {code}",
                            self.brokers
                        )))
                    }
                }
            }
        }
        // Metadata may lag creation by a moment.
        for _ in 0..50 {
            let counts = self.partition_counts(topics)?;
            if counts.iter().all(Option::is_some) {
                return Ok(counts.into_iter().map(|c| c.unwrap_or(0)).collect());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err(EngineError::Config(format!("topics {topics:?} did not appear in {}'s metadata", self.brokers)))
    }

    /// Partition count of each topic, `None` for a topic that does not exist.
    pub fn partition_counts(&self, topics: &[&str]) -> Result<Vec<Option<i32>>, EngineError> {
        let consumer: BaseConsumer =
            self.client_config(&[]).create().map_err(|e| EngineError::kafka("creating a metadata client", e))?;
        let mut out = Vec::with_capacity(topics.len());
        for topic in topics {
            let md = consumer
                .fetch_metadata(Some(topic), Duration::from_secs(15))
                .map_err(|e| EngineError::kafka(format!("fetching metadata of {topic} from {}", self.brokers), e))?;
            let count = md
                .topics()
                .iter()
                .find(|t| t.name() == *topic && t.error().is_none())
                .map(|t| t.partitions().len() as i32)
                .filter(|&n| n > 0);
            out.push(count);
        }
        Ok(out)
    }

    /// Where each partition of `topic` ends, as the broker's ListOffsets answers: a lower bound of the end
    /// (tansu 0.6.0 may answer with the start of the last batch), which is what a read-back needs to start from.
    pub(crate) fn end_offsets(&self, topic: &str, partitions: i32) -> Result<Vec<i64>, EngineError> {
        let consumer: BaseConsumer =
            self.client_config(&[]).create().map_err(|e| EngineError::kafka("creating a metadata client", e))?;
        (0..partitions)
            .map(|p| {
                consumer
                    .fetch_watermarks(topic, p, Duration::from_secs(15))
                    .map(|(_, high)| high.max(0))
                    .map_err(|e| EngineError::kafka(format!("reading the end offsets of {topic}[{p}]"), e))
            })
            .collect()
    }
}
