//! The record every feature is computed from: a transaction, its identity if the join found one, and the client
//! features the stream computed for it from the client's past.

use fraudstream_data::{Identity, Transaction};

/// One joined record as the feature code sees it.
///
/// Borrowed, so the stream, batch scoring and training build it without copying rows. `client` holds the values of
/// the client (velocity) features in their canonical order, or is empty when no stage computed them — then those
/// features read as missing.
#[derive(Debug, Clone, Copy)]
pub struct FeatureRow<'a> {
    pub transaction: &'a Transaction,
    pub identity: Option<&'a Identity>,
    pub client: &'a [f64],
}

impl<'a> FeatureRow<'a> {
    /// A record with no client features computed.
    pub fn new(transaction: &'a Transaction, identity: Option<&'a Identity>) -> FeatureRow<'a> {
        FeatureRow { transaction, identity, client: &[] }
    }

    /// The same record with client feature values attached.
    pub fn with_client(self, client: &'a [f64]) -> FeatureRow<'a> {
        FeatureRow { client, ..self }
    }
}
