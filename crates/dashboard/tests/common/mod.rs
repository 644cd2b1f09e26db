//! A synthetic job for the dashboard tests and the `synthetic_feed` example: a thread that publishes snapshots
//! shaped like a `fraudstream run` over IEEE-CIS data (about 20k tx/s, ~3.5 % alerts, millisecond latencies,
//! delayed labels) and alerts with drivers, deterministic per seed.
#![allow(dead_code)] // each test binary uses a different part

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use fraudstream_dashboard::{
    Alert, Dashboard, DashboardInfo, DriftView, Driver, InputDrift, ModelMonitoring, ModelRole, Monitoring, Quality,
    Snapshot,
};

pub fn info() -> DashboardInfo {
    DashboardInfo {
        title: "fraudstream test".into(),
        model_name: "pipeline_75".into(),
        model_version: "3".into(),
        threshold: 0.5,
    }
}

/// xorshift64*: enough randomness for plausible numbers without a dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next_u64() % items.len() as u64) as usize]
    }
}

/// The running totals of the synthetic job.
pub struct SyntheticJob {
    rng: Rng,
    elapsed: f64,
    scored: f64,
    histogram: Vec<u64>,
    next_id: i64,
}

impl SyntheticJob {
    pub fn new(seed: u64) -> SyntheticJob {
        SyntheticJob { rng: Rng::new(seed), elapsed: 0.0, scored: 0.0, histogram: vec![0; 20], next_id: 2_987_000 }
    }

    /// Advances the job by `dt` seconds and returns its snapshot.
    pub fn step(&mut self, dt: f64) -> Snapshot {
        self.elapsed += dt;
        let r = &mut self.rng;
        let tps = 20_000.0 + 4_000.0 * (self.elapsed / 9.0).sin() + 1_500.0 * (r.unit() - 0.5);
        let batch = (tps * dt).max(0.0);
        self.scored += batch;
        // Scores of fraud models are heavily skewed towards 0: 60 % in the first bucket, then each bucket takes a
        // quarter of what is left, which puts about 3 % at or above 0.5.
        let mut left = batch as u64;
        for (i, bucket) in self.histogram.iter_mut().enumerate() {
            let share = match i {
                0 => 0.6,
                19 => 1.0,
                _ => 0.25,
            };
            let n = ((left as f64) * share) as u64;
            *bucket += n;
            left -= n;
        }
        let scored = self.scored as u64;
        let alerts: u64 = self.histogram[10..].iter().sum();
        let p50 = 4.2 + 0.6 * r.unit() + 0.8 * (self.elapsed / 13.0).sin().abs();
        let labels = (self.scored * 0.6 - 5_000.0).max(0.0) as u64;
        let window = labels.min(10_000);
        let positives = window * 35 / 1000;
        Snapshot {
            elapsed_seconds: self.elapsed,
            transactions_in: scored + 40 + (r.unit() * 200.0) as u64,
            scored,
            alerts,
            dead_letters: scored / 9_000,
            throughput_tps: tps,
            latency_p50_ms: p50,
            latency_p99_ms: p50 * 1.9 + 2.0 * r.unit(),
            latency_max_ms: p50 * 4.0 + 10.0 * r.unit(),
            watermark_lag_seconds: 20.0 + r.unit() * 2.0,
            score_histogram: self.histogram.clone(),
            quality: Quality {
                labels_received: labels,
                window,
                positives,
                negatives: window - positives,
                roc_auc: (window > 0).then(|| 0.9 + 0.02 * r.unit()),
                precision: (window > 0).then(|| 0.42 + 0.06 * r.unit()),
                recall: (window > 0).then(|| 0.58 + 0.05 * r.unit()),
            },
        }
    }

    /// One alert as the job would raise it.
    pub fn alert(&mut self) -> Alert {
        const PRODUCTS: [&str; 5] = ["W", "C", "R", "H", "S"];
        const CARDS: [&str; 4] = ["visa", "mastercard", "discover", "american express"];
        const FEATURES: [(&str, &[&str]); 7] = [
            ("C13", &["1", "14", "187", "503"]),
            ("card6", &["credit", "debit"]),
            ("P_emaildomain", &["gmail.com", "anonymous.com", "hotmail.com", "missing"]),
            ("TransactionAmt", &["49.00", "117.50", "1,020.00"]),
            ("D15", &["0", "3", "missing"]),
            ("V258", &["1", "4", "12"]),
            ("dist1", &["missing", "0", "884"]),
        ];
        self.next_id += 1 + (self.rng.next_u64() % 40) as i64;
        let r = &mut self.rng;
        let score = 0.5 + 0.5 * r.unit().powf(0.7);
        let first = (r.next_u64() % FEATURES.len() as u64) as usize;
        let mut drivers: Vec<Driver> = (0..4)
            .map(|k| {
                let (feature, values) = FEATURES[(first + 2 * k) % FEATURES.len()];
                Driver {
                    feature: feature.to_string(),
                    value: r.pick(values).to_string(),
                    // Mostly pushing towards fraud (that is why it alerted), now and then a feature against it.
                    effect: if k < 3 || r.unit() < 0.5 { 0.02 + 0.25 * r.unit() } else { -0.1 * r.unit() },
                }
            })
            .collect();
        drivers.sort_by(|a, b| b.effect.abs().total_cmp(&a.effect.abs()));
        let event_secs = 86_400 + (self.elapsed * 37.0) as i64 + (r.unit() * 37.0) as i64;
        Alert {
            transaction_id: self.next_id,
            event_time: iso_time(event_secs),
            amount: ((10.0 + 3_000.0 * r.unit().powi(3)) * 100.0).round() / 100.0,
            product: r.pick(&PRODUCTS).to_string(),
            card_type: if r.unit() < 0.05 { None } else { Some(r.pick(&CARDS).to_string()) },
            score,
            drivers,
        }
    }
}

