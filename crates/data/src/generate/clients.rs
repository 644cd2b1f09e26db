//! The client population and its transaction schedule, decided before any row is written.
//!
//! A *client* is what the real data's client key identifies: one card (card1-card6) at one address (addr1/addr2)
//! first seen on one day (`first_day`, so that `D1 = day - first_day`). Each client has a product, an active window
//! within the 182 days, a number of transactions, habitual attributes (e-mail, device, usual amount, time of day) and
//! possibly a compromise:
//!
//! - *fraud account* (compromised from its first transaction): every transaction is fraud and uses fraudsters'
//!   e-mails, devices, hours and amounts;
//! - *takeover* at time T: a burst of transactions right after T, minutes to hours apart, often on a new device or
//!   e-mail, at fraudsters' hours and unusual amounts; the client's later legitimate-looking transactions until the
//!   card is blocked are labelled fraud too (the real labelling rule), then the client stops.
//!
//! Compromise probability depends on product, card network and card type, so fraud is learnable from those columns
//! as well as from client history (bursts, novelty, deviation from the usual amount). Because everything that spans
//! rows is fixed here, rows can then be generated in parallel chunks that do not depend on each other.

use std::sync::LazyLock;

use super::rng::{mix, Rng, Stream};
use super::tables::{Product, ADDR1_HEAD, CARD4, CARD5, CARD6, DEVICES, EMAILS, ID13, TIMEZONES};
use super::timeline::{day_at, sample_time_in_day, DAY, DAYS, END_DT};

/// Share of *clients* per product, chosen so that the share of *transactions* matches the real mix
/// (W 74.5%, C 11.6%, R 6.4%, H 5.6%, S 2.0%) given each product's transactions per client.
const PRODUCT_CLIENTS: [(Product, f64); 5] =
    [(Product::W, 65.0), (Product::C, 6.4), (Product::R, 12.2), (Product::H, 10.2), (Product::S, 2.5)];

/// Probability that a client of each product (W, C, R, H, S) is ever compromised, before card multipliers.
const COMPROMISE: [f64; 5] = [0.0142, 0.082, 0.0135, 0.017, 0.031];

/// Share of compromised clients that are fraud accounts from their first transaction (W, C, R, H, S).
const FRAUD_ACCOUNT: [f64; 5] = [0.35, 0.55, 0.6, 0.7, 0.5];

/// Share of clients whose card is new on their first transaction in the window, i.e. `D1 = 0` (W, C, R, H, S).
const NEW_CARD: [f64; 5] = [0.65, 0.9, 0.92, 0.99, 0.5];

/// Sentinel for "no value" in small index fields.
pub(crate) const NONE: u8 = u8::MAX;

/// Card attributes shared by every client holding a card1 value (card1 behaves like an issuer/BIN range).
#[derive(Debug, Clone)]
pub(crate) struct Card {
    pub(crate) card1: u16,
    /// NaN when missing.
    pub(crate) card2: f64,
    pub(crate) card3: f64,
    /// Index into [`CARD4`].
    pub(crate) card4: u8,
    pub(crate) card5: f64,
    /// Index into [`CARD6`].
    pub(crate) card6: u8,
}

/// The card1 table: ~13,550 distinct card1 values with Zipf-like popularity, split into domestic (card3 mostly
/// 150) and foreign (card3 mostly 185, used by product C) cards.
pub(crate) struct Cards {
    pub(crate) cards: Vec<Card>,
    domestic: (Vec<u32>, Vec<f64>),
    foreign: (Vec<u32>, Vec<f64>),
}

