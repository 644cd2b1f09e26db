//! What a monitoring snapshot costs (see `kafka::snapshot`): the job takes one at every `--snapshot-interval` on
//! its own thread, and its size grows with the scores awaiting their labels, which the label horizon bounds.
//!
//! `cargo run --release -p fraudstream-engine --example monitor_snapshot_bench -- [AWAITING=1000000]` fills the
//! monitoring of a champion and a challenger with `AWAITING` scores waiting for labels (one a second of event
//! time), a full quality window of 20,000 labels and `AWAITING / 10` labels not due yet, then times taking the
//! state and encoding it as the snapshot does (JSON), and decoding and restoring it, best of three.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fraudstream_data::labels::{Label, LabelSource};
use fraudstream_data::EventTime;
use fraudstream_engine::monitor::{LabelFeed, MonitorConfig, MonitorSetup, Monitoring, Role, WatchSpec};

fn setup() -> MonitorSetup {
    MonitorSetup {
        config: MonitorConfig {
            labels: LabelFeed::Feed,
            horizon: Duration::from_secs(125 * 86_400),
            quality_window: 20_000,
            threshold: 0.5,
            quality_from: None,
        },
        models: vec![
            WatchSpec { name: "champion".into(), role: Role::Champion, drift: None },
            WatchSpec { name: "challenger".into(), role: Role::Challenger, drift: None },
        ],
        labels: Arc::new(Vec::new()),
        live: None,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let awaiting: i64 = std::env::args().nth(1).map_or(Ok(1_000_000), |a| a.parse())?;
    let mut monitoring = setup().build()?;
    let label = |id: i64, at: i64| Label {
        transaction_id: id,
        is_fraud: id % 29 == 0,
        label_time: EventTime(at),
        source: LabelSource::Chargeback,
    };
    // 20,000 scores labelled (a full quality window), then the ones still waiting.
    let labelled = 20_000;
    for id in 0..labelled + awaiting {
        let p = ((id * 7919) % 1000) as f64 / 1000.0;
        monitoring.rescored(id, EventTime(id * 1000), [p, p * 0.9]);
    }
    for id in 0..labelled {
        monitoring.label(&label(id, id * 1000 + 1));
    }
    monitoring.report(Some(EventTime(labelled * 1000)));
    for id in labelled..labelled + awaiting / 10 {
        monitoring.label(&label(id, (labelled + awaiting) * 1000 + id));
    }
    let counts = monitoring.label_counts().ok_or("no label counts")?;
    println!(
        "monitoring: {} scores awaiting labels, {} labels joined, {} labels not due",
        counts.awaiting,
        counts.joined,
        awaiting / 10
    );
    let (mut take, mut restore, mut bytes) = (Duration::MAX, Duration::MAX, 0);
    for _ in 0..3 {
        let started = Instant::now();
        let encoded = serde_json::to_vec(&monitoring.state())?;
        take = take.min(started.elapsed());
        bytes = encoded.len();
        let started = Instant::now();
        let mut restored: Monitoring = setup().build()?;
        restored.restore(serde_json::from_slice(&encoded)?)?;
        restore = restore.min(started.elapsed());
        assert_eq!(restored.label_counts(), monitoring.label_counts());
    }
    println!(
        "snapshot: {:.1} MB ({:.0} bytes per awaiting score); state + JSON {:.2} s; JSON + restore {:.2} s",
        bytes as f64 / 1e6,
        bytes as f64 / counts.awaiting.max(1) as f64,
        take.as_secs_f64(),
        restore.as_secs_f64()
    );
    Ok(())
}
