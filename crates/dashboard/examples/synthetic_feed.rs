//! The dashboard fed by a synthetic job, to look at the page or try the browser check without a real run:
//!
//! ```sh
//! cargo run -p fraudstream-dashboard --example synthetic_feed -- [ADDR] [SECONDS] [ALERTS_PER_SECOND]
//! ```
//!
//! Defaults: `127.0.0.1:8090`, run until Ctrl-C (SECONDS = 0), 5 alerts per second. With SECONDS > 0 the run is
//! marked finished after that long and the page keeps being served for another 5 seconds.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8090".into()).parse()?;
    let seconds: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(0);
    let alerts_per_second: f64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(5.0);

    let dashboard = fraudstream_dashboard::Dashboard::new(common::info());
    let server = fraudstream_dashboard::serve(dashboard.clone(), addr)?;
    println!("dashboard: {}", server.url());
    let feeder = common::Feeder::start(dashboard.clone(), Duration::from_secs(1), alerts_per_second);
    if seconds == 0 {
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    std::thread::sleep(Duration::from_secs(seconds));
    feeder.stop();
    dashboard.finish(format!("synthetic run of {seconds} s finished"));
    std::thread::sleep(Duration::from_secs(5));
    server.shutdown()?;
    Ok(())
}
