//! `sixgate`: the IPv4/IPv6 translation gateway's daemon and CLI.

mod api;
mod cli_service;
mod config;
mod daemon;
mod dataplane;
mod demo;
mod exception;
mod nat46;
mod service;
mod state;
mod stats;
mod status;
mod store;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Default bpffs directory for maps and links.
pub const DEFAULT_PIN_PATH: &str = "/sys/fs/bpf/sixgate";

/// Default path of the API's unix socket.
pub const DEFAULT_API_SOCKET: &str = "/run/sixgate/api.sock";

/// Default path of the file that keeps the services made through the API.
pub const DEFAULT_STATE_PATH: &str = "/var/lib/sixgate/state.json";

#[derive(Parser)]
#[command(
    name = "sixgate",
    version,
    about = "IPv4/IPv6 translation gateway (eBPF)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate the config, load and attach the data path, run until
    /// SIGTERM/SIGINT. The data path keeps running after the daemon exits,
    /// so a restart or an upgrade drops no connection.
    Run {
        /// Configuration file (TOML), see docs/configuration.md.
        #[arg(long, short)]
        config: PathBuf,
        /// On SIGTERM/SIGINT also detach the data path and restore the
        /// BIG TCP sizes (a full stop instead of a restartable one).
        #[arg(long)]
        detach_on_exit: bool,
    },
    /// Detach the data path from every interface (after `sixgate run` has
    /// exited); the pinned maps and counters stay readable.
    Detach {
        /// bpffs directory the daemon pins to (`bpf.pin_path`).
        #[arg(long, default_value = DEFAULT_PIN_PATH, conflicts_with = "config")]
        pin_path: PathBuf,
        /// Take the pin path from this config file instead.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Validate a config file without touching the system (beyond interface lookups).
    Check {
        /// Configuration file (TOML).
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Print every data-path counter, read from the pinned maps.
    Stats {
        /// bpffs directory the daemon pins to (`bpf.pin_path`).
        #[arg(long, default_value = DEFAULT_PIN_PATH, conflicts_with = "config")]
        pin_path: PathBuf,
        /// Take the pin path from this config file instead.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show what is in force: translator config, attached interfaces, BIG TCP sizes.
    Status {
        /// bpffs directory the daemon pins to (`bpf.pin_path`).
        #[arg(long, default_value = DEFAULT_PIN_PATH, conflicts_with = "config")]
        pin_path: PathBuf,
        /// Take the pin path from this config file instead.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Build a namespace topology and show an IPv4 client talking to an IPv6-only server.
    Demo,
    /// Manage stateful NAT46 services through the daemon's API.
    Service(cli_service::ServiceArgs),
    /// Change a NAT46 service's backends through the daemon's API.
    Backend(cli_service::BackendArgs),
    /// Show the NAT46 connection-tracking table through the daemon's API.
    Ct(cli_service::CtArgs),
}

fn main() -> ExitCode {
    use std::io::IsTerminal as _;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run {
            config,
            detach_on_exit,
        } => daemon::run(&config, detach_on_exit),
        Command::Detach { pin_path, config } => {
            daemon::detach_command(&pin_path, config.as_deref())
        }
        Command::Check { config } => daemon::check(&config),
        Command::Stats {
            pin_path,
            config,
            json,
        } => stats::print(&pin_path, config.as_deref(), json),
        Command::Status { pin_path, config } => status::print(&pin_path, config.as_deref()),
        Command::Demo => std::env::current_exe()
            .map_err(anyhow::Error::from)
            .and_then(|exe| demo::run(&exe)),
        Command::Service(args) => cli_service::service(args),
        Command::Backend(args) => cli_service::backend(args),
        Command::Ct(args) => cli_service::ct(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sixgate: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