impl Cards {
    pub(crate) fn build(seed: u64) -> Cards {
        let mut rng = Rng::derive(seed, Stream::Cards, 0);
        let mut values: Vec<u16> = (1000..=18396u16).filter(|_| rng.chance(13_550.0 / 17_397.0)).collect();
        // Popularity rank: a seeded shuffle, so popular card1 values are spread over the range.
        for i in (1..values.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            values.swap(i, j);
        }
        let mut cards = Vec::with_capacity(values.len());
        let (mut domestic, mut foreign) = ((Vec::new(), Vec::new()), (Vec::new(), Vec::new()));
        let (mut dom_total, mut for_total) = (0.0, 0.0);
        for (rank, &card1) in values.iter().enumerate() {
            let is_foreign = rng.chance(0.1);
            let card2 = if rng.chance(0.016) { f64::NAN } else { rng.range(100, 600) as f64 };
            let card3 = if is_foreign {
                *rng.pick(&[
                    (185.0, 75.0),
                    (119.0, 5.0),
                    (144.0, 5.0),
                    (146.0, 4.0),
                    (147.0, 3.0),
                    (162.0, 3.0),
                    (102.0, 2.0),
                    (106.0, 3.0),
                ])
            } else {
                *rng.pick(&[(150.0, 97.0), (143.0, 0.8), (144.0, 0.6), (117.0, 0.5), (146.0, 0.6), (119.0, 0.5)])
            };
            let card4 = pick_index(&mut rng, CARD4.iter().map(|c| c.1));
            let card5 = if rng.chance(0.1) {
                rng.range(100, 237) as f64
            } else {
                *rng.pick(&CARD5.iter().map(|&(v, w)| (v as f64, w)).collect::<Vec<_>>())
            };
            let card6 =
                if is_foreign && rng.chance(0.15) { 1 } else { pick_index(&mut rng, CARD6.iter().map(|c| c.1)) };
            let weight = 1.0 / (rank as f64 + 5.0);
            let index = cards.len() as u32;
            if is_foreign {
                for_total += weight;
                foreign.0.push(index);
                foreign.1.push(for_total);
            } else {
                dom_total += weight;
                domestic.0.push(index);
                domestic.1.push(dom_total);
            }
            cards.push(Card { card1, card2, card3, card4, card5, card6 });
        }
        Cards { cards, domestic, foreign }
    }

    fn sample(&self, rng: &mut Rng, foreign: bool) -> u32 {
        let (index, cum) = if foreign { &self.foreign } else { &self.domestic };
        index[rng.pick_cumulative(cum)]
    }
}

fn pick_index(rng: &mut Rng, weights: impl Iterator<Item = f64> + Clone) -> u8 {
    let total: f64 = weights.clone().sum();
    let mut x = rng.f64() * total;
    let mut last = 0;
    for (i, w) in weights.enumerate() {
        if x < w {
            return i as u8;
        }
        x -= w;
        last = i;
    }
    last as u8
}

/// addr1 codes other than the frequent ones: about 310 codes in 100..=540.
static ADDR1_TAIL: LazyLock<Vec<u16>> = LazyLock::new(|| {
    (100..=540u16).filter(|v| mix(*v as u64) % 10 < 7 && !ADDR1_HEAD.iter().any(|(a, _)| a == v)).collect()
});

/// A device as seen in identity rows; indexes point into the family's tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Device {
    pub(crate) family: u8,
    /// DeviceInfo index, [`NONE`] when the device does not report it.
    pub(crate) info: u8,
    pub(crate) os: u8,
    pub(crate) browser: u8,
    pub(crate) screen: u8,
    pub(crate) id17: u16,
    pub(crate) id19: u16,
    pub(crate) id20: u16,
    /// Index into [`TIMEZONES`], [`NONE`] when not reported.
    pub(crate) timezone: u8,
    /// Index into [`ID13`], [`NONE`] when not reported.
    pub(crate) id13: u8,
}

impl Device {
    fn sample(rng: &mut Rng, fraud: bool) -> Device {
        let family = pick_index(rng, DEVICES.iter().map(|(_, share, risk)| if fraud { share * risk } else { *share }));
        let f = &DEVICES[family as usize].0;
        let info = if rng.chance(if fraud { 0.08 } else { 0.11 }) {
            NONE
        } else {
            pick_index(rng, f.infos.iter().map(|x| x.1))
        };
        Device {
            family,
            info,
            os: pick_index(rng, f.oses.iter().map(|x| x.1)),
            browser: pick_index(rng, f.browsers.iter().map(|x| x.1)),
            screen: pick_index(rng, f.screens.iter().map(|x| x.1)),
            id17: if rng.chance(0.57) {
                166
            } else if rng.chance(0.93) {
                225
            } else {
                [121, 102, 100][rng.below(3) as usize]
            },
            id19: if rng.chance(0.3) {
                [266, 215, 410, 529, 100, 312, 193][rng.below(7) as usize]
            } else {
                rng.range(100, 669) as u16
            },
            id20: if rng.chance(0.3) {
                [507, 325, 533, 222, 401, 595][rng.below(6) as usize]
            } else {
                rng.range(100, 638) as u16
            },
            timezone: if rng.chance(0.06) { NONE } else { pick_index(rng, TIMEZONES.iter().map(|x| x.1)) },
            id13: if rng.chance(0.12) { NONE } else { pick_index(rng, ID13.iter().map(|x| x.1)) },
        }
    }
}