/// Drift of the synthetic champion: two inputs past the 0.25 threshold, the rest below; eleven inputs, so a page
/// showing the top ten leaves one out.
pub const CHAMPION_DRIFT: [(&str, f64, bool); 11] = [
    ("C13", 0.412, true),
    ("card6", 0.268, true),
    ("P_emaildomain", 0.143, false),
    ("TransactionAmt", 0.087, false),
    ("D15", 0.052, false),
    ("V258", 0.031, false),
    ("dist1", 0.018, false),
    ("C1", 0.012, false),
    ("addr1", 0.009, false),
    ("id_31", 0.006, false),
    ("M4", 0.004, false),
];

/// Drift of the synthetic challenger: stable.
pub const CHALLENGER_DRIFT: [(&str, f64, bool); 4] =
    [("TransactionAmt", 0.061, false), ("C13", 0.034, false), ("card1_count_24h", 0.02, false), ("D1", 0.011, false)];

fn drift(baseline: &str, inputs: &[(&str, f64, bool)], score_psi: f64) -> DriftView {
    DriftView {
        baseline: baseline.into(),
        observations: 10_000,
        window: 10_000,
        alert_psi: 0.25,
        score_psi: Some(score_psi),
        score_alerting: false,
        inputs: inputs.iter().map(|&(name, psi, alerting)| InputDrift { name: name.into(), psi, alerting }).collect(),
    }
}

impl SyntheticJob {
    /// Champion and challenger as the job would publish them: the champion's quality is the snapshot's, the
    /// challenger's a little better; drift is fixed ([`CHAMPION_DRIFT`], [`CHALLENGER_DRIFT`]) so a test can compare
    /// what the page shows with what was fed.
    pub fn monitoring(&mut self, snapshot: &Snapshot) -> Monitoring {
        let champion = snapshot.quality.clone();
        let challenger = Quality {
            roc_auc: champion.roc_auc.map(|a| (a + 0.012).min(1.0)),
            precision: champion.precision.map(|p| p * 1.05),
            ..champion.clone()
        };
        Monitoring {
            models: vec![
                ModelMonitoring {
                    model: "pipeline_75".into(),
                    role: ModelRole::Champion,
                    quality: Some(champion),
                    drift: Some(drift("model.json", &CHAMPION_DRIFT, 0.094)),
                },
                ModelMonitoring {
                    model: "challenger-v4".into(),
                    role: ModelRole::Challenger,
                    quality: Some(challenger),
                    drift: Some(drift("first window", &CHALLENGER_DRIFT, 0.021)),
                },
            ],
        }
    }
}

/// `2017-11-30T00:00:00.000Z` plus `secs` (within 30 days), as the job writes event times.
pub fn iso_time(secs: i64) -> String {
    let day = secs / 86_400;
    let (month, dom) = if day == 0 { (11, 30) } else { (12, day) };
    let s = secs % 86_400;
    format!("2017-{month:02}-{dom:02}T{:02}:{:02}:{:02}.000Z", s / 3600, s / 60 % 60, s % 60)
}

/// A feeder thread: a snapshot (with champion/challenger monitoring) every `snapshot_every`, `alerts_per_second`
/// alerts spread in between.
pub struct Feeder {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Feeder {
    pub fn start(dashboard: Dashboard, snapshot_every: Duration, alerts_per_second: f64) -> Feeder {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut job = SyntheticJob::new(7);
            let tick = Duration::from_millis(100);
            let mut last_snapshot = Instant::now();
            let mut owed_alerts = 0.0;
            let publish = |job: &mut SyntheticJob, dt: f64| {
                let snapshot = job.step(dt);
                dashboard.update_monitoring(job.monitoring(&snapshot));
                dashboard.update(snapshot);
            };
            publish(&mut job, 0.0);
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(tick);
                owed_alerts += alerts_per_second * tick.as_secs_f64();
                while owed_alerts >= 1.0 {
                    dashboard.alert(job.alert());
                    owed_alerts -= 1.0;
                }
                if last_snapshot.elapsed() >= snapshot_every {
                    let dt = last_snapshot.elapsed().as_secs_f64();
                    last_snapshot = Instant::now();
                    publish(&mut job, dt);
                }
            }
        });
        Feeder { stop, thread: Some(thread) }
    }

    pub fn stop(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Feeder {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}
