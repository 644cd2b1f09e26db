//! One `train_transaction.csv` row from a scheduled event: cards and address from the client, amount, e-mails,
//! distances, C counts, D timedeltas, M flags and V features, with ProductCD-driven missingness.
//!
//! D columns are days since client-level anchors (`D1` since the card was first seen, `D4`/`D10`/`D15`/... since
//! other anchors), so they grow by one per day for a client as in the real data; `D3`/`D5`/`D7` are days since the
//! client's previous transaction. C counts grow with the client's history and jump during a fraud burst.

use std::sync::LazyLock;

use super::amounts::amount;
use super::clients::{Client, Compromise, Event, Population, NONE};
use super::rng::Rng;
use super::tables::{Product, CARD4, CARD6, EMAILS};
use super::timeline::DAY;
use super::vcols::{self, Mask};
use crate::catalog::TRANSACTION;
use crate::record::{Row, AMOUNT_SLOT, DT_SLOT, ID_SLOT, IS_FRAUD_SLOT};

/// Row slots of the transaction columns, resolved once from the catalog.
struct Slots {
    product: usize,
    card: [usize; 6],
    addr: [usize; 2],
    dist: [usize; 2],
    p_email: usize,
    r_email: usize,
    c: [usize; 14],
    d: [usize; 15],
    m: [usize; 9],
    v: [usize; 339],
}

static SLOTS: LazyLock<Slots> = LazyLock::new(|| {
    let s = |name: &str| TRANSACTION.col(name).slot;
    Slots {
        product: s("ProductCD"),
        card: std::array::from_fn(|i| s(&format!("card{}", i + 1))),
        addr: [s("addr1"), s("addr2")],
        dist: [s("dist1"), s("dist2")],
        p_email: s("P_emaildomain"),
        r_email: s("R_emaildomain"),
        c: std::array::from_fn(|i| s(&format!("C{}", i + 1))),
        d: std::array::from_fn(|i| s(&format!("D{}", i + 1))),
        m: std::array::from_fn(|i| s(&format!("M{}", i + 1))),
        v: std::array::from_fn(|i| s(&format!("V{}", i + 1))),
    }
});

/// Typical C1-C14 values per product (W, C, R, H, S): medians of the real data.
const C_TYPICAL: [[f64; 14]; 5] = [
    [1.0, 1.0, 0.0, 0.0, 0.6, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 2.5, 1.0],
    [1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0],
    [1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0],
    [1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0],
    [2.0, 2.0, 0.0, 1.0, 0.0, 0.0, 0.0, 4.0, 0.0, 3.0, 1.0, 0.0, 7.0, 1.0],
];

/// Probability that a row of each product (W, C, R, H, S) has the column (for columns not tied to a V block).
const P_D3: [f64; 5] = [0.95, 0.33, 0.02, 0.02, 0.05];
const P_D5: [f64; 5] = [0.80, 0.38, 0.03, 0.02, 0.0];
const P_D6: [f64; 5] = [0.0, 0.99, 0.08, 0.0, 0.18];
const P_D7: [f64; 5] = [0.0, 0.38, 0.03, 0.0, 0.16];
const P_D8: [f64; 5] = [0.0, 0.35, 0.57, 0.47, 0.82];
const P_D12: [f64; 5] = [0.0, 1.0, 0.0, 0.0, 0.0];
const P_D13: [f64; 5] = [0.0, 0.84, 0.0, 0.02, 0.05];
const P_D14: [f64; 5] = [0.0, 0.77, 0.11, 0.10, 0.08];
const P_D4: [f64; 5] = [0.77, 0.99, 0.05, 0.09, 0.0];
const P_D10: [f64; 5] = [0.995, 1.0, 0.08, 0.07, 0.13];
const P_D15: [f64; 5] = [0.995, 1.0, 0.08, 0.08, 0.24];
const P_DIST2: [f64; 5] = [0.0, 0.42, 0.14, 0.02, 0.39];

/// Which block masks a row has; shared by the D/M columns and the V blocks they line up with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Masks {
    d11: bool,
    d10: bool,
    d4: bool,
    v53: bool,
    d15: bool,
    hrs: bool,
    identity: bool,
    identity2: bool,
}

impl Masks {
    fn has(&self, mask: Mask) -> bool {
        match mask {
            Mask::D11 => self.d11,
            Mask::D10 => self.d10,
            Mask::D4 => self.d4,
            Mask::V53 => self.v53,
            Mask::D15 => self.d15,
            Mask::Always => true,
            Mask::Hrs => self.hrs,
            Mask::Identity => self.identity,
            Mask::Identity2 => self.identity2,
        }
    }
}