/// How and when a client is compromised.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Compromise {
    None,
    /// The client is a fraudster's account: every transaction is fraud.
    FromStart,
    /// Taken over at this TransactionDT: this and every later transaction is fraud.
    At(i64),
}

/// One client: card, address, first-seen day, habits and compromise. See the module doc.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    pub(crate) product: Product,
    /// Index into [`Cards::cards`].
    pub(crate) card: u32,
    /// NaN when missing (always for product C).
    pub(crate) addr1: f64,
    pub(crate) addr2: f64,
    /// Day the card was first seen (may precede the data); `D1 = floor(TransactionDT / 86400) - first_day`.
    pub(crate) first_day: i64,
    /// Days the D4, D6, D10, D11, D12, D13, D14, D15 timedeltas count from.
    pub(crate) anchors: [i64; 8],
    /// Index into [`EMAILS`] or [`NONE`].
    pub(crate) email: u8,
    pub(crate) r_email: u8,
    /// E-mail used after a takeover (may equal `email`).
    pub(crate) fraud_email: u8,
    pub(crate) identity: bool,
    pub(crate) device: Device,
    /// Device used after a takeover (may equal `device`).
    pub(crate) fraud_device: Device,
    /// Median of the client's usual amounts.
    pub(crate) amount: f64,
    /// Median of the amounts a fraudster spends with this client's card.
    pub(crate) fraud_amount: f64,
    /// Scale of the C1-C14 counts.
    pub(crate) c_level: f64,
    /// Usual distance (dist1/dist2), NaN when the client's product never reports it.
    pub(crate) dist: f64,
    /// Probability that a transaction carries the M1-M3/D11/V1-11 verification block.
    pub(crate) verified: f64,
    /// The client's usual answers to M2, M3, M5, M6 (true = "T") and M4 (0..=2).
    pub(crate) m: [bool; 4],
    pub(crate) m4: u8,
    pub(crate) compromise: Compromise,
}

/// One scheduled transaction: whose it is, when, and what the client's history looks like at that moment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Event {
    pub(crate) dt: u32,
    pub(crate) client: u32,
    /// Index of this transaction among the client's transactions (0 = first in the data).
    pub(crate) seq: u32,
    /// Seconds since the client's previous transaction, `u32::MAX` for the first.
    pub(crate) prev_gap: u32,
    /// The client's transactions in the 24 hours up to and including this one.
    pub(crate) n24: u16,
    /// Index among the client's fraud transactions (meaningful when `fraud`).
    pub(crate) fraud_seq: u16,
    pub(crate) fraud: bool,
}

/// Clients plus all scheduled transactions in TransactionID order.
pub(crate) struct Population {
    pub(crate) cards: Cards,
    pub(crate) clients: Vec<Client>,
    pub(crate) events: Vec<Event>,
}

impl Population {
    /// Creates clients until they have exactly `rows` transactions, then orders all transactions by time.
    pub(crate) fn build(seed: u64, rows: u64) -> Population {
        let cards = Cards::build(seed);
        let mut clients = Vec::new();
        let mut events: Vec<Event> = Vec::with_capacity(rows as usize + 64);
        let mut times = Vec::new();
        let mut draws = 0u64;
        while (events.len() as u64) < rows {
            let mut rng = Rng::derive(seed, Stream::Client, draws);
            draws += 1;
            // A client whose activity window lies mostly outside the period may have no transaction in it.
            let Some(client) = new_client(&mut rng, &cards, &mut times) else { continue };
            let remaining = rows as usize - events.len();
            times.truncate(remaining);
            push_events(&client, clients.len() as u32, &times, &mut events);
            clients.push(client);
        }
        events.sort_unstable_by_key(|e| (e.dt, e.client, e.seq));
        // The real file starts exactly at TransactionDT 86,400.
        if let Some(first) = events.first_mut() {
            if (first.dt as i64) < 2 * DAY {
                first.dt = DAY as u32;
            }
        }
        Population { cards, clients, events }
    }
}

