//! fraudstream-features: the one place that turns a joined record into model inputs.
//!
//! `fraudstream score` (batch), `fraudstream run` (streaming) and `fraudstream serve` all map records to a model's
//! inputs through [`InputMapping`], so batch and stream feed a model identical vectors — the train/serve skew the
//! reference system had (Flink's EXTRACT(DOY) where training used Kaggle counters) cannot happen here.
//!
//! - [`calendar`]: derived time features (`DT_D`, `DT_W`, `DT_M`, hour, day of week), by name.
//! - [`client`]: client (velocity) features from each client's and card's past, computed by [`ClientFeatures`]
//!   record by record in both the stream and training.
//! - [`row`]: the joined record features are computed from ([`FeatureRow`]).
//! - [`feature_set`]: a named feature list without a model, for training ([`FeatureSet`]).
//! - [`mapping`]: resolving each named model input to a transaction column, identity column or derived feature once,
//!   then filling input batches row by row without name lookups.

pub mod calendar;
pub mod client;
pub mod feature_set;
pub mod mapping;
pub mod row;

pub use calendar::CalendarFeature;
pub use client::{ClientConfig, ClientConfigError, ClientFeature, ClientFeatures};
pub use feature_set::{FeatureKind, FeatureSet};
pub use mapping::{FeatureError, InputMapping, InputValue};
pub use row::FeatureRow;