fn set_str(row: &mut Row, slot: usize, value: Option<&'static str>) {
    row.strs[slot] = value.map(Into::into);
}

fn tf(value: bool) -> Option<&'static str> {
    Some(if value { "T" } else { "F" })
}

/// Fills `row` (every slot is overwritten) with transaction `index` of the population; returns whether the
/// transaction has an identity row.
pub(crate) fn fill_transaction(
    rng: &mut Rng,
    pop: &Population,
    index: usize,
    first_id: i64,
    row: &mut Row,
    v_buf: &mut [f64; 339],
) -> bool {
    let s = &*SLOTS;
    let e: &Event = &pop.events[index];
    let client: &Client = &pop.clients[e.client as usize];
    let card = &pop.cards.cards[client.card as usize];
    let p = client.product.index();
    let fraud = e.fraud;
    let takeover = fraud && matches!(client.compromise, Compromise::At(_));
    let dt = e.dt as i64;
    let day = dt / DAY;

    row.nums.fill(f64::NAN);
    row.strs.fill(None);
    row.nums[ID_SLOT] = (first_id + index as i64) as f64;
    row.nums[IS_FRAUD_SLOT] = if fraud { 1.0 } else { 0.0 };
    row.nums[DT_SLOT] = dt as f64;
    let amt = amount(rng, client, fraud);
    row.nums[AMOUNT_SLOT] = amt;
    set_str(row, s.product, Some(client.product.code()));

    row.nums[s.card[0]] = card.card1 as f64;
    row.nums[s.card[1]] = card.card2;
    row.nums[s.card[2]] = card.card3;
    set_str(row, s.card[3], Some(CARD4[card.card4 as usize].0));
    row.nums[s.card[4]] = card.card5;
    set_str(row, s.card[5], Some(CARD6[card.card6 as usize].0));
    row.nums[s.addr[0]] = client.addr1;
    row.nums[s.addr[1]] = client.addr2;

    // Distances: a fraudster is usually far from the cardholder's address.
    let distance = |rng: &mut Rng| {
        if takeover && rng.chance(0.7) {
            rng.lognormal(150.0, 1.2).floor().min(10_000.0)
        } else {
            (client.dist * rng.lognormal(1.0, 0.3)).floor().min(10_000.0)
        }
    };
    if client.product == Product::W && rng.chance(0.55) {
        row.nums[s.dist[0]] = distance(rng);
    }
    if rng.chance(P_DIST2[p]) && !client.dist.is_nan() {
        row.nums[s.dist[1]] = distance(rng);
    }

    // E-mails: after a takeover the fraudster often registers their own address.
    let email = if takeover { client.fraud_email } else { client.email };
    if email != NONE {
        set_str(row, s.p_email, Some(EMAILS[email as usize].0));
    }
    if client.r_email != NONE {
        let r = if takeover && email != NONE && rng.chance(0.5) { email } else { client.r_email };
        set_str(row, s.r_email, Some(EMAILS[r as usize].0));
    }

    // C1-C14: counts that grow with the client's history and spike in a burst.
    let d1 = day - client.first_day;
    let history = e.seq as f64 + d1 as f64 / 60.0;
    let burst = 1.0 + 0.35 * (e.n24 as f64 - 1.0);
    let level = client.c_level * (1.0 + 0.2 * (1.0 + history).ln()) * burst;
    for (k, slot) in s.c.iter().enumerate() {
        let typical = C_TYPICAL[p][k];
        let v = if typical == 0.0 {
            if rng.chance(0.06 * burst.min(5.0)) {
                1.0 + rng.exp(1.0 * burst).floor()
            } else {
                0.0
            }
        } else {
            let sigma = if k == 12 { 1.0 } else { 0.45 };
            (typical * level * rng.lognormal(1.0, sigma)).round()
        };
        row.nums[*slot] = if k == 2 { v.min(3.0) } else { v.min(5000.0) };
    }

    // Block masks shared by D, M and V columns.
    let identity = client.identity && rng.chance(0.97);
    let masks = Masks {
        d11: rng.chance(client.verified),
        d10: rng.chance(P_D10[p]),
        d4: rng.chance(P_D4[p]),
        v53: false,
        d15: rng.chance(P_D15[p]),
        hrs: matches!(client.product, Product::H | Product::R | Product::S),
        identity: identity && (client.product != Product::C || rng.chance(0.86)),
        identity2: false,
    };
    let masks = Masks { v53: masks.d10 && !rng.chance(0.01), identity2: masks.identity && !rng.chance(0.01), ..masks };

    // D columns.
    let since = |anchor: i64| (day - anchor).max(0) as f64;
    let gap_days = (e.prev_gap != u32::MAX).then_some((e.prev_gap as i64 / DAY) as f64);
    if !rng.chance(0.002) {
        row.nums[s.d[0]] = d1 as f64;
    }
    if d1 > 0 {
        row.nums[s.d[1]] = d1 as f64;
    }
    let recent =
        |rng: &mut Rng| gap_days.or_else(|| (d1 > 0 && rng.chance(0.5)).then(|| rng.range(0, d1.min(60)) as f64));
    if rng.chance(P_D3[p]) {
        row.nums[s.d[2]] = recent(rng).unwrap_or(f64::NAN);
    }
    if masks.d4 {
        row.nums[s.d[3]] = since(client.anchors[0]);
    }
    if rng.chance(P_D5[p]) {
        row.nums[s.d[4]] = recent(rng).map_or(f64::NAN, |g| g + rng.exp(2.0).floor());
    }
    if rng.chance(P_D6[p]) {
        row.nums[s.d[5]] = since(client.anchors[1]);
    }
    if rng.chance(P_D7[p]) {
        row.nums[s.d[6]] = recent(rng).unwrap_or(0.0);
    }
    if rng.chance(P_D8[p]) {
        let frac = ((dt % DAY) / 3600) as f64 / 24.0;
        let frac = (frac * 1e6).round() / 1e6;
        row.nums[s.d[7]] = ((since(client.anchors[2]) + frac) as f32) as f64;
        row.nums[s.d[8]] = (frac as f32) as f64;
    }
    if masks.d10 {
        row.nums[s.d[9]] = since(client.anchors[3]);
    }
    if masks.d11 {
        row.nums[s.d[10]] = since(client.anchors[4]);
    }
    if rng.chance(P_D12[p]) {
        row.nums[s.d[11]] = since(client.anchors[5]);
    }
    if rng.chance(P_D13[p]) {
        row.nums[s.d[12]] = since(client.anchors[6]);
    }
    if rng.chance(P_D14[p]) {
        row.nums[s.d[13]] = since(client.anchors[7]);
    }
    if masks.d15 {
        row.nums[s.d[14]] = since(client.anchors[3].min(client.anchors[0]).min(client.first_day));
    }

    // M1-M9: match flags (product W; M4 also C). A fraudster's details match the card's less often.
    let mismatch = |rng: &mut Rng, habit: bool| if takeover && rng.chance(0.4) { !habit } else { habit };
    if masks.d11 {
        set_str(row, s.m[0], tf(!rng.chance(0.0005)));
        let m2 = mismatch(rng, client.m[0]);
        set_str(row, s.m[1], tf(m2));
        let m3 = mismatch(rng, client.m[1]);
        set_str(row, s.m[2], tf(m3));
    }
    let m45 = client.product == Product::C || (client.product == Product::W && rng.chance(0.55));
    if m45 {
        let m4 = if fraud && rng.chance(0.3) { 2 } else { client.m4 };
        set_str(row, s.m[3], Some(["M0", "M1", "M2"][m4 as usize]));
    }
    if client.product == Product::W {
        if m45 {
            let m5 = if fraud && rng.chance(0.3) { true } else { client.m[2] };
            set_str(row, s.m[4], tf(m5));
        }
        if rng.chance(0.96) {
            let m6 = if fraud && rng.chance(0.3) { false } else { client.m[3] };
            set_str(row, s.m[5], tf(m6));
        }
        if rng.chance(0.55) {
            set_str(row, s.m[6], tf(rng.chance(0.14)));
            set_str(row, s.m[7], tf(rng.chance(0.37)));
            set_str(row, s.m[8], tf(rng.chance(0.84)));
        }
    }

    // V1-V339.
    let velocity = 1.0 - 0.75f64.powi(e.n24 as i32 - 1);
    vcols::fill(rng, |m| masks.has(m), velocity, amt, v_buf);
    for (slot, v) in s.v.iter().zip(v_buf.iter()) {
        row.nums[*slot] = *v;
    }
    identity
}