/// Number of legitimate transactions of a new client of `product`.
fn transaction_count(rng: &mut Rng, product: Product) -> usize {
    let n = match product {
        Product::W => {
            if rng.chance(0.42) {
                1.0
            } else {
                1.0 + rng.pareto(1.35).floor()
            }
        }
        Product::C => {
            if rng.chance(0.35) {
                1.0
            } else {
                1.0 + rng.pareto(1.1).floor()
            }
        }
        Product::S => 1.0 + rng.exp(1.2).floor(),
        Product::R | Product::H => 1.0 + rng.exp(0.5).floor(),
    };
    n.min(1500.0) as usize
}

fn new_client(rng: &mut Rng, cards: &Cards, times: &mut Vec<i64>) -> Option<Client> {
    let product = *rng.pick(&PRODUCT_CLIENTS);
    let p = product.index();
    let foreign = rng.chance(if product == Product::C { 0.8 } else { 0.03 });
    let card = cards.sample(rng, foreign);
    let c = &cards.cards[card as usize];
    let (addr1, addr2) = if product == Product::C || rng.chance(0.012) {
        (f64::NAN, f64::NAN)
    } else {
        let a1 = if rng.chance(0.55) {
            *rng.pick(ADDR1_HEAD) as f64
        } else {
            ADDR1_TAIL[rng.below(ADDR1_TAIL.len() as u64) as usize] as f64
        };
        let a2 = if rng.chance(if foreign { 0.8 } else { 0.997 }) {
            87.0
        } else {
            [60.0, 96.0, 32.0, 65.0, 16.0, 31.0, 19.0, 26.0, 27.0, 69.0][rng.below(10) as usize]
        };
        (a1, a2)
    };

    // Compromise: product base rate times card network and card type propensities (normalised to mean ~1).
    let risk = CARD4[c.card4 as usize].2 * CARD6[c.card6 as usize].2 / 1.4;
    let compromised = rng.chance((COMPROMISE[p] * risk).min(0.9));
    let fraud_account = compromised && rng.chance(FRAUD_ACCOUNT[p]);

    // Active window, laid out uniformly in volume time (see `timeline::day_at`); transactions falling outside the
    // period are dropped rather than squeezed in, so the edges of the period are not overcrowded.
    let n = transaction_count(rng, product);
    let span = match product {
        Product::H | Product::R => 0.0,
        Product::S => rng.exp(2.0),
        _ if n == 1 || rng.chance(0.2) => 0.0,
        _ => rng.lognormal(8.0 + 2.5 * n as f64, 0.9).min(DAYS as f64),
    } / DAYS as f64;
    let start = rng.f64() * (1.0 + span) - span;
    times.clear();
    for _ in 0..n {
        let x = start + rng.f64() * span;
        if (0.0..1.0).contains(&x) {
            times.push(sample_time_in_day(rng, day_at(x), fraud_account));
        }
    }
    if times.is_empty() {
        return None;
    }
    times.sort_unstable();

    let compromise = if fraud_account {
        add_burst(rng, times, times[0]);
        Compromise::FromStart
    } else if compromised {
        let first_day = times[0] / DAY;
        let last_day = (times[times.len() - 1] / DAY + 3).min(DAYS);
        let day = rng.range(first_day, last_day);
        let t = sample_time_in_day(rng, day, true).max(times[0] + 1);
        if t < END_DT {
            // The card is blocked some days after the takeover: later transactions never happen.
            let blocked = t + rng.exp(4.0 * DAY as f64) as i64;
            times.retain(|&x| x < blocked);
            add_burst(rng, times, t);
            Compromise::At(t)
        } else {
            Compromise::None
        }
    } else {
        Compromise::None
    };

    let first_tx_day = times[0] / DAY;
    let last_tx_day = times[times.len() - 1] / DAY;
    let first_day = if rng.chance(NEW_CARD[p]) {
        first_tx_day
    } else {
        first_tx_day - 1 - (rng.exp(150.0) as i64).min(600 - (last_tx_day - first_tx_day)).max(0)
    };
    let mut anchors = [0i64; 8];
    for a in anchors.iter_mut() {
        *a = if matches!(product, Product::W) && rng.chance(0.55) {
            first_day - (rng.exp(70.0) as i64).min(620 - (last_tx_day - first_day)).max(0)
        } else if rng.chance(0.5) {
            first_day + rng.range(0, first_tx_day - first_day)
        } else {
            first_tx_day
        };
    }

    let fraud_email_pick = |rng: &mut Rng| pick_index(rng, EMAILS.iter().map(|e| e.1 * e.2));
    let normal_email_pick = |rng: &mut Rng| pick_index(rng, EMAILS.iter().map(|e| e.1));
    let email_missing = [0.19, 0.01, 0.0, 0.0, 0.92][p];
    let email = if rng.chance(email_missing) {
        NONE
    } else if fraud_account {
        fraud_email_pick(rng)
    } else {
        normal_email_pick(rng)
    };
    let fraud_email = if matches!(compromise, Compromise::At(_)) && email != NONE && rng.chance(0.5) {
        fraud_email_pick(rng)
    } else {
        email
    };
    let r_present = [0.0, 0.97, 1.0, 0.28, 0.97][p];
    let r_email = if !rng.chance(r_present) {
        NONE
    } else if email != NONE && rng.chance(0.6) {
        email
    } else {
        normal_email_pick(rng)
    };

    let identity = match product {
        Product::W => false,
        Product::C => rng.chance(0.93),
        _ => true,
    };
    let device = Device::sample(rng, fraud_account);
    let fraud_device =
        if matches!(compromise, Compromise::At(_)) && rng.chance(0.6) { Device::sample(rng, true) } else { device };

    let (amount, fraud_amount) = match product {
        Product::W => (rng.lognormal(72.0, 0.95), rng.lognormal(115.0, 1.2)),
        Product::C => (rng.lognormal(28.0, 0.8), rng.lognormal(60.0, 0.9)),
        Product::H => (rng.lognormal(50.0, 0.5), rng.lognormal(90.0, 0.7)),
        Product::R => (rng.lognormal(125.0, 0.5), rng.lognormal(200.0, 0.6)),
        Product::S => (rng.lognormal(22.0, 0.6), rng.lognormal(40.0, 0.8)),
    };
    let (amount, fraud_amount) = if fraud_account { (fraud_amount, fraud_amount) } else { (amount, fraud_amount) };
    let dist = if product == Product::W || product == Product::C || product == Product::S || product == Product::R {
        rng.lognormal(9.0, 1.5).floor()
    } else {
        f64::NAN
    };
    let verified = if product == Product::W {
        if rng.chance(0.71) {
            0.97
        } else {
            0.03
        }
    } else {
        0.0
    };
    let m = [rng.chance(0.88), rng.chance(0.79), rng.chance(0.45), rng.chance(0.46)];
    let m4 = if product == Product::C {
        *rng.pick(&[(0u8, 30.0), (1, 15.0), (2, 55.0)])
    } else {
        *rng.pick(&[(0u8, 70.0), (1, 15.0), (2, 15.0)])
    };

    Some(Client {
        product,
        card,
        addr1,
        addr2,
        first_day,
        anchors,
        email,
        r_email,
        fraud_email,
        identity,
        device,
        fraud_device,
        amount,
        fraud_amount,
        c_level: rng.lognormal(1.0, 0.6),
        dist,
        verified,
        m,
        m4,
        compromise,
    })
}

