//! Whether the input topics are co-partitioned, checked where it matters: a run that reads only some partitions.
//!
//! The join is keyed by TransactionID across every partition an instance reads, so one instance reading all
//! partitions joins correctly however the records were placed. Several instances each join only their own
//! partitions: a transaction and its identity must then be on the same partition number, or the identity is on
//! another instance and never joins (the transaction is scored without it, the identity dead-lettered — silently
//! wrong scores). Producers place records by hashing the key bytes, so co-partitioning needs both topics to key a
//! TransactionID with the same bytes, hashed by the same partitioner, over the same partition count.
//!
//! [`Placement`] verifies what can be verified from one instance's records: both topics have the same partition
//! count; both key their records the same way (the same key schema id, or both plain); and every record is on the
//! partition the Java client's default partitioner (murmur2 of the key bytes, which `fraudstream produce` uses)
//! gives its key. The first record that breaks one of these stops the run before anything of it is committed,
//! with a message saying why and how to fix it. librdkafka's default partitioner (crc32, as confluent-kafka's
//! Python producer uses it) and per-topic key schemas both fail it.

use super::partitioner::partition_for_key;
use crate::error::EngineError;

/// How a topic's keys are written: a Confluent-framed Avro key of a schema id, plain bytes, or no key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyFormat {
    Avro(u32),
    Plain,
    Missing,
}

impl KeyFormat {
    fn of(key: Option<&[u8]>) -> KeyFormat {
        match key {
            None | Some([]) => KeyFormat::Missing,
            Some([0, a, b, c, d, ..]) => KeyFormat::Avro(u32::from_be_bytes([*a, *b, *c, *d])),
            Some(_) => KeyFormat::Plain,
        }
    }
}

impl std::fmt::Display for KeyFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyFormat::Avro(id) => write!(f, "Avro keys of schema id {id}"),
            KeyFormat::Plain => f.write_str("plain (not Avro) keys"),
            KeyFormat::Missing => f.write_str("no keys"),
        }
    }
}

/// The co-partitioning check of a run that reads only some partitions (see the module docs).
#[derive(Debug)]
pub(super) struct Placement {
    topics: [String; 2],
    counts: [i32; 2],
    formats: [Option<KeyFormat>; 2],
}

/// What to do instead, for every refusal.
const FIX: &str = "A run of several instances joins each partition on its own instance, so a transaction and its \
                   identity must be on the same partition number. Re-produce both topics with `fraudstream produce` \
                   (one key schema, the Java client's murmur2 partitioner), or repartition both by TransactionID \
                   with the same key bytes and partitioner (e.g. a Kafka Streams or Flink job writing `<topic>-by-id`), \
                   or run one instance over every partition (`--assign all`), which joins across partitions.";

impl Placement {
    /// The check for `topics` (transactions, identities) with their partition counts; refuses unequal counts.
    pub fn new(topics: [String; 2], counts: [i32; 2]) -> Result<Placement, EngineError> {
        if counts[0] != counts[1] {
            return Err(EngineError::Config(format!(
                "the input topics are not co-partitioned: {} has {} partitions and {} has {}. {FIX}",
                topics[0], counts[0], topics[1], counts[1]
            )));
        }
        Ok(Placement { topics, counts, formats: [None; 2] })
    }

    /// Checks one record of input `input` (0: transactions, 1: identities) at `partition`/`offset`.
    pub fn check(
        &mut self,
        input: u8,
        partition: i32,
        offset: i64,
        key: Option<&[u8]>,
        transaction_id: Option<i64>,
    ) -> Result<(), EngineError> {
        let i = usize::from(input.min(1));
        let at = || {
            let id = transaction_id.map_or(String::new(), |id| format!(" (TransactionID {id})"));
            format!("{}[{partition}]@{offset}{id}", self.topics[i])
        };
        let format = KeyFormat::of(key);
        let Some(key) = key.filter(|_| format != KeyFormat::Missing) else {
            return Err(EngineError::Config(format!(
                "cannot check that the input topics are co-partitioned: {} has no key. {FIX}",
                at()
            )));
        };
        let first = *self.formats[i].get_or_insert(format);
        if first != format {
            return Err(EngineError::Config(format!(
                "the input topics are not co-partitioned: {} has {format}, earlier records of {} have {first}. {FIX}",
                at(),
                self.topics[i]
            )));
        }
        if let Some(other) = self.formats[1 - i].filter(|&other| other != format) {
            return Err(EngineError::Config(format!(
                "the input topics are not co-partitioned: {} has {format} but {} has {other}, so the same \
                 TransactionID has different key bytes on the two topics and a key-hashing partitioner puts them \
                 on different partitions. {FIX}",
                self.topics[i],
                self.topics[1 - i]
            )));
        }
        let expected = partition_for_key(key, self.counts[i]);
        if expected != partition {
            return Err(EngineError::Config(format!(
                "the input topics are not co-partitioned as this run can verify: {} is on partition {partition}, \
                 but the Java client's default partitioner (murmur2 of the key bytes, which `fraudstream produce` \
                 uses) puts its key on partition {expected} (a producer with another partitioner, such as \
                 librdkafka's default crc32, places transactions and identities independently). {FIX}",
                at()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(schema: u32, datum: &[u8]) -> Vec<u8> {
        let mut k = vec![0];
        k.extend_from_slice(&schema.to_be_bytes());
        k.extend_from_slice(datum);
        k
    }

    fn placement() -> Placement {
        Placement::new(["tx".into(), "id".into()], [4, 4]).expect("equal counts")
    }

    #[test]
    fn records_placed_by_murmur2_with_one_key_schema_pass() {
        let mut p = placement();
        for id in 0..50u8 {
            let k = key(3, &[id * 2]);
            let partition = partition_for_key(&k, 4);
            assert!(p.check(0, partition, 1, Some(&k), Some(id.into())).is_ok());
            assert!(p.check(1, partition, 1, Some(&k), Some(id.into())).is_ok());
        }
    }

    #[test]
    fn other_partitioners_key_schemas_and_counts_are_refused_with_the_fix() {
        let k = key(3, &[8]);
        let wrong = (partition_for_key(&k, 4) + 1) % 4;
        let err = placement().check(0, wrong, 9, Some(&k), Some(4)).expect_err("crc32").to_string();
        assert!(err.contains("tx[") && err.contains("(TransactionID 4) is on partition"), "{err}");
        assert!(err.contains("fraudstream produce") && err.contains("--assign all"), "{err}");

        let mut p = placement();
        let (a, b) = (key(3, &[8]), key(5, &[8]));
        assert!(p.check(0, partition_for_key(&a, 4), 0, Some(&a), None).is_ok());
        let err = p.check(1, partition_for_key(&b, 4), 0, Some(&b), None).expect_err("key schemas").to_string();
        assert!(err.contains("id has Avro keys of schema id 5 but tx has Avro keys of schema id 3"), "{err}");

        let err = Placement::new(["tx".into(), "id".into()], [4, 2]).expect_err("counts").to_string();
        assert!(err.contains("tx has 4 partitions and id has 2"), "{err}");
        assert!(placement().check(0, 0, 0, None, None).is_err());
    }
}
