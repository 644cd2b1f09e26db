//! One `train_identity.csv` row: the device and browser fingerprint of a transaction.
//!
//! A client uses its habitual device; after a takeover the fraudster often uses a new one. The `Found`/`New`
//! columns (id_12, id_15, id_16, id_28, id_29) say whether the device/account was seen before, so a fraudster's new
//! device shows up as `New`/`NotFound` — a learnable signal, as in the real data. Product C rows report no OS, colour
//! depth, screen or match status (id_30, id_32-id_34) and rarely a timezone (id_14), as in the real data.

use std::sync::LazyLock;

use super::clients::{Client, Compromise, Event, NONE};
use super::rng::Rng;
use super::tables::{Product, DEVICES, ID01, ID13, TIMEZONES};
use crate::catalog::IDENTITY;
use crate::record::{Row, ID_SLOT};

/// Row slots of id_01..id_38, DeviceType, DeviceInfo.
struct Slots {
    id: [usize; 38],
    device_type: usize,
    device_info: usize,
}

static SLOTS: LazyLock<Slots> = LazyLock::new(|| Slots {
    id: std::array::from_fn(|i| IDENTITY.col(&format!("id_{:02}", i + 1)).slot),
    device_type: IDENTITY.col("DeviceType").slot,
    device_info: IDENTITY.col("DeviceInfo").slot,
});

fn found(seen: bool) -> Option<&'static str> {
    Some(if seen { "Found" } else { "NotFound" })
}

/// Fills `row` (every slot is overwritten) with the identity row of transaction `transaction_id`.
pub(crate) fn fill_identity(rng: &mut Rng, client: &Client, e: &Event, transaction_id: i64, row: &mut Row) {
    let s = &*SLOTS;
    row.nums.fill(f64::NAN);
    row.strs.fill(None);
    row.nums[ID_SLOT] = transaction_id as f64;
    let takeover = e.fraud && matches!(client.compromise, Compromise::At(_));
    let device = if takeover { client.fraud_device } else { client.device };
    // Seen before: the habitual device after the client's first transaction; a fraudster's new device after its
    // first fraud transaction.
    let seen = if takeover && device != client.device { e.fraud_seq > 0 } else { e.seq > 0 };
    let seen = if rng.chance(0.08) { !seen } else { seen };
    let family = &DEVICES[device.family as usize].0;
    let is_c = client.product == Product::C;
    let num = |row: &mut Row, id: usize, v: f64| row.nums[s.id[id - 1]] = v;
    let text = |row: &mut Row, id: usize, v: Option<&'static str>| row.strs[s.id[id - 1]] = v.map(Into::into);

    num(row, 1, *rng.pick(ID01));
    let core = !rng.chance(0.02);
    if core {
        num(row, 2, rng.lognormal(110_000.0, 1.0).round().clamp(1_000.0, 999_595.0));
        num(row, 11, if rng.chance(0.94) { 100.0 } else { (rng.range(9000, 9999) as f64 / 100.0) as f32 as f64 });
        text(
            row,
            15,
            Some(if rng.chance(0.06) {
                "Unknown"
            } else if seen {
                "Found"
            } else {
                "New"
            }),
        );
        text(row, 28, Some(if seen { "Found" } else { "New" }));
        text(row, 29, found(seen));
        text(row, 31, Some(family.browsers[device.browser as usize].0));
        for id in 35..=38 {
            let p_true = [if seen { 0.6 } else { 0.45 }, 0.08, 0.8, if seen { 0.9 } else { 0.8 }][id - 35];
            text(row, id, Some(if rng.chance(p_true) { "T" } else { "F" }));
        }
        text(row, 16, if rng.chance(0.07) { None } else { found(seen) });
        if !rng.chance(0.03) {
            num(row, 17, device.id17 as f64);
            num(row, 19, device.id19 as f64);
            num(row, 20, device.id20 as f64);
        }
    }
    text(row, 12, found(seen && rng.chance(0.3)));
    if rng.chance(0.43) {
        num(row, 3, if rng.chance(0.95) { 0.0 } else { rng.range(1, 5) as f64 });
        num(row, 4, if rng.chance(0.98) { 0.0 } else { -rng.range(1, 5) as f64 });
    }
    if rng.chance(0.49) {
        num(row, 9, if rng.chance(0.93) { 0.0 } else { rng.range(1, 5) as f64 });
        num(row, 10, if rng.chance(0.97) { 0.0 } else { -rng.range(1, 9) as f64 });
    }
    if core && rng.chance(0.97) {
        num(row, 5, if rng.chance(0.7) { 0.0 } else { 1.0 + rng.exp(2.5).floor() });
        num(row, 6, if rng.chance(0.7) { 0.0 } else { -(1.0 + rng.exp(8.0).floor()).min(100.0) });
    }
    if device.id13 != NONE {
        num(row, 13, ID13[device.id13 as usize].0);
    }
    if device.timezone != NONE && (!is_c || rng.chance(0.08)) {
        num(row, 14, TIMEZONES[device.timezone as usize].0);
    }
    if rng.chance(0.25) {
        num(row, 18, [15.0, 13.0, 12.0, 18.0, 20.0, 11.0, 17.0, 21.0, 26.0][rng.below(9) as usize]);
    }
    // The rare proxy block (about 1% of identity rows, more for fraud).
    if rng.chance(if e.fraud { 0.03 } else { 0.008 }) {
        num(row, 7, rng.range(-46, 52) as f64);
        num(row, 8, rng.range(-100, 0) as f64);
        num(row, 21, rng.range(100, 854) as f64);
        num(row, 22, [14.0, 41.0, 33.0, 21.0, 12.0][rng.below(5) as usize]);
        text(row, 23, Some(["IP_PROXY:TRANSPARENT", "IP_PROXY:ANONYMOUS", "IP_PROXY:HIDDEN"][rng.below(3) as usize]));
        num(row, 24, [11.0, 15.0, 16.0][rng.below(3) as usize]);
        num(row, 25, rng.range(100, 548) as f64);
        num(row, 26, rng.range(100, 216) as f64);
        text(row, 27, Some(if rng.chance(0.9) { "Found" } else { "NotFound" }));
    }
    if !is_c && core {
        text(row, 30, Some(family.oses[device.os as usize].0));
        num(row, 32, family.depth);
        if !rng.chance(0.05) {
            text(row, 33, Some(family.screens[device.screen as usize].0));
            let status = *rng.pick(&[
                ("match_status:2", 68.0),
                ("match_status:1", 30.0),
                ("match_status:0", 1.5),
                ("match_status:-1", 0.5),
            ]);
            text(row, 34, Some(status));
        }
    }
    if core {
        row.strs[s.device_type] = Some(if family.mobile { "mobile" } else { "desktop" }.into());
    }
    if device.info != NONE && (!is_c || rng.chance(0.8)) {
        row.strs[s.device_info] = Some(family.infos[device.info as usize].0.into());
    }
}