/// Adds a fraud burst starting at `start`: 1 to ~10 transactions minutes to hours apart, then re-sorts.
fn add_burst(rng: &mut Rng, times: &mut Vec<i64>, start: i64) {
    let count = 1 + rng.exp(2.2) as usize;
    let mut t = start;
    times.push(t);
    for _ in 1..count.min(25) {
        t += 60 + rng.exp(1.5 * 3600.0) as i64;
        if t >= END_DT {
            break;
        }
        times.push(t);
    }
    times.sort_unstable();
}

/// Appends a client's transactions as events, with their per-client history.
fn push_events(client: &Client, index: u32, times: &[i64], events: &mut Vec<Event>) {
    let mut window_start = 0;
    let mut fraud_seq = 0u16;
    for (seq, &t) in times.iter().enumerate() {
        while times[window_start] <= t - DAY {
            window_start += 1;
        }
        let fraud = match client.compromise {
            Compromise::None => false,
            Compromise::FromStart => true,
            Compromise::At(at) => t >= at,
        };
        events.push(Event {
            dt: t as u32,
            client: index,
            seq: seq as u32,
            prev_gap: if seq == 0 { u32::MAX } else { (t - times[seq - 1]) as u32 },
            n24: (seq + 1 - window_start).min(u16::MAX as usize) as u16,
            fraud_seq,
            fraud,
        });
        if fraud {
            fraud_seq = fraud_seq.saturating_add(1);
        }
    }
}
