//! The client features by name, in their one canonical order.
//!
//! The order is the layout of the value slice [`ClientFeatures::observe`](super::ClientFeatures::observe) fills and
//! [`FeatureRow::client`](crate::FeatureRow::client) carries; the names become ONNX input names and column names
//! downstream, so both are part of the contract: append new features at the end, never rename or reorder.

/// One client (velocity or normalisation) feature. `as usize` is its index in the canonical order.
///
/// Definitions (see the [module doc](super) for windows, "past" and keys):
/// - `uid_*` are per client key (card1, addr1, first-seen day), `card1_*` per card1 value;
/// - `*_count_{1h,24h,7d,30d}`: past transactions with `0 < age <= window`;
/// - `*_amt_mean`, `*_amt_std`: mean and sample standard deviation (n − 1) of the past 30 days' amounts;
/// - `*_amt_rel`: this amount / `*_amt_mean`;
/// - `*_secs_since_prev`: seconds since the newest past transaction still in state;
/// - `uid_emails`, `uid_devices`: distinct P_emaildomain / identity DeviceInfo values in the client's past;
/// - `card1_seen`, `addr1_seen`, `email_seen`: past transactions with this card1 / addr1 / P_emaildomain value;
/// - `cents`: fractional part of TransactionAmt;
/// - `D4n` … `D15n`: `D − TransactionDT / 86400` (the column as a point in time rather than an age).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientFeature {
    UidCount1h,
    UidCount24h,
    UidCount7d,
    UidCount30d,
    UidAmtMean,
    UidAmtStd,
    UidAmtRel,
    UidSecsSincePrev,
    UidEmails,
    UidDevices,
    Card1Count1h,
    Card1Count24h,
    Card1Count7d,
    Card1Count30d,
    Card1AmtMean,
    Card1AmtStd,
    Card1AmtRel,
    Card1SecsSincePrev,
    Card1Seen,
    Addr1Seen,
    EmailSeen,
    Cents,
    D4n,
    D6n,
    D7n,
    D8n,
    D10n,
    D11n,
    D12n,
    D13n,
    D14n,
    D15n,
}

impl ClientFeature {
    /// Number of client features: the length of a client value slice.
    pub const COUNT: usize = Self::NAMES.len();

    /// Every feature with its canonical name, in canonical order (`NAMES[f as usize].0 == f`).
    pub const NAMES: &'static [(ClientFeature, &'static str)] = &[
        (ClientFeature::UidCount1h, "uid_count_1h"),
        (ClientFeature::UidCount24h, "uid_count_24h"),
        (ClientFeature::UidCount7d, "uid_count_7d"),
        (ClientFeature::UidCount30d, "uid_count_30d"),
        (ClientFeature::UidAmtMean, "uid_amt_mean"),
        (ClientFeature::UidAmtStd, "uid_amt_std"),
        (ClientFeature::UidAmtRel, "uid_amt_rel"),
        (ClientFeature::UidSecsSincePrev, "uid_secs_since_prev"),
        (ClientFeature::UidEmails, "uid_emails"),
        (ClientFeature::UidDevices, "uid_devices"),
        (ClientFeature::Card1Count1h, "card1_count_1h"),
        (ClientFeature::Card1Count24h, "card1_count_24h"),
        (ClientFeature::Card1Count7d, "card1_count_7d"),
        (ClientFeature::Card1Count30d, "card1_count_30d"),
        (ClientFeature::Card1AmtMean, "card1_amt_mean"),
        (ClientFeature::Card1AmtStd, "card1_amt_std"),
        (ClientFeature::Card1AmtRel, "card1_amt_rel"),
        (ClientFeature::Card1SecsSincePrev, "card1_secs_since_prev"),
        (ClientFeature::Card1Seen, "card1_seen"),
        (ClientFeature::Addr1Seen, "addr1_seen"),
        (ClientFeature::EmailSeen, "email_seen"),
        (ClientFeature::Cents, "cents"),
        (ClientFeature::D4n, "D4n"),
        (ClientFeature::D6n, "D6n"),
        (ClientFeature::D7n, "D7n"),
        (ClientFeature::D8n, "D8n"),
        (ClientFeature::D10n, "D10n"),
        (ClientFeature::D11n, "D11n"),
        (ClientFeature::D12n, "D12n"),
        (ClientFeature::D13n, "D13n"),
        (ClientFeature::D14n, "D14n"),
        (ClientFeature::D15n, "D15n"),
    ];

    /// The D columns that get a normalised `Dn` feature, in the order of `D4n` … `D15n`.
    pub const NORMALISED_D: [u8; 10] = [4, 6, 7, 8, 10, 11, 12, 13, 14, 15];

    /// The feature with this canonical name, if any.
    pub fn by_name(name: &str) -> Option<ClientFeature> {
        Self::NAMES.iter().find(|(_, n)| *n == name).map(|(f, _)| *f)
    }

    /// The canonical name.
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize].1
    }

    /// The position in a client value slice.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Every feature in canonical order.
    pub fn all() -> impl Iterator<Item = ClientFeature> {
        Self::NAMES.iter().map(|(f, _)| *f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_in_canonical_order_unique_and_round_trip() {
        for (i, (f, name)) in ClientFeature::NAMES.iter().enumerate() {
            assert_eq!(f.index(), i, "{name} is out of order");
            assert_eq!(ClientFeature::by_name(name), Some(*f));
            assert_eq!(f.name(), *name);
        }
        let mut names: Vec<_> = ClientFeature::NAMES.iter().map(|(_, n)| *n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ClientFeature::COUNT);
        assert_eq!(ClientFeature::COUNT, 32);
        assert_eq!(ClientFeature::by_name("card1"), None);
        let d_names: Vec<String> = ClientFeature::NORMALISED_D.iter().map(|d| format!("D{d}n")).collect();
        assert_eq!(
            d_names,
            ClientFeature::all().skip(ClientFeature::D4n.index()).map(|f| f.name()).collect::<Vec<_>>()
        );
    }
}
