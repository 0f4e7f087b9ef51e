//! `sixgate stats`: every counter by name, from the pinned map.

use std::path::Path;

use anyhow::Context as _;
use sixgate_bpf::exception::read_exc_counters;
use sixgate_bpf::{read_counters, CounterValue};

use crate::config::Config;

/// Prints the counters pinned under `pin_path` (or the config's pin path).
pub fn print(pin_path: &Path, config: Option<&Path>, json: bool) -> anyhow::Result<()> {
    let pin_path = match config {
        Some(c) => Config::load(c)?.pin_path,
        None => pin_path.to_path_buf(),
    };
    let counters = read_counters(&pin_path).with_context(|| {
        format!(
            "reading counters under {} (has `sixgate run` ever run with this pin path?)",
            pin_path.display()
        )
    })?;
    // The daemon's side of the exception path (absent under pins an
    // older version made).
    let exception = read_exc_counters(&pin_path).unwrap_or_default();
    if json {
        let object = |counters: &[CounterValue]| {
            let body: Vec<String> = counters
                .iter()
                .map(|c| {
                    format!(
                        "\"{}\":{{\"packets\":{},\"bytes\":{}}}",
                        c.counter.name, c.packets, c.bytes
                    )
                })
                .collect();
            format!("{{{}}}", body.join(","))
        };
        println!(
            "{{\"counters\":{},\"exception\":{}}}",
            object(&counters),
            object(&exception)
        );
    } else {
        table(&counters);
        if !exception.is_empty() {
            println!("\nexception path (finished by the daemon):");
            table(&exception);
        }
    }
    Ok(())
}

fn table(counters: &[CounterValue]) {
    let width = counters
        .iter()
        .map(|c| c.counter.name.len())
        .max()
        .unwrap_or(0);
    println!("{:width$}  {:>12}  {:>14}", "counter", "packets", "bytes");
    for c in counters {
        println!(
            "{:width$}  {:>12}  {:>14}",
            c.counter.name, c.packets, c.bytes
        );
    }
}
