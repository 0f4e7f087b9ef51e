//! TCP throughput with iperf3: a server per topology, one client run per
//! measurement, results read from iperf3's JSON.

use std::net::IpAddr;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use sixgate_testnet::{describe, Netns, Process};

/// The port every iperf3 server listens on.
pub const PORT: u16 = 5201;

/// One iperf3 client run.
#[derive(Debug, Clone, Copy)]
pub struct TcpLoad {
    /// Parallel streams (`-P`).
    pub streams: u32,
    /// Server sends, client receives (`-R`).
    pub reverse: bool,
    /// Measured seconds (`-t`).
    pub secs: u32,
    /// Seconds of slow start left out of the result (`-O`).
    pub omit: u32,
}

/// What one run measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TcpResult {
    /// Goodput at the receiver, Gbit/s.
    pub gbps: f64,
    /// Retransmitted segments at the sender, when iperf3 reports them.
    pub retransmits: Option<u64>,
}

/// Starts `iperf3 -s` in `ns` and waits until it listens; returns it and
/// its command line.
pub fn start_server(ns: &Netns) -> Result<(Process, String)> {
    let port = PORT.to_string();
    let cmd = ns.cmd("iperf3", ["-s", "-p", &port, "--forceflush"]);
    let line = describe(&cmd);
    let p = ns.spawn(format!("iperf3 server in {}", ns.name()), cmd)?;
    p.wait_for_stdout("iperf3 listening", Duration::from_secs(10), |l| {
        l.contains("Server listening")
    })?;
    Ok((p, line))
}

/// The client command line for `load` towards `addr`.
pub fn client_cmd(ns: &Netns, addr: IpAddr, load: &TcpLoad) -> std::process::Command {
    let mut args: Vec<String> = vec![
        "-c".into(),
        addr.to_string(),
        "-p".into(),
        PORT.to_string(),
        "-t".into(),
        load.secs.to_string(),
        "-O".into(),
        load.omit.to_string(),
        "-P".into(),
        load.streams.to_string(),
        "-J".into(),
        "--connect-timeout".into(),
        "3000".into(),
    ];
    if load.reverse {
        args.push("-R".into());
    }
    ns.cmd("iperf3", args)
}

/// Runs one client and returns what it measured and its command line.
pub fn run_client(ns: &Netns, addr: IpAddr, load: &TcpLoad) -> Result<(TcpResult, String)> {
    let cmd = client_cmd(ns, addr, load);
    let line = describe(&cmd);
    let p = ns.spawn(format!("iperf3 client in {}", ns.name()), cmd)?;
    let limit = Duration::from_secs(u64::from(load.secs + load.omit) + 20);
    let status = p.wait_timeout(limit).with_context(|| line.clone())?;
    let out = p.stdout_text();
    let res = parse_json(&out).with_context(|| format!("{line} ({status})"))?;
    Ok((res, line))
}

/// Reads goodput and retransmits from `iperf3 -J` output.
pub fn parse_json(text: &str) -> Result<TcpResult> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| anyhow!("iperf3 printed no JSON ({e}): {text}"))?;
    if let Some(err) = v.get("error").and_then(|e| e.as_str()) {
        bail!("iperf3: {err}");
    }
    let end = v.get("end").context("iperf3 JSON has no `end`")?;
    let bps = end
        .pointer("/sum_received/bits_per_second")
        .and_then(|b| b.as_f64())
        .context("iperf3 JSON has no end.sum_received.bits_per_second")?;
    let retransmits = end
        .pointer("/sum_sent/retransmits")
        .and_then(|r| r.as_u64());
    Ok(TcpResult {
        gbps: bps / 1e9,
        retransmits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goodput_and_retransmits_are_read() {
        let j = r#"{"start":{},"intervals":[],"end":{
            "sum_sent":{"bits_per_second":1.5e10,"retransmits":209},
            "sum_received":{"bits_per_second":1.49e10}}}"#;
        let r = parse_json(j).unwrap();
        assert!((r.gbps - 14.9).abs() < 1e-9);
        assert_eq!(r.retransmits, Some(209));
    }

    #[test]
    fn iperf_errors_are_reported() {
        let e = parse_json(r#"{"start":{},"end":{},"error":"unable to connect"}"#).unwrap_err();
        assert!(e.to_string().contains("unable to connect"), "{e}");
        assert!(parse_json("not json").is_err());
    }
}
