//! TransactionAmt: each client spends around its own usual amount, fraudsters around a different one.
//!
//! Product W amounts are a mix of the client's favourite price, popular price points and free amounts with shop-like
//! endings (.0, .95, .99, .50, cents); product C amounts are converted from another currency, so most have three
//! decimals; H, R and S amounts are round denominations. The overall distribution matches the real one (0.25 to
//! 31,937, median ~69, p75 ~125, p99 ~1,100), and a fraud amount differs from the client's usual amount, which is what
//! makes per-client amount statistics (mean, std, deviation) useful to a model.

use super::clients::Client;
use super::rng::Rng;
use super::tables::Product;

/// Smallest and largest amounts in the real training set.
const MIN_AMOUNT: f64 = 0.251;
const MAX_AMOUNT: f64 = 31_937.391;

/// Popular product-W prices.
const W_PRICES: &[f64] =
    &[29.0, 30.0, 39.0, 49.0, 50.0, 57.95, 59.0, 100.0, 107.95, 117.0, 150.0, 200.0, 226.0, 25.0, 35.95, 47.95, 77.0];
const H_PRICES: &[f64] = &[15.0, 20.0, 25.0, 30.0, 35.0, 40.0, 50.0, 75.0, 100.0, 125.0, 150.0, 200.0, 250.0, 300.0];
const R_PRICES: &[f64] =
    &[25.0, 50.0, 75.0, 100.0, 125.0, 150.0, 175.0, 200.0, 250.0, 300.0, 350.0, 400.0, 500.0, 600.0, 750.0, 1000.0];
const S_PRICES: &[f64] =
    &[5.0, 6.0, 7.0, 8.0, 10.0, 12.0, 15.0, 20.0, 25.0, 30.0, 35.0, 40.0, 50.0, 60.0, 75.0, 100.0, 150.0, 200.0];

fn round_to(x: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (x * f).round() / f
}

/// A shop-like price near `x`; `u` in [0, 1) picks the ending.
fn shop_price(x: f64, u: f64) -> f64 {
    match u {
        u if u < 0.45 => x.round().max(1.0),
        u if u < 0.53 => x.floor() + 0.95,
        u if u < 0.57 => x.floor() + 0.99,
        u if u < 0.63 => x.floor() + 0.5,
        _ => round_to(x, 2),
    }
}

fn nearest(points: &[f64], x: f64) -> f64 {
    points.iter().copied().min_by(|a, b| (a - x).abs().total_cmp(&(b - x).abs())).unwrap_or(x)
}

/// The client's favourite product-W price: the same every time, derived from its usual amount.
fn favourite(client: &Client) -> f64 {
    let u = (client.amount.to_bits() >> 20) as f64 % 1000.0 / 1000.0;
    shop_price(client.amount, u)
}

/// The amount of one transaction of `client`; `fraud` transactions spend around the fraudster's amount.
pub(crate) fn amount(rng: &mut Rng, client: &Client, fraud: bool) -> f64 {
    let center = if fraud { client.fraud_amount } else { client.amount };
    let x = match client.product {
        Product::W => {
            let u = rng.f64();
            if u < 0.012 {
                // The heavy tail: electronics, travel, the odd five-figure purchase.
                round_to(rng.lognormal(1100.0, 0.7), 2)
            } else if !fraud && u < 0.3 {
                favourite(client)
            } else if u < 0.45 {
                W_PRICES[rng.below(W_PRICES.len() as u64) as usize]
            } else {
                shop_price(center * (0.5 * rng.normal()).exp(), rng.f64())
            }
        }
        Product::C => {
            let x = center * (0.6 * rng.normal()).exp();
            if rng.chance(0.78) {
                round_to(x, 3)
            } else {
                round_to(x, 2)
            }
        }
        Product::H => nearest(H_PRICES, center * (0.35 * rng.normal()).exp()),
        Product::R => nearest(R_PRICES, center * (0.35 * rng.normal()).exp()),
        Product::S => nearest(S_PRICES, center * (0.4 * rng.normal()).exp()),
    };
    x.clamp(MIN_AMOUNT, MAX_AMOUNT)
}
