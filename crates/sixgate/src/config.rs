//! The daemon's configuration file: parsing and whole-file validation.
//!
//! The format is documented in `docs/configuration.md`. Parsing has two
//! stages. TOML syntax, unknown keys, missing keys and wrong types are caught
//! by serde and reported with `FILE:LINE:COLUMN:` and the key they concern.
//! Everything else (prefixes, interface names, the RFC 6052 §3.1 rule, NAT46
//! services) is checked on the whole file and every problem is reported, one
//! per line, as `FILE: FIELD = VALUE: WHY`.

use std::collections::HashMap;
use std::ffi::CString;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use sixgate_bpf::maps::{EAMT_MAX_ENTRIES, RFC6791_MAX};
use sixgate_bpf::ratelimit::RateLimit;
use sixgate_wire::xlat::mapping::ipv6_is_illegal_source;
use sixgate_wire::xlat::{Eam, TrafficClass, UdpZeroChecksum};
use sixgate_wire::{
    ipv4_is_illegal_source, ipv4_is_non_global, Ipv4Prefix, Ipv6Prefix, Rfc6052Prefix,
};
use toml::Spanned;

use crate::service::{
    check_backend_address, CtTimeouts, Nat46Settings, Service, MAX_SNAT_ADDRESSES,
};
use crate::{DEFAULT_API_SOCKET, DEFAULT_PIN_PATH, DEFAULT_STATE_PATH};

/// Longest Linux interface name, in bytes (`IFNAMSIZ - 1`).
const MAX_INTERFACE_NAME: usize = 15;

/// Most IPv4 prefixes the data path holds.
const MAX_IPV4_PREFIXES: usize = sixgate_bpf::maps::SERVED_V4_MAX_ENTRIES as usize;

/// A validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// File it was read from, for messages.
    pub source: PathBuf,
    /// bpffs directory where maps and links are pinned.
    pub pin_path: PathBuf,
    /// Interface facing the IPv4 network.
    pub ipv4_interface: String,
    /// Interface facing the IPv6 network (may equal `ipv4_interface`).
    pub ipv6_interface: String,
    /// RFC 6052 translation prefix.
    pub pool6: Rfc6052Prefix,
    /// IPv4 prefixes whose addresses the gateway translates.
    pub ipv4_prefixes: Vec<Ipv4Prefix>,
    /// Allow non-global IPv4 addresses behind 64:ff9b::/96 (RFC 6052 3.1).
    pub wkp_allow_non_global: bool,
    /// RFC 6791: IPv4 sources for translated ICMPv6 errors from IPv6
    /// addresses without an IPv4 form.
    pub rfc6791_pool4: Vec<Ipv4Addr>,
    /// RFC 6791: the IPv6 source of the ICMPv6 errors the gateway sends
    /// (Time Exceeded, Parameter Problem); `None`: they are not sent.
    pub rfc6791_pool6: Option<Ipv6Addr>,
    /// RFC 7915 4.1 lowest-ipv6-mtu: IPv4 packets without DF are
    /// fragmented to this size once translated.
    pub lowest_ipv6_mtu: u16,
    /// The exception path (`[exception]`); `None` when disabled.
    pub exception: Option<ExceptionSettings>,
    /// RFC 7915 4.1 / 5.1: Traffic Class / TOS copied or set.
    pub traffic_class: TrafficClass,
    /// RFC 7915 4.5: IPv4 UDP with checksum 0 given one, or dropped.
    pub udp_zero_checksum: UdpZeroChecksum,
    /// RFC 4443 2.4 (f): limit on the ICMP errors the gateway sends
    /// itself; `None`: no limit.
    pub icmp_errors: Option<RateLimit>,
    /// RFC 7757 explicit address mappings (`[[siit.eamt]]`), in file order.
    pub eamt: Vec<Eam>,
    /// BIG TCP: (interface, GSO/GRO size) for each interface that wants it,
    /// each interface once.
    pub big_tcp: Vec<(String, u32)>,
    /// Put the interfaces' previous GSO/GRO sizes back on shutdown.
    pub restore_big_tcp: bool,
    /// Gateway-wide stateful NAT46 settings (`[nat46]`).
    pub nat46: Nat46Settings,
    /// NAT46 services declared in the file (`[[service]]`), read-only through the API.
    pub services: Vec<Service>,
    /// Where the API listens (`[api]`).
    pub api: ApiSettings,
    /// File that keeps the services made through the API (`[state] path`).
    pub state_path: PathBuf,
}

/// The exception path (the config file's `[exception]` table): the TAP
/// device the daemon finishes packets on that the programs hand it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExceptionSettings {
    /// Name of the TAP device.
    pub device: String,
    /// Most packets per second, all CPUs together.
    pub rate: u32,
    /// Most packets at once, all CPUs together.
    pub burst: u32,
}

/// Where the REST API listens (the config file's `[api]` table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiSettings {
    /// Unix socket path; no token is needed on it.
    pub socket: PathBuf,
    /// Permission bits of the socket file (default 0o600).
    pub socket_mode: u32,
    /// Optional TCP address; requests there need the bearer token.
    pub listen: Option<SocketAddr>,
    /// File holding the bearer token; set exactly when `listen` is.
    pub token_file: Option<PathBuf>,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            socket: PathBuf::from(DEFAULT_API_SOCKET),
            socket_mode: DEFAULT_SOCKET_MODE,
            listen: None,
            token_file: None,
        }
    }
}

/// Default permission bits of the API socket: the owner (root) only.
const DEFAULT_SOCKET_MODE: u32 = 0o600;
/// Longest connection-tracking timeout accepted, in seconds (7 days).
const MAX_TIMEOUT_SECS: u64 = 7 * 24 * 3600;
/// Lowest first port of `nat46.snat_ports`: below are well-known ports.
const MIN_SNAT_PORT: u16 = 1024;

/// Why a configuration was rejected.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("{}: cannot read: {e}", path.display())))?;
        Self::parse(&text, path)
    }

    /// Parses and validates `text`, naming `source` in errors.
    pub fn parse(text: &str, source: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig =
            toml::from_str(text).map_err(|e| ConfigError(describe_toml_error(text, source, &e)))?;
        raw.validate(source)
            .map_err(|problems| ConfigError(problems.join("\n")))
    }

    /// Checks what only the host can tell: that the interfaces exist.
    pub fn check_host(&self) -> Result<(), ConfigError> {
        let mut problems = Problems::new(&self.source);
        let mut interfaces = vec![("interfaces.ipv4", &self.ipv4_interface)];
        if self.ipv6_interface != self.ipv4_interface {
            interfaces.push(("interfaces.ipv6", &self.ipv6_interface));
        }
        for (field, name) in interfaces {
            if interface_index(name).is_none() {
                problems.add(
                    field,
                    quoted(name),
                    "no such network interface on this host",
                );
            }
        }
        problems.into_result(())
    }
}

/// The ifindex of interface `name` on this host, or `None` if it has none.
pub fn interface_index(name: &str) -> Option<u32> {
    let name = CString::new(name).ok()?;
    // SAFETY: `name` is a valid NUL-terminated string that outlives the call;
    // if_nametoindex only reads it.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    (index != 0).then_some(index)
}

// ---------------------------------------------------------------------------
// The file as written: serde checks keys and types, nothing more.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    bpf: RawBpf,
    interfaces: RawInterfaces,
    siit: RawSiit,
    #[serde(default)]
    nat46: RawNat46,
    #[serde(default, rename = "service")]
    services: Vec<Service>,
    #[serde(default)]
    api: RawApi,
    #[serde(default)]
    state: RawState,
    #[serde(default)]
    exception: RawException,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBpf {
    #[serde(default = "default_pin_path")]
    pin_path: String,
}

impl Default for RawBpf {
    fn default() -> Self {
        Self {
            pin_path: default_pin_path(),
        }
    }
}

fn default_pin_path() -> String {
    DEFAULT_PIN_PATH.to_string()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInterfaces {
    ipv4: String,
    ipv6: String,
    #[serde(default)]
    ipv4_big_tcp: BigTcpSetting,
    #[serde(default)]
    ipv6_big_tcp: BigTcpSetting,
    #[serde(default = "default_true")]
    restore_big_tcp: bool,
}

fn default_true() -> bool {
    true
}

/// `false`, `true` (the default size) or a size in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum BigTcpSetting {
    #[default]
    Off,
    On,
    Size(i64),
}

impl BigTcpSetting {
    fn written(self) -> String {
        match self {
            Self::Off => "false".into(),
            Self::On => "true".into(),
            Self::Size(n) => n.to_string(),
        }
    }
}

impl<'de> Deserialize<'de> for BigTcpSetting {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = BigTcpSetting;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("true, false, or a GSO/GRO size in bytes")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(if v {
                    BigTcpSetting::On
                } else {
                    BigTcpSetting::Off
                })
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(BigTcpSetting::Size(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// Largest GSO/GRO size Linux accepts (`GSO_MAX_SIZE`); devices may cap lower.
const BIG_TCP_MAX_SIZE: i64 = 524_280;
/// Sizes up to this are plain GSO, not BIG TCP.
const BIG_TCP_MIN_SIZE: i64 = 65_536;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSiit {
    pool6: String,
    ipv4_prefixes: Vec<String>,
    #[serde(default)]
    wkp_allow_non_global: bool,
    #[serde(default)]
    rfc6791_pool4: Vec<String>,
    #[serde(default)]
    rfc6791_pool6: Option<String>,
    #[serde(default = "default_lowest_ipv6_mtu")]
    lowest_ipv6_mtu: i64,
    #[serde(default)]
    traffic_class: Option<toml::Value>,
    #[serde(default)]
    udp_zero_checksum: Option<String>,
    #[serde(default = "default_icmp_error_rate")]
    icmp_error_rate: i64,
    #[serde(default = "default_icmp_error_burst")]
    icmp_error_burst: i64,
    #[serde(default)]
    eamt: Vec<RawEam>,
}

/// One `[[siit.eamt]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEam {
    ipv4_prefix: String,
    ipv6_prefix: String,
}

/// As Linux limits its own ICMP errors (net.ipv4.icmp_msgs_per_sec, _burst).
fn default_icmp_error_rate() -> i64 {
    1000
}

fn default_icmp_error_burst() -> i64 {
    50
}

fn default_lowest_ipv6_mtu() -> i64 {
    i64::from(sixgate_bpf::maps::LOWEST_IPV6_MTU_DEFAULT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawException {
    #[serde(default = "default_true")]
    enabled: bool,
    #[serde(default = "default_exception_device")]
    device: String,
    #[serde(default = "default_exception_rate")]
    rate: i64,
    #[serde(default = "default_exception_burst")]
    burst: i64,
}

impl Default for RawException {
    fn default() -> Self {
        Self {
            enabled: true,
            device: default_exception_device(),
            rate: default_exception_rate(),
            burst: default_exception_burst(),
        }
    }
}

fn default_exception_device() -> String {
    "sixgate-exc".into()
}

fn default_exception_rate() -> i64 {
    10_000
}

fn default_exception_burst() -> i64 {
    1_000
}

impl RawException {
    fn validate(self, problems: &mut Problems) -> Option<ExceptionSettings> {
        if let Err(why) = check_interface_name(&self.device) {
            problems.add("exception.device", quoted(&self.device), why);
        }
        let rate = packet_count(problems, "exception.rate", self.rate, false);
        let burst = packet_count(problems, "exception.burst", self.burst, false);
        self.enabled.then_some(ExceptionSettings {
            device: self.device,
            rate,
            burst,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNat46 {
    #[serde(default)]
    snat_addresses: Vec<String>,
    #[serde(default = "default_snat_ports")]
    snat_ports: [u16; 2],
    preserve_prefix: Option<String>,
    #[serde(default = "default_table_size")]
    maglev_table_size: u32,
    #[serde(default)]
    maglev_seed: u64,
    #[serde(default)]
    timeouts: RawTimeouts,
}

impl Default for RawNat46 {
    fn default() -> Self {
        Self {
            snat_addresses: Vec::new(),
            snat_ports: default_snat_ports(),
            preserve_prefix: None,
            maglev_table_size: default_table_size(),
            maglev_seed: 0,
            timeouts: RawTimeouts::default(),
        }
    }
}

fn default_snat_ports() -> [u16; 2] {
    let (min, max) = Nat46Settings::default().snat_ports;
    [min, max]
}

fn default_table_size() -> u32 {
    Nat46Settings::default().maglev_table_size
}

/// Timeouts in seconds; absent keys take [`CtTimeouts::default`].
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTimeouts {
    tcp_syn: Option<u64>,
    tcp_established: Option<u64>,
    tcp_closing: Option<u64>,
    tcp_reset: Option<u64>,
    udp: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApi {
    #[serde(default = "default_api_socket")]
    socket: String,
    #[serde(default = "default_socket_mode")]
    socket_mode: String,
    listen: Option<String>,
    token_file: Option<String>,
}

impl Default for RawApi {
    fn default() -> Self {
        Self {
            socket: default_api_socket(),
            socket_mode: default_socket_mode(),
            listen: None,
            token_file: None,
        }
    }
}

fn default_api_socket() -> String {
    DEFAULT_API_SOCKET.to_string()
}

fn default_socket_mode() -> String {
    format!("{DEFAULT_SOCKET_MODE:04o}")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawState {
    #[serde(default = "default_state_path")]
    path: String,
}

impl Default for RawState {
    fn default() -> Self {
        Self {
            path: default_state_path(),
        }
    }
}

fn default_state_path() -> String {
    DEFAULT_STATE_PATH.to_string()
}

impl RawConfig {
    /// Checks every value, collecting one line per problem.
    fn validate(self, source: &Path) -> Result<Config, Vec<String>> {
        let mut problems = Problems::new(source);

        let pin_path = PathBuf::from(&self.bpf.pin_path);
        if !pin_path.is_absolute() {
            problems.add(
                "bpf.pin_path",
                quoted(&self.bpf.pin_path),
                "must be an absolute path (a directory on bpffs, e.g. /sys/fs/bpf/sixgate)",
            );
        }

        for (field, name) in [
            ("interfaces.ipv4", &self.interfaces.ipv4),
            ("interfaces.ipv6", &self.interfaces.ipv6),
        ] {
            if let Err(why) = check_interface_name(name) {
                problems.add(field, quoted(name), why);
            }
        }

        let mut big_tcp: Vec<(String, u32)> = Vec::new();
        for (field, name, setting) in [
            (
                "interfaces.ipv4_big_tcp",
                &self.interfaces.ipv4,
                self.interfaces.ipv4_big_tcp,
            ),
            (
                "interfaces.ipv6_big_tcp",
                &self.interfaces.ipv6,
                self.interfaces.ipv6_big_tcp,
            ),
        ] {
            let size = match setting {
                BigTcpSetting::Off => continue,
                BigTcpSetting::On => sixgate_netlink::BIG_TCP_DEFAULT_SIZE,
                BigTcpSetting::Size(n)
                    if (BIG_TCP_MIN_SIZE + 1..=BIG_TCP_MAX_SIZE).contains(&n) =>
                {
                    n as u32
                }
                BigTcpSetting::Size(_) => {
                    problems.add(
                        field,
                        setting.written(),
                        format!(
                            "a BIG TCP size must be above {BIG_TCP_MIN_SIZE} and at most \
                             {BIG_TCP_MAX_SIZE} bytes (true means {})",
                            sixgate_netlink::BIG_TCP_DEFAULT_SIZE
                        ),
                    );
                    continue;
                }
            };
            match big_tcp.iter().find(|(n, _)| n == name) {
                Some(&(_, other)) if other != size => problems.add(
                    field,
                    setting.written(),
                    format!(
                        "{name} is both interfaces (one-armed) and the other side asks for \
                         {other}; give both the same value"
                    ),
                ),
                Some(_) => {}
                None => big_tcp.push((name.clone(), size)),
            }
        }

        let siit = &self.siit;
        let pool6 = match siit.pool6.parse::<Rfc6052Prefix>() {
            Ok(p) => Some(p),
            Err(e) => {
                problems.add("siit.pool6", quoted(&siit.pool6), e);
                None
            }
        };

        if siit.ipv4_prefixes.is_empty() {
            problems.add(
                "siit.ipv4_prefixes",
                "[]",
                "at least one IPv4 prefix is required: the gateway translates only addresses in these prefixes",
            );
        }
        if siit.ipv4_prefixes.len() > MAX_IPV4_PREFIXES {
            problems.add(
                "siit.ipv4_prefixes",
                format!("[...{} entries]", siit.ipv4_prefixes.len()),
                format!("the data path holds at most {MAX_IPV4_PREFIXES} IPv4 prefixes"),
            );
        }
        // Each good entry with its index, for the pairwise checks below.
        let mut prefixes: Vec<(usize, Ipv4Prefix)> = Vec::new();
        for (i, text) in siit.ipv4_prefixes.iter().enumerate() {
            match text.parse::<Ipv4Prefix>() {
                Ok(p) => prefixes.push((i, p)),
                Err(e) => problems.add(&prefix_field(i), quoted(text), e),
            }
        }
        for (n, &(j, pj)) in prefixes.iter().enumerate() {
            for &(i, pi) in &prefixes[..n] {
                if !pi.overlaps(&pj) {
                    continue;
                }
                let other = format!("{} = {}", prefix_field(i), quoted(&siit.ipv4_prefixes[i]));
                let why = if pi == pj {
                    format!("duplicates {other}")
                } else {
                    format!("overlaps {other}; each IPv4 address may be listed only once")
                };
                problems.add(&prefix_field(j), quoted(&siit.ipv4_prefixes[j]), why);
            }
        }

        if pool6.is_some_and(|p| p.is_well_known()) && !siit.wkp_allow_non_global {
            for &(i, p) in &prefixes {
                if ipv4_is_non_global(p.addr()) {
                    problems.add(
                        &prefix_field(i),
                        quoted(&siit.ipv4_prefixes[i]),
                        "holds non-global IPv4 addresses (RFC 6890 special-purpose ranges), \
                         and siit.pool6 is the well-known prefix 64:ff9b::/96, which RFC 6052 \
                         §3.1 forbids for non-global addresses; use a network-specific \
                         siit.pool6 (one from your own IPv6 space), or set \
                         siit.wkp_allow_non_global = true if these addresses never leave \
                         your network",
                    );
                }
            }
        }

        let rfc6791_pool4 = rfc6791_pool4(&siit.rfc6791_pool4, &mut problems);
        let rfc6791_pool6 = siit.rfc6791_pool6.as_deref().and_then(|text| {
            let why = match text.parse::<Ipv6Addr>() {
                Ok(a) if ipv6_is_illegal_source(a) => {
                    "may not be a packet's source (unspecified, loopback, multicast)"
                }
                Ok(a) if pool6.is_some_and(|p| p.contains(a)) => {
                    "is inside siit.pool6, where addresses stand for IPv4 hosts; use an \
                     address of the gateway's own"
                }
                Ok(a) => return Some(a),
                Err(_) => "not an IPv6 address",
            };
            problems.add("siit.rfc6791_pool6", quoted(text), why);
            None
        });
        // RFC 8200 5: every IPv6 link carries 1280 bytes.
        let lowest_ipv6_mtu = match u16::try_from(siit.lowest_ipv6_mtu) {
            Ok(m) if m >= 1280 => m,
            _ => {
                problems.add(
                    "siit.lowest_ipv6_mtu",
                    siit.lowest_ipv6_mtu,
                    "must be from 1280 (the IPv6 minimum MTU, RFC 8200 §5) to 65535 bytes",
                );
                1280
            }
        };
        let traffic_class = match &siit.traffic_class {
            None => TrafficClass::Copy,
            Some(toml::Value::String(s)) if s == "copy" => TrafficClass::Copy,
            Some(toml::Value::String(s)) if s == "zero" => TrafficClass::Zero,
            Some(toml::Value::Integer(n)) if (0..=255).contains(n) => {
                TrafficClass::Override(*n as u8)
            }
            Some(v) => {
                problems.add(
                    "siit.traffic_class",
                    v,
                    "must be \"copy\" (the default), \"zero\", or a value from 0 to 255 \
                     for every translated header (RFC 7915 §4.1, §5.1)",
                );
                TrafficClass::Copy
            }
        };
        let udp_zero_checksum = match siit.udp_zero_checksum.as_deref() {
            None | Some("compute") => UdpZeroChecksum::Compute,
            Some("drop") => UdpZeroChecksum::Drop,
            Some(other) => {
                problems.add(
                    "siit.udp_zero_checksum",
                    quoted(other),
                    "must be \"compute\" (the default) or \"drop\" (RFC 7915 §4.5)",
                );
                UdpZeroChecksum::Compute
            }
        };
        let icmp_errors = {
            let rate = packet_count(
                &mut problems,
                "siit.icmp_error_rate",
                siit.icmp_error_rate,
                true,
            );
            let burst = packet_count(
                &mut problems,
                "siit.icmp_error_burst",
                siit.icmp_error_burst,
                false,
            );
            (rate > 0).then_some(RateLimit { rate, burst })
        };
        let exception = self.exception.validate(&mut problems);
        if let Some(e) = &exception {
            if e.device == self.interfaces.ipv4 || e.device == self.interfaces.ipv6 {
                problems.add(
                    "exception.device",
                    quoted(&e.device),
                    "is one of [interfaces]; the exception path needs a device of its own, \
                     which the daemon creates",
                );
            }
        }
        let eamt = eamt(&siit.eamt, &mut problems);

        let (nat46, check_settings) = self.nat46.validate(&mut problems);
        check_services(&self.services, &check_settings, &mut problems);
        let api = self.api.validate(&mut problems);
        let state_path = absolute_path(&mut problems, "state.path", &self.state.path);

        match pool6 {
            Some(pool6) if problems.is_empty() => Ok(Config {
                source: source.to_path_buf(),
                pin_path,
                ipv4_interface: self.interfaces.ipv4,
                ipv6_interface: self.interfaces.ipv6,
                pool6,
                ipv4_prefixes: prefixes.into_iter().map(|(_, p)| p).collect(),
                wkp_allow_non_global: siit.wkp_allow_non_global,
                rfc6791_pool4,
                rfc6791_pool6,
                lowest_ipv6_mtu,
                exception,
                traffic_class,
                udp_zero_checksum,
                icmp_errors,
                eamt,
                big_tcp,
                restore_big_tcp: self.interfaces.restore_big_tcp,
                nat46,
                services: self.services,
                api,
                state_path,
            }),
            _ => Err(problems.lines),
        }
    }
}

impl RawNat46 {
    /// The settings, and a copy to check services against in which a
    /// setting written wrongly counts as present, so that its error is
    /// reported once, where it is written.
    fn validate(self, problems: &mut Problems) -> (Nat46Settings, Nat46Settings) {
        let mut settings = Nat46Settings::default();
        let mut check = Nat46Settings::default();

        if self.snat_addresses.len() > MAX_SNAT_ADDRESSES {
            problems.add(
                "nat46.snat_addresses",
                format!("[...{} entries]", self.snat_addresses.len()),
                format!("at most {MAX_SNAT_ADDRESSES} addresses"),
            );
        }
        for (i, text) in self.snat_addresses.iter().enumerate() {
            let field = format!("nat46.snat_addresses[{i}]");
            let why = match text.parse::<Ipv6Addr>() {
                Err(_) => "is not an IPv6 address".to_string(),
                Ok(a) => match check_backend_address(a) {
                    Err(why) => why.to_string(),
                    Ok(()) => match settings.snat_addresses.iter().position(|&b| b == a) {
                        Some(j) => format!("duplicates nat46.snat_addresses[{j}]"),
                        None => {
                            settings.snat_addresses.push(a);
                            continue;
                        }
                    },
                },
            };
            problems.add(&field, quoted(text), why);
        }
        if !self.snat_addresses.is_empty() {
            check.snat_addresses = vec![Ipv6Addr::UNSPECIFIED];
        }

        let [min, max] = self.snat_ports;
        if min < MIN_SNAT_PORT || min > max {
            problems.add(
                "nat46.snat_ports",
                format!("[{min}, {max}]"),
                format!(
                    "must be [FIRST, LAST] with {MIN_SNAT_PORT} <= FIRST <= LAST (an inclusive range)"
                ),
            );
        }
        settings.snat_ports = (min, max);

        if let Some(text) = &self.preserve_prefix {
            match text.parse::<Rfc6052Prefix>() {
                Ok(p) => settings.preserve_prefix = Some(p),
                Err(e) => problems.add("nat46.preserve_prefix", quoted(text), e),
            }
            check.preserve_prefix = Rfc6052Prefix::new(sixgate_wire::WELL_KNOWN_PREFIX, 96).ok();
        }

        let m = self.maglev_table_size;
        settings.maglev_table_size = m;
        check.maglev_table_size = m;
        if !sixgate_maglev::is_prime(m) || m > sixgate_maglev::MAX_TABLE_SIZE {
            problems.add(
                "nat46.maglev_table_size",
                m,
                format!(
                    "must be a prime number no larger than {} (e.g. 65537, 131071, 655373)",
                    sixgate_maglev::MAX_TABLE_SIZE
                ),
            );
            check.maglev_table_size = u32::MAX;
        }
        settings.maglev_seed = self.maglev_seed;
        settings.timeouts = self.timeouts.validate(problems);

        check.timeouts = settings.timeouts;
        check.maglev_seed = settings.maglev_seed;
        (settings, check)
    }
}

impl RawTimeouts {
    fn validate(&self, problems: &mut Problems) -> CtTimeouts {
        let mut t = CtTimeouts::default();
        for (key, written, slot) in [
            ("tcp_syn", self.tcp_syn, &mut t.tcp_syn),
            (
                "tcp_established",
                self.tcp_established,
                &mut t.tcp_established,
            ),
            ("tcp_closing", self.tcp_closing, &mut t.tcp_closing),
            ("tcp_reset", self.tcp_reset, &mut t.tcp_reset),
            ("udp", self.udp, &mut t.udp),
        ] {
            match written {
                None => {}
                Some(secs) if (1..=MAX_TIMEOUT_SECS).contains(&secs) => {
                    *slot = Duration::from_secs(secs);
                }
                Some(secs) => problems.add(
                    &format!("nat46.timeouts.{key}"),
                    secs,
                    format!("must be 1 to {MAX_TIMEOUT_SECS} seconds"),
                ),
            }
        }
        t
    }
}

/// Each service on its own, then names and keys across the file.
fn check_services(services: &[Service], settings: &Nat46Settings, problems: &mut Problems) {
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut keys = HashMap::new();
    for (i, svc) in services.iter().enumerate() {
        for e in svc.problems(settings) {
            problems.add(&format!("service[{i}].{}", e.field), e.value, e.why);
        }
        if let Some(j) = names.insert(&svc.name, i) {
            problems.add(
                &format!("service[{i}].name"),
                quoted(&svc.name),
                format!("duplicates service[{j}].name; service names must be unique"),
            );
        }
        if let Some(j) = keys.insert(svc.key(), i) {
            problems.add(
                &format!("service[{i}].vip"),
                quoted(&svc.vip.to_string()),
                format!(
                    "{} is also service[{j}] ({:?}); a VIP, port and protocol belong to one service",
                    svc.key(),
                    services[j].name
                ),
            );
        }
    }
}

impl RawApi {
    fn validate(self, problems: &mut Problems) -> ApiSettings {
        let socket = absolute_path(problems, "api.socket", &self.socket);
        let socket_mode = match parse_mode(&self.socket_mode) {
            Some(mode) => mode,
            None => {
                problems.add(
                    "api.socket_mode",
                    quoted(&self.socket_mode),
                    "must be octal permission bits written as a string, e.g. \"0600\" or \"0660\"",
                );
                DEFAULT_SOCKET_MODE
            }
        };
        let listen = self
            .listen
            .as_ref()
            .and_then(|text| match text.parse::<SocketAddr>() {
                Ok(a) if a.port() != 0 => Some(a),
                _ => {
                    problems.add(
                        "api.listen",
                        quoted(text),
                        "must be ADDRESS:PORT with a port above 0, e.g. \"127.0.0.1:8046\" or \"[::1]:8046\"",
                    );
                    None
                }
            });
        match (&self.listen, &self.token_file) {
            (Some(text), None) => problems.add(
                "api.listen",
                quoted(text),
                "a TCP listener needs api.token_file (the bearer token clients must send)",
            ),
            (None, Some(path)) => problems.add(
                "api.token_file",
                quoted(path),
                "is only used with api.listen (the unix socket needs no token)",
            ),
            (Some(_), Some(path)) => {
                if let Err(why) = check_token_file(Path::new(path)) {
                    problems.add("api.token_file", quoted(path), why);
                }
            }
            (None, None) => {}
        }
        ApiSettings {
            socket,
            socket_mode,
            listen,
            token_file: self.token_file.map(PathBuf::from),
        }
    }
}

/// Octal permission bits such as `"0600"`.
fn parse_mode(text: &str) -> Option<u32> {
    let digits = text.strip_prefix("0o").unwrap_or(text);
    if digits.is_empty() || digits.len() > 4 {
        return None;
    }
    u32::from_str_radix(digits, 8).ok().filter(|&m| m <= 0o777)
}

/// The bearer token in `path`: its contents without surrounding whitespace.
pub fn read_token(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let token = text.trim();
    if token.is_empty() {
        return Err("is empty; it must hold the bearer token".into());
    }
    Ok(token.to_string())
}

fn check_token_file(path: &Path) -> Result<(), String> {
    read_token(path).map(|_| ())
}

/// `text` as a path, which must be absolute.
fn absolute_path(problems: &mut Problems, field: &str, text: &str) -> PathBuf {
    let path = PathBuf::from(text);
    if !path.is_absolute() {
        problems.add(field, quoted(text), "must be an absolute path");
    }
    path
}

fn prefix_field(i: usize) -> String {
    format!("siit.ipv4_prefixes[{i}]")
}

/// A value as it would be written in TOML, for messages.
fn quoted(s: &str) -> String {
    format!("{s:?}")
}

/// Linux's rules for an interface name (`dev_valid_name`), as a reason.
fn check_interface_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("an interface name cannot be empty".into());
    }
    if name.len() > MAX_INTERFACE_NAME {
        return Err(format!(
            "is {} bytes long; Linux interface names are at most {MAX_INTERFACE_NAME} bytes",
            name.len()
        ));
    }
    if name == "." || name == ".." {
        return Err("is not a valid interface name".into());
    }
    if let Some(c) = name
        .chars()
        .find(|&c| c == '/' || c == ':' || c == '\0' || c.is_whitespace())
    {
        return Err(format!(
            "an interface name cannot contain {c:?} ('/', ':', NUL and whitespace are not allowed)"
        ));
    }
    Ok(())
}

/// Semantic problems found so far, each already `FILE: FIELD = VALUE: WHY`.
struct Problems {
    file: String,
    lines: Vec<String>,
}

impl Problems {
    fn new(source: &Path) -> Self {
        Self {
            file: source.display().to_string(),
            lines: Vec::new(),
        }
    }

    fn add(&mut self, field: &str, value: impl fmt::Display, why: impl fmt::Display) {
        self.lines
            .push(format!("{}: {field} = {value}: {why}", self.file));
    }

    fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    fn into_result<T>(self, ok: T) -> Result<T, ConfigError> {
        if self.lines.is_empty() {
            Ok(ok)
        } else {
            Err(ConfigError(self.lines.join("\n")))
        }
    }
}

// ---------------------------------------------------------------------------
// TOML and serde errors: where (line:column) and which key.

/// `FILE:LINE:COL: MESSAGE`, naming the table or key the error concerns.
fn describe_toml_error(text: &str, source: &Path, err: &toml::de::Error) -> String {
    let file = source.display();
    // Syntax errors span several lines ("invalid table header\nexpected ...").
    let message = err
        .message()
        .trim_end()
        .lines()
        .collect::<Vec<_>>()
        .join(": ");
    let span = err.span();
    // Unknown and missing keys name their table; other errors (types) are
    // about the value at `span`, named by its path.
    let message = match (add_table(&message), &span) {
        (Some(with_table), _) => with_table,
        (None, Some(span)) => match value_path(text, span) {
            Some(path) => format!("{path}: {}", name_dates(text, span, &message)),
            None => message,
        },
        (None, None) => message,
    };
    match span {
        Some(span) => {
            let (line, col) = line_col(text, span.start);
            format!("{file}:{line}:{col}: {message}")
        }
        None => format!("{file}: {message}"),
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// `siit.rfc6791_pool4`: at most [`RFC6791_MAX`] IPv4 addresses, each one an
/// address a packet may come from (RFC 6791 4: the pool holds the
/// translator's own addresses, used as sources of ICMP errors).
fn rfc6791_pool4(texts: &[String], problems: &mut Problems) -> Vec<Ipv4Addr> {
    if texts.len() > RFC6791_MAX {
        problems.add(
            "siit.rfc6791_pool4",
            format!("[...{} entries]", texts.len()),
            format!("at most {RFC6791_MAX} addresses"),
        );
    }
    let mut out = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        let field = format!("siit.rfc6791_pool4[{i}]");
        match text.parse::<Ipv4Addr>() {
            Ok(a) if ipv4_is_illegal_source(a) || a.is_broadcast() => problems.add(
                &field,
                quoted(text),
                "may not be a packet's source (0/8, 127/8, multicast, class E, broadcast)",
            ),
            Ok(a) if out.contains(&a) => problems.add(&field, quoted(text), "listed twice"),
            Ok(a) => out.push(a),
            Err(_) => problems.add(&field, quoted(text), "not an IPv4 address"),
        }
    }
    out
}

/// `siit.eamt`: at most [`EAMT_MAX_ENTRIES`] explicit address mappings
/// (RFC 7757), each an IPv4 and an IPv6 prefix whose suffix can hold the
/// IPv4 suffix, no prefix mapped twice. Nested prefixes are allowed: the
/// longest match wins (RFC 7757 3.2), so one host of a mapped range can be
/// mapped elsewhere.
fn eamt(entries: &[RawEam], problems: &mut Problems) -> Vec<Eam> {
    if entries.len() > EAMT_MAX_ENTRIES as usize {
        problems.add(
            "siit.eamt",
            format!("[...{} entries]", entries.len()),
            format!("the data path holds at most {EAMT_MAX_ENTRIES} mappings"),
        );
    }
    // Each good entry with its index, for the duplicate checks.
    let mut out: Vec<(usize, Eam)> = Vec::new();
    for (i, raw) in entries.iter().enumerate() {
        let v4_field = format!("siit.eamt[{i}].ipv4_prefix");
        let v6_field = format!("siit.eamt[{i}].ipv6_prefix");
        let ipv4 = raw
            .ipv4_prefix
            .parse::<Ipv4Prefix>()
            .map_err(|e| problems.add(&v4_field, quoted(&raw.ipv4_prefix), e));
        let ipv6 = raw
            .ipv6_prefix
            .parse::<Ipv6Prefix>()
            .map_err(|e| problems.add(&v6_field, quoted(&raw.ipv6_prefix), e));
        let (Ok(ipv4), Ok(ipv6)) = (ipv4, ipv6) else {
            continue;
        };
        let Ok(eam) = Eam::new(ipv4, ipv6) else {
            let (s4, s6) = (32 - ipv4.len(), 128 - ipv6.len());
            problems.add(
                &v6_field,
                quoted(&raw.ipv6_prefix),
                format!(
                    "leaves {s6} bits for the {s4} bits of {ipv4}'s addresses (RFC 7757 3.2 \
                     copies them after the IPv6 prefix); use an IPv6 prefix of at most /{}",
                    128 - s4
                ),
            );
            continue;
        };
        let mut duplicate = false;
        for &(j, other) in &out {
            let why = format!("is already mapped by siit.eamt[{j}]; a prefix has one mapping");
            if other.ipv4 == eam.ipv4 {
                problems.add(&v4_field, quoted(&raw.ipv4_prefix), &why);
                duplicate = true;
            }
            if other.ipv6 == eam.ipv6 {
                problems.add(&v6_field, quoted(&raw.ipv6_prefix), &why);
                duplicate = true;
            }
        }
        if !duplicate {
            out.push((i, eam));
        }
    }
    out.into_iter().map(|(_, e)| e).collect()
}

/// A rate or burst of a rate limit: a count of packets that fits the data
/// path's 32 bits, at least 1 (or 0, meaning no limit, where `zero_ok`).
fn packet_count(problems: &mut Problems, field: &str, v: i64, zero_ok: bool) -> u32 {
    match u32::try_from(v) {
        Ok(n) if n > 0 || zero_ok => n,
        _ => {
            problems.add(
                field,
                v,
                if zero_ok {
                    "must be a whole number of packets per second from 0 (no limit) to 4294967295"
                } else {
                    "must be a whole number of packets from 1 to 4294967295"
                },
            );
            1
        }
    }
}

/// The table that declares `field`, as a message names it (`[siit]`); `""`
/// is the top level. Field names are unique across the file's tables, except
/// `port` (of a service and of a backend): messages about it fall back to
/// the position and the path of the value. A test keeps this in step with
/// `Raw*` and [`Service`].
fn table_of(field: &str) -> Option<&'static str> {
    match field {
        "bpf" | "interfaces" | "siit" | "nat46" | "service" | "api" | "state" | "exception" => {
            Some("")
        }
        "pin_path" => Some("[bpf]"),
        "ipv4" | "ipv6" | "ipv4_big_tcp" | "ipv6_big_tcp" | "restore_big_tcp" => {
            Some("[interfaces]")
        }
        "pool6"
        | "ipv4_prefixes"
        | "wkp_allow_non_global"
        | "rfc6791_pool4"
        | "rfc6791_pool6"
        | "lowest_ipv6_mtu"
        | "traffic_class"
        | "udp_zero_checksum"
        | "icmp_error_rate"
        | "icmp_error_burst"
        | "eamt" => Some("[siit]"),
        "ipv4_prefix" | "ipv6_prefix" => Some("[[siit.eamt]]"),
        "enabled" | "device" | "rate" | "burst" => Some("[exception]"),
        "snat_addresses" | "snat_ports" | "preserve_prefix" | "maglev_table_size"
        | "maglev_seed" | "timeouts" => Some("[nat46]"),
        "tcp_syn" | "tcp_established" | "tcp_closing" | "tcp_reset" | "udp" => {
            Some("[nat46.timeouts]")
        }
        "name" | "vip" | "protocol" | "source_mode" | "source_ranges" | "backends" => {
            Some("[[service]]")
        }
        "address" | "weight" | "cluster" => Some("a [[service]] backend"),
        "socket" | "socket_mode" | "listen" | "token_file" => Some("[api]"),
        "path" => Some("[state]"),
        _ => None,
    }
}

/// serde's unknown/missing-field `message` with the table it is about.
fn add_table(message: &str) -> Option<String> {
    if let Some((key, rest)) = backquoted(message, "unknown field `") {
        // serde lists the fields it expected; they name the table.
        let (_, expected) = rest.split_once('`')?;
        let (first, _) = expected.split_once('`')?;
        let table = match table_of(first)? {
            "" => "at the top level".to_string(),
            t => format!("in {t}"),
        };
        return Some(format!("unknown field `{key}` {table}{rest}"));
    }
    if let Some((key, rest)) = backquoted(message, "missing field `") {
        return Some(match table_of(key)? {
            // Every top-level key is a table.
            "" => format!("missing table [{key}]{rest}"),
            t => format!("missing field `{key}` in {t}{rest}"),
        });
    }
    None
}

/// `("pool4", ", expected ...")` from "unknown field `pool4`, expected ...".
fn backquoted<'a>(message: &'a str, prefix: &str) -> Option<(&'a str, &'a str)> {
    let rest = message.strip_prefix(prefix)?;
    let end = rest.find('`')?;
    Some((&rest[..end], &rest[end + 1..]))
}

/// toml hands dates to serde as maps: say "date-time" where it says "map".
fn name_dates(text: &str, span: &Range<usize>, message: &str) -> String {
    let written = text.get(span.clone()).unwrap_or_default();
    match message.strip_prefix("invalid type: map,") {
        Some(rest) if !written.starts_with(['{', '[']) => {
            format!("invalid type: date-time `{written}`,{rest}")
        }
        _ => message.to_string(),
    }
}

/// The dotted path (`siit.ipv4_prefixes[1]`) of the value written at `span`.
///
/// `None` when no value is exactly there, or when the document has a shape
/// toml cannot give positions for (dotted keys such as `a.b = 1`).
fn value_path(text: &str, span: &Range<usize>) -> Option<String> {
    let root = toml::from_str::<Node>(text).ok()?;
    let Node::Table(entries) = root else {
        return None;
    };
    let mut best: Option<(usize, String)> = None;
    for (key, value) in &entries {
        find_span(value, key_path("", key), 1, span, &mut best);
    }
    best.map(|(_, path)| path)
}

/// Records in `best` the deepest value under `node` written exactly at `span`.
fn find_span(
    node: &Spanned<Node>,
    path: String,
    depth: usize,
    span: &Range<usize>,
    best: &mut Option<(usize, String)>,
) {
    if !node.span().contains(&span.start) {
        return;
    }
    match node.get_ref() {
        Node::Table(entries) => {
            for (key, value) in entries {
                find_span(value, key_path(&path, key), depth + 1, span, best);
            }
        }
        Node::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                find_span(item, format!("{path}[{i}]"), depth + 1, span, best);
            }
        }
        Node::Scalar => {}
    }
    if node.span() == *span && best.as_ref().is_none_or(|(d, _)| *d < depth) {
        *best = Some((depth, path));
    }
}

/// `parent.key`, quoting `key` unless it is a bare TOML key.
fn key_path(parent: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let key = if bare { key.to_string() } else { quoted(key) };
    if parent.is_empty() {
        key
    } else {
        format!("{parent}.{key}")
    }
}

/// A TOML document reduced to its shape: where each value is written.
enum Node {
    Table(Vec<(String, Spanned<Node>)>),
    Array(Vec<Spanned<Node>>),
    Scalar,
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

/// How toml hands a date-time to serde: a map with this one key.
const TOML_DATETIME_KEY: &str = "$__toml_private_datetime";

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any TOML value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Scalar)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Node, E> {
        Ok(Node::Scalar)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if key == TOML_DATETIME_KEY {
                map.next_value::<de::IgnoredAny>()?;
                return Ok(Node::Scalar);
            }
            entries.push((key, map.next_value()?));
        }
        Ok(Node::Table(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "sixgate.toml";

    const FULL: &str = r#"
[bpf]
pin_path = "/sys/fs/bpf/sixgate-test"

[interfaces]
ipv4 = "eth0"
ipv6 = "eth1"
ipv4_big_tcp = false
ipv6_big_tcp = 262144
restore_big_tcp = false

[siit]
pool6 = "2001:db8:64::/96"
ipv4_prefixes = ["198.51.100.0/24", "203.0.113.0/25"]
wkp_allow_non_global = true
rfc6791_pool4 = ["192.0.2.1"]
rfc6791_pool6 = "2001:db8:ffff::1"
lowest_ipv6_mtu = 1500
traffic_class = 46
udp_zero_checksum = "drop"
icmp_error_rate = 0

[[siit.eamt]]
ipv4_prefix = "192.0.2.128/28"
ipv6_prefix = "2001:db8:e::/124"

[[siit.eamt]]
ipv4_prefix = "192.0.2.130/32"
ipv6_prefix = "2001:db8:e:1::2/128"

[nat46]
snat_addresses = ["2001:db8:ff::1", "2001:db8:ff::2"]
snat_ports = [20000, 29999]
preserve_prefix = "2001:db8:46::/96"
maglev_table_size = 131071
maglev_seed = 42

[nat46.timeouts]
tcp_syn = 30
tcp_established = 86400
tcp_closing = 240
tcp_reset = 5
udp = 120

[[service]]
name = "web"
vip = "192.0.2.80"
port = 80
protocol = "tcp"
source_mode = "preserve"
source_ranges = ["192.0.2.0/24"]
backends = [
    { address = "2001:db8:a::10", port = 8080, weight = 1, cluster = "a" },
    { address = "2001:db8:b::10", port = 8080, weight = 3 },
]

[[service]]
name = "dns"
vip = "192.0.2.53"
port = 53
protocol = "udp"
backends = [{ address = "2001:db8:a::53", port = 53 }]

[api]
socket = "/run/sixgate-test/api.sock"
socket_mode = "0660"

[state]
path = "/var/lib/sixgate-test/state.json"

[exception]
device = "exc-test"
rate = 500
burst = 50
"#;

    const MINIMAL: &str = r#"
[interfaces]
ipv4 = "eth0"
ipv6 = "eth0"

[siit]
pool6 = "2001:db8:64::/96"
ipv4_prefixes = ["198.51.100.0/24"]
"#;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new(FILE))
    }

    fn err(text: &str) -> String {
        match parse(text) {
            Ok(c) => panic!("accepted a bad config: {c:?}\n{text}"),
            Err(e) => e.0,
        }
    }

    /// MINIMAL with `find` replaced by `replace`.
    fn minimal_with(find: &str, replace: &str) -> String {
        assert!(MINIMAL.contains(find), "{find:?} not in MINIMAL");
        MINIMAL.replacen(find, replace, 1)
    }

    /// Asserts `message` is one line naming the file, `field` and `value`.
    fn assert_semantic(message: &str, field: &str, value: &str, why: &str) {
        let head = format!("{FILE}: {field} = {value}: ");
        assert!(
            message
                .lines()
                .any(|l| l.starts_with(&head) && l.contains(why)),
            "expected a line starting {head:?} containing {why:?}, got:\n{message}"
        );
    }

    #[test]
    fn full_file() {
        let c = parse(FULL).unwrap();
        assert_eq!(
            c,
            Config {
                source: PathBuf::from(FILE),
                pin_path: PathBuf::from("/sys/fs/bpf/sixgate-test"),
                ipv4_interface: "eth0".into(),
                ipv6_interface: "eth1".into(),
                pool6: "2001:db8:64::/96".parse().unwrap(),
                ipv4_prefixes: vec![
                    "198.51.100.0/24".parse().unwrap(),
                    "203.0.113.0/25".parse().unwrap()
                ],
                wkp_allow_non_global: true,
                rfc6791_pool4: vec![Ipv4Addr::new(192, 0, 2, 1)],
                rfc6791_pool6: Some("2001:db8:ffff::1".parse().unwrap()),
                lowest_ipv6_mtu: 1500,
                traffic_class: TrafficClass::Override(46),
                udp_zero_checksum: UdpZeroChecksum::Drop,
                icmp_errors: None,
                exception: Some(ExceptionSettings {
                    device: "exc-test".into(),
                    rate: 500,
                    burst: 50,
                }),
                eamt: vec![
                    Eam::new(
                        "192.0.2.128/28".parse().unwrap(),
                        "2001:db8:e::/124".parse().unwrap()
                    )
                    .unwrap(),
                    Eam::new(
                        "192.0.2.130/32".parse().unwrap(),
                        "2001:db8:e:1::2/128".parse().unwrap()
                    )
                    .unwrap(),
                ],
                big_tcp: vec![("eth1".into(), 262_144)],
                restore_big_tcp: false,
                nat46: Nat46Settings {
                    snat_addresses: vec![
                        "2001:db8:ff::1".parse().unwrap(),
                        "2001:db8:ff::2".parse().unwrap()
                    ],
                    snat_ports: (20000, 29999),
                    preserve_prefix: Some("2001:db8:46::/96".parse().unwrap()),
                    maglev_table_size: 131_071,
                    maglev_seed: 42,
                    timeouts: CtTimeouts {
                        tcp_syn: Duration::from_secs(30),
                        tcp_established: Duration::from_secs(86400),
                        tcp_closing: Duration::from_secs(240),
                        tcp_reset: Duration::from_secs(5),
                        udp: Duration::from_secs(120),
                    },
                },
                services: vec![
                    serde_json::from_str(
                        r#"{"name": "web", "vip": "192.0.2.80", "port": 80, "protocol": "tcp",
                            "source_mode": "preserve", "source_ranges": ["192.0.2.0/24"],
                            "backends": [
                              {"address": "2001:db8:a::10", "port": 8080, "weight": 1, "cluster": "a"},
                              {"address": "2001:db8:b::10", "port": 8080, "weight": 3}]}"#
                    )
                    .unwrap(),
                    serde_json::from_str(
                        r#"{"name": "dns", "vip": "192.0.2.53", "port": 53, "protocol": "udp",
                            "source_mode": "gateway", "source_ranges": [],
                            "backends": [{"address": "2001:db8:a::53", "port": 53, "weight": 1}]}"#
                    )
                    .unwrap(),
                ],
                api: ApiSettings {
                    socket: PathBuf::from("/run/sixgate-test/api.sock"),
                    socket_mode: 0o660,
                    listen: None,
                    token_file: None,
                },
                state_path: PathBuf::from("/var/lib/sixgate-test/state.json"),
            }
        );
    }

    #[test]
    fn defaults() {
        let c = parse(MINIMAL).unwrap();
        assert_eq!(c.pin_path, PathBuf::from(DEFAULT_PIN_PATH));
        assert_eq!(c.pin_path, PathBuf::from("/sys/fs/bpf/sixgate"));
        assert!(!c.wkp_allow_non_global);
        assert!(c.big_tcp.is_empty());
        assert!(c.restore_big_tcp);
        // One-armed: both sides on one interface.
        assert_eq!(c.ipv4_interface, c.ipv6_interface);
        // An empty [bpf] table takes the default too.
        let c = parse(&format!("[bpf]\n{MINIMAL}")).unwrap();
        assert_eq!(c.pin_path, PathBuf::from(DEFAULT_PIN_PATH));
        // No NAT46, API or state tables: defaults, no services.
        assert_eq!(c.nat46, Nat46Settings::default());
        assert!(c.services.is_empty());
        assert_eq!(c.api, ApiSettings::default());
        assert_eq!(c.api.socket, PathBuf::from("/run/sixgate/api.sock"));
        assert_eq!(c.api.socket_mode, 0o600);
        assert_eq!(c.state_path, PathBuf::from("/var/lib/sixgate/state.json"));
        assert_eq!(c.lowest_ipv6_mtu, 1280);
        assert_eq!(c.rfc6791_pool6, None);
        assert_eq!(c.traffic_class, TrafficClass::Copy);
        assert_eq!(c.udp_zero_checksum, UdpZeroChecksum::Compute);
        assert_eq!(
            c.icmp_errors,
            Some(RateLimit {
                rate: 1000,
                burst: 50
            })
        );
        assert_eq!(
            c.exception,
            Some(ExceptionSettings {
                device: "sixgate-exc".into(),
                rate: 10_000,
                burst: 1_000,
            })
        );
        // Empty tables take the defaults too.
        let c = parse(&format!(
            "{MINIMAL}[nat46]\n[nat46.timeouts]\n[api]\n[state]\n"
        ))
        .unwrap();
        assert_eq!(c.nat46, Nat46Settings::default());
        assert_eq!(c.api, ApiSettings::default());
        assert_eq!(c.state_path, PathBuf::from(DEFAULT_STATE_PATH));
    }

    #[test]
    fn example_file_parses() {
        let text = include_str!("../../../docs/examples/sixgate.toml");
        let c = Config::parse(text, Path::new("docs/examples/sixgate.toml")).unwrap();
        assert_eq!(c.pin_path, PathBuf::from("/sys/fs/bpf/sixgate"));
        assert_eq!(c.ipv4_interface, "gw-v4");
        assert_eq!(c.ipv6_interface, "gw-v6");
        assert_eq!(c.pool6, "2001:db8:64::/96".parse().unwrap());
        assert_eq!(c.ipv4_prefixes, vec!["198.51.100.0/24".parse().unwrap()]);
        assert!(!c.wkp_allow_non_global);
        assert_eq!(
            c.eamt,
            vec![Eam::new(
                "203.0.113.16/28".parse().unwrap(),
                "2001:db8:e::/124".parse().unwrap()
            )
            .unwrap()]
        );
        // The NAT46 sections write out the defaults, plus one service.
        assert_eq!(
            c.nat46,
            Nat46Settings {
                snat_addresses: vec!["2001:db8:ff::1".parse().unwrap()],
                preserve_prefix: Some("2001:db8:46::/96".parse().unwrap()),
                ..Nat46Settings::default()
            }
        );
        assert_eq!(c.services.len(), 1);
        assert_eq!(c.services[0].name, "web");
        assert_eq!(c.services[0].key().to_string(), "203.0.113.80:80/tcp");
        assert_eq!(c.services[0].backends.len(), 2);
        assert_eq!(c.api, ApiSettings::default());
        assert_eq!(c.state_path, PathBuf::from(DEFAULT_STATE_PATH));
    }

    #[test]
    fn big_tcp_settings() {
        let c = parse(&minimal_with(
            "ipv6 = \"eth0\"\n",
            "ipv6 = \"eth0\"\nipv4_big_tcp = true\nipv6_big_tcp = true\n",
        ))
        .unwrap();
        // One-armed: the interface is set once.
        assert_eq!(c.big_tcp, vec![("eth0".to_string(), 196_608)]);

        for bad in ["65536", "524281", "-1"] {
            let e = err(&minimal_with(
                "ipv6 = \"eth0\"\n",
                &format!("ipv6 = \"eth0\"\nipv6_big_tcp = {bad}\n"),
            ));
            assert_semantic(&e, "interfaces.ipv6_big_tcp", bad, "must be above 65536");
        }
        let e = err(&minimal_with(
            "ipv6 = \"eth0\"\n",
            "ipv6 = \"eth0\"\nipv4_big_tcp = true\nipv6_big_tcp = 262144\n",
        ));
        assert_semantic(
            &e,
            "interfaces.ipv6_big_tcp",
            "262144",
            "give both the same value",
        );
        let e = err(&minimal_with(
            "ipv6 = \"eth0\"\n",
            "ipv6 = \"eth0\"\nipv4_big_tcp = \"yes\"\n",
        ));
        assert!(
            e.contains("interfaces.ipv4_big_tcp: invalid type: string \"yes\", expected true, false, or a GSO/GRO size in bytes"),
            "{e}"
        );
    }

    #[test]
    fn unknown_key_has_line_col_and_table() {
        let text = "[interfaces]\nipv4 = \"eth0\"\nipv6 = \"eth1\"\n\n[siit]\npool6 = \"2001:db8:64::/96\"\npool4 = \"192.0.2.0/24\"\nipv4_prefixes = [\"198.51.100.0/24\"]\n";
        let e = err(text);
        assert!(
            e.starts_with(
                "sixgate.toml:7:1: unknown field `pool4` in [siit], expected one of `pool6`"
            ),
            "{e}"
        );
        assert!(!e.contains('\n'), "{e}");
    }

    #[test]
    fn unknown_table_and_nested_key() {
        let e = err(&format!("{MINIMAL}\n[nat64]\npool4 = \"192.0.2.0/24\"\n"));
        assert!(
            e.starts_with("sixgate.toml:10:2: unknown field `nat64` at the top level, expected one of `bpf`, `interfaces`, `siit`"),
            "{e}"
        );
        // An inline table inside [interfaces]: the key belongs to [interfaces].
        let e = err(&minimal_with(
            "ipv6 = \"eth0\"",
            "ipv6 = \"eth0\"\nmtu = { ipv4 = 1500 }",
        ));
        assert!(
            e.starts_with("sixgate.toml:5:1: unknown field `mtu` in [interfaces]"),
            "{e}"
        );
        let e = err(&format!("[bpf]\npin = \"/sys/fs/bpf/x\"\n{MINIMAL}"));
        assert!(
            e.starts_with("sixgate.toml:2:1: unknown field `pin` in [bpf], expected `pin_path`"),
            "{e}"
        );
    }

    #[test]
    fn unknown_keys_in_sub_tables_and_dotted_keys() {
        let e = err(&format!("{MINIMAL}[siit.extra]\nx = 1\n"));
        assert!(
            e.starts_with("sixgate.toml:9:7: unknown field `extra` in [siit], expected one of"),
            "{e}"
        );
        let e = err(&minimal_with(
            "[siit]\n",
            "[siit]\nnat64.pool4 = \"192.0.2.0/24\"\n",
        ));
        assert!(
            e.starts_with("sixgate.toml:7:1: unknown field `nat64` in [siit]"),
            "{e}"
        );
    }

    #[test]
    fn table_of_knows_every_field() {
        // serde lists a table's fields when it meets an unknown one.
        let service = "[[service]]\nname = \"web\"\nvip = \"198.51.100.80\"\nport = 80\n\
                       protocol = \"tcp\"\n";
        let probes = [
            ("", format!("bogus = 1\n{MINIMAL}")),
            ("[bpf]", format!("[bpf]\nbogus = 1\n{MINIMAL}")),
            (
                "[interfaces]",
                minimal_with("[interfaces]\n", "[interfaces]\nbogus = 1\n"),
            ),
            ("[siit]", minimal_with("[siit]\n", "[siit]\nbogus = 1\n")),
            (
                "[[siit.eamt]]",
                format!("{MINIMAL}[[siit.eamt]]\nbogus = 1\n"),
            ),
            ("[nat46]", format!("{MINIMAL}[nat46]\nbogus = 1\n")),
            (
                "[nat46.timeouts]",
                format!("{MINIMAL}[nat46.timeouts]\nbogus = 1\n"),
            ),
            ("[[service]]", format!("{MINIMAL}{service}bogus = 1\n")),
            (
                "a [[service]] backend",
                format!("{MINIMAL}{service}backends = [{{ bogus = 1 }}]\n"),
            ),
            ("[api]", format!("{MINIMAL}[api]\nbogus = 1\n")),
            ("[state]", format!("{MINIMAL}[state]\nbogus = 1\n")),
        ];
        for (table, text) in probes {
            let e = toml::from_str::<RawConfig>(&text).unwrap_err();
            let expected = e.message().split_once("expected").unwrap().1;
            let fields: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
            assert!(!fields.is_empty(), "{expected}");
            for field in fields {
                // `port` is in two tables and names neither.
                let want = if field == "port" { None } else { Some(table) };
                assert_eq!(table_of(field), want, "field `{field}`");
            }
        }
    }

    #[test]
    fn missing_keys() {
        let e = err(&minimal_with("ipv6 = \"eth0\"\n", ""));
        assert!(
            e.starts_with("sixgate.toml:2:1: missing field `ipv6` in [interfaces]"),
            "{e}"
        );
        let e = err(&minimal_with("pool6 = \"2001:db8:64::/96\"\n", ""));
        assert!(e.contains("missing field `pool6` in [siit]"), "{e}");
        let e = err(&minimal_with("ipv4_prefixes = [\"198.51.100.0/24\"]\n", ""));
        assert!(e.contains("missing field `ipv4_prefixes` in [siit]"), "{e}");
        let e = err("[interfaces]\nipv4 = \"eth0\"\nipv6 = \"eth1\"\n");
        assert!(e.starts_with("sixgate.toml"), "{e}");
        assert!(e.contains("missing table [siit]"), "{e}");
        let e = err("");
        assert!(e.contains("missing table [interfaces]"), "{e}");
    }

    #[test]
    fn wrong_types_name_the_field() {
        let e = err(&minimal_with("ipv4 = \"eth0\"", "ipv4 = 4"));
        assert!(
            e.starts_with(
                "sixgate.toml:3:8: interfaces.ipv4: invalid type: integer `4`, expected a string"
            ),
            "{e}"
        );
        let e = err(&minimal_with(
            "[\"198.51.100.0/24\"]",
            "[\"198.51.100.0/24\", 203]",
        ));
        assert!(
            e.starts_with("sixgate.toml:8:37: siit.ipv4_prefixes[1]: invalid type: integer `203`"),
            "{e}"
        );
        let e = err(&format!("{MINIMAL}wkp_allow_non_global = \"yes\"\n"));
        assert!(
            e.starts_with("sixgate.toml:9:24: siit.wkp_allow_non_global: invalid type: string \"yes\", expected a boolean"),
            "{e}"
        );
        let e = err(&minimal_with("\"2001:db8:64::/96\"", "1979-05-27"));
        assert!(
            e.starts_with("sixgate.toml:7:9: siit.pool6: invalid type: date-time `1979-05-27`, expected a string"),
            "{e}"
        );
        let e = err(&minimal_with(
            "[\"198.51.100.0/24\"]",
            "\"198.51.100.0/24\"",
        ));
        assert!(
            e.starts_with("sixgate.toml:8:17: siit.ipv4_prefixes: invalid type: string"),
            "{e}"
        );
    }

    #[test]
    fn syntax_error_has_line_col() {
        let e = err("[interfaces]\nipv4 = \"eth0\"\nipv6 = eth1\n");
        assert!(e.starts_with("sixgate.toml:3:8: "), "{e}");
        assert!(!e.contains('\n'), "one line: {e}");
        let e = err("[interfaces\n");
        assert!(
            e.starts_with("sixgate.toml:1:12: invalid table header"),
            "{e}"
        );
    }

    #[test]
    fn pool6_must_be_rfc6052() {
        let e = err(&minimal_with("2001:db8:64::/96", "2001:db8::/33"));
        assert_eq!(
            e,
            "sixgate.toml: siit.pool6 = \"2001:db8::/33\": prefix length 33 is not one RFC 6052 allows (32, 40, 48, 56, 64, 96)"
        );
        let e = err(&minimal_with("2001:db8:64::/96", "2001:db8:64::1/96"));
        assert_semantic(&e, "siit.pool6", "\"2001:db8:64::1/96\"", "host bits set");
        let e = err(&minimal_with("2001:db8:64::/96", "2001:db8:0:0:ff00::/96"));
        assert_semantic(&e, "siit.pool6", "\"2001:db8:0:0:ff00::/96\"", "bits 64-71");
        let e = err(&minimal_with("2001:db8:64::/96", "198.51.100.0/24"));
        assert_semantic(
            &e,
            "siit.pool6",
            "\"198.51.100.0/24\"",
            "not an IPv6 address",
        );
    }

    #[test]
    fn ipv4_prefixes_must_parse() {
        let e = err(&minimal_with(
            "[\"198.51.100.0/24\"]",
            "[\"198.51.100.0/24\", \"203.0.113.1/24\", \"192.0.2.0\"]",
        ));
        assert_semantic(
            &e,
            "siit.ipv4_prefixes[1]",
            "\"203.0.113.1/24\"",
            "did you mean 203.0.113.0/24?",
        );
        assert_semantic(
            &e,
            "siit.ipv4_prefixes[2]",
            "\"192.0.2.0\"",
            "ADDRESS/LENGTH",
        );
        assert_eq!(e.lines().count(), 2, "{e}");
    }

    #[test]
    fn ipv4_prefixes_must_not_be_empty() {
        let e = err(&minimal_with("[\"198.51.100.0/24\"]", "[]"));
        assert_semantic(&e, "siit.ipv4_prefixes", "[]", "at least one IPv4 prefix");
    }

    #[test]
    fn ipv4_prefixes_fit_the_data_path() {
        let list = |n: usize| {
            let entries: Vec<String> = (0..n)
                .map(|i| format!("\"10.{}.{}.0/24\"", i / 256, i % 256))
                .collect();
            minimal_with(
                "[\"198.51.100.0/24\"]",
                &format!("[{}]", entries.join(", ")),
            )
        };
        parse(&list(MAX_IPV4_PREFIXES)).unwrap();
        let e = err(&list(MAX_IPV4_PREFIXES + 1));
        assert_semantic(
            &e,
            "siit.ipv4_prefixes",
            "[...1025 entries]",
            "at most 1024",
        );
    }

    #[test]
    fn ipv4_prefixes_must_not_overlap() {
        let e = err(&minimal_with(
            "[\"198.51.100.0/24\"]",
            "[\"198.51.100.0/24\", \"203.0.113.0/24\", \"198.51.100.128/25\", \"203.0.113.0/24\"]",
        ));
        assert_semantic(
            &e,
            "siit.ipv4_prefixes[2]",
            "\"198.51.100.128/25\"",
            "overlaps siit.ipv4_prefixes[0] = \"198.51.100.0/24\"",
        );
        assert_semantic(
            &e,
            "siit.ipv4_prefixes[3]",
            "\"203.0.113.0/24\"",
            "duplicates siit.ipv4_prefixes[1] = \"203.0.113.0/24\"",
        );
        assert_eq!(e.lines().count(), 2, "{e}");
    }

    #[test]
    fn interface_names() {
        let cases = [
            ("", "cannot be empty"),
            ("sixteen-bytes-xx", "is 16 bytes long"),
            ("eth/0", "cannot contain '/'"),
            ("eth 0", "cannot contain ' '"),
            ("eth:0", "cannot contain ':'"),
            ("..", "not a valid interface name"),
        ];
        for (name, why) in cases {
            let e = err(&minimal_with(
                "ipv4 = \"eth0\"",
                &format!("ipv4 = {name:?}"),
            ));
            assert_semantic(&e, "interfaces.ipv4", &format!("{name:?}"), why);
        }
        let e = err(&minimal_with("ipv6 = \"eth0\"", "ipv6 = \"\\teth1\""));
        assert_semantic(&e, "interfaces.ipv6", "\"\\teth1\"", "cannot contain '\\t'");
        // Exactly 15 bytes is fine.
        parse(&minimal_with(
            "ipv4 = \"eth0\"",
            "ipv4 = \"fifteen-bytes-x\"",
        ))
        .unwrap();
    }

    #[test]
    fn pin_path_must_be_absolute() {
        let e = err(&format!("[bpf]\npin_path = \"bpf/sixgate\"\n{MINIMAL}"));
        assert_semantic(&e, "bpf.pin_path", "\"bpf/sixgate\"", "absolute path");
        let e = err(&format!("[bpf]\npin_path = \"\"\n{MINIMAL}"));
        assert_semantic(&e, "bpf.pin_path", "\"\"", "absolute path");
    }

    #[test]
    fn well_known_prefix_rejects_non_global_ipv4() {
        let wkp = minimal_with("2001:db8:64::/96", "64:ff9b::/96");
        let e = err(&wkp);
        assert_semantic(
            &e,
            "siit.ipv4_prefixes[0]",
            "\"198.51.100.0/24\"",
            "RFC 6052 §3.1",
        );
        assert!(e.contains("siit.wkp_allow_non_global = true"), "{e}");
        assert!(e.contains("64:ff9b::/96"), "{e}");
        // The option relaxes it.
        let c = parse(&format!("{wkp}wkp_allow_non_global = true\n")).unwrap();
        assert!(c.pool6.is_well_known() && c.wkp_allow_non_global);
        // Global IPv4 space is fine behind the WKP (nothing is sent here).
        parse(&wkp.replace("198.51.100.0/24", "8.8.8.0/24")).unwrap();
        // A network-specific prefix has no such rule.
        parse(MINIMAL).unwrap();
    }

    #[test]
    fn all_semantic_errors_at_once() {
        let text = r#"
[bpf]
pin_path = "relative"
[interfaces]
ipv4 = "a-very-long-interface-name"
ipv6 = "eth 1"
[siit]
pool6 = "2001:db8::/33"
ipv4_prefixes = ["198.51.100.0/24", "198.51.100.0/23", "bogus"]
"#;
        let e = err(text);
        let lines: Vec<&str> = e.lines().collect();
        assert_eq!(lines.len(), 6, "{e}");
        assert!(lines.iter().all(|l| l.starts_with("sixgate.toml: ")), "{e}");
        assert_semantic(&e, "bpf.pin_path", "\"relative\"", "absolute");
        assert_semantic(
            &e,
            "interfaces.ipv4",
            "\"a-very-long-interface-name\"",
            "26 bytes",
        );
        assert_semantic(&e, "interfaces.ipv6", "\"eth 1\"", "cannot contain");
        assert_semantic(&e, "siit.pool6", "\"2001:db8::/33\"", "prefix length 33");
        assert_semantic(
            &e,
            "siit.ipv4_prefixes[1]",
            "\"198.51.100.0/23\"",
            "overlaps",
        );
        assert_semantic(&e, "siit.ipv4_prefixes[2]", "\"bogus\"", "ADDRESS/LENGTH");
    }

    #[test]
    fn check_host_finds_interfaces() {
        let mut c = parse(MINIMAL).unwrap();
        c.ipv4_interface = "lo".into();
        c.ipv6_interface = "lo".into();
        c.check_host().unwrap();
        c.ipv4_interface = "sixgate-nosuch9".into();
        let e = c.check_host().unwrap_err().0;
        assert_eq!(
            e,
            "sixgate.toml: interfaces.ipv4 = \"sixgate-nosuch9\": no such network interface on this host"
        );
        c.ipv6_interface = "sixgate-nosuch8".into();
        let e = c.check_host().unwrap_err().0;
        assert_eq!(e.lines().count(), 2, "{e}");
        assert_semantic(
            &e,
            "interfaces.ipv6",
            "\"sixgate-nosuch8\"",
            "no such network interface",
        );
    }

    #[test]
    fn interface_index_of_loopback() {
        assert!(interface_index("lo").is_some());
        assert_eq!(interface_index("sixgate-nosuch9"), None);
        assert_eq!(interface_index("l\0o"), None);
    }

    #[test]
    fn load_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sixgate.toml");
        std::fs::write(&path, MINIMAL.replace("2001:db8:64::/96", "2001:db8::/33")).unwrap();
        let e = Config::load(&path).unwrap_err().0;
        assert!(
            e.starts_with(&format!("{}: siit.pool6", path.display())),
            "{e}"
        );
        let e = Config::load(&dir.path().join("absent.toml")).unwrap_err().0;
        assert!(e.contains("absent.toml: cannot read"), "{e}");
    }

    #[test]
    fn line_col_counts_characters() {
        let text = "a\nbé = 1\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 2), (2, 1));
        assert_eq!(line_col(text, 5), (2, 3)); // after the 2-byte 'é'
        assert_eq!(line_col(text, text.len()), (3, 1));
        assert_eq!(line_col(text, 4), (2, 2)); // inside 'é': its start
    }
    /// MINIMAL plus `[nat46]` with both source modes possible, and `extra`.
    fn nat46_with(extra: &str) -> String {
        format!(
            "{MINIMAL}[nat46]\nsnat_addresses = [\"2001:db8:ff::1\"]\n\
             preserve_prefix = \"2001:db8:46::/96\"\n{extra}"
        )
    }

    const WEB: &str = r#"
[[service]]
name = "web"
vip = "192.0.2.80"
port = 80
protocol = "tcp"
backends = [
    { address = "2001:db8:a::10", port = 8080 },
    { address = "2001:db8:b::10", port = 8080 },
]
"#;

    #[test]
    fn service_values_name_service_index_and_field() {
        let bad = WEB
            .replace("2001:db8:b::10", "fe80::10")
            .replace("port = 80\n", "port = 0\n");
        let e = err(&nat46_with(&format!("{WEB}{bad}")));
        assert_semantic(
            &e,
            "service[1].backends[1].address",
            "\"fe80::10\"",
            "link-local",
        );
        assert_semantic(&e, "service[1].port", "0", "1 to 65535");
        // The second "web" also repeats the name (the key differs: port 0).
        assert_semantic(
            &e,
            "service[1].name",
            "\"web\"",
            "duplicates service[0].name",
        );
        assert_eq!(e.lines().count(), 3, "{e}");
    }

    #[test]
    fn services_conflicting_on_key() {
        let other = WEB.replace("\"web\"", "\"web2\"");
        let e = err(&nat46_with(&format!("{WEB}{other}")));
        assert_eq!(
            e,
            "sixgate.toml: service[1].vip = \"192.0.2.80\": 192.0.2.80:80/tcp is also \
             service[0] (\"web\"); a VIP, port and protocol belong to one service"
        );
        // Another protocol on the same VIP and port is another service.
        let udp = other.replace("\"tcp\"", "\"udp\"");
        let c = parse(&nat46_with(&format!("{WEB}{udp}"))).unwrap();
        assert_eq!(c.services.len(), 2);
        assert_eq!(c.services[1].key().to_string(), "192.0.2.80:80/udp");
    }

    #[test]
    fn service_types_have_line_col_and_path() {
        // Wrong family: a serde error at the value, naming it.
        let e = err(&nat46_with(&WEB.replace("192.0.2.80", "2001:db8::80")));
        assert_eq!(
            e,
            "sixgate.toml:15:7: service[0].vip: \"2001:db8::80\" is an IPv6 address; \
             an IPv4 address is required here"
        );
        let e = err(&nat46_with(&WEB.replace("2001:db8:b::10", "192.0.2.10")));
        assert!(
            e.starts_with(
                "sixgate.toml:20:17: service[0].backends[1].address: \"192.0.2.10\" is an \
                 IPv4 address; an IPv6 address is required here"
            ),
            "{e}"
        );
        let e = err(&nat46_with(&WEB.replace("\"tcp\"", "\"sctp\"")));
        assert!(
            e.starts_with("sixgate.toml:17:12: service[0].protocol: unknown variant `sctp`"),
            "{e}"
        );
        let e = err(&nat46_with(
            &WEB.replace("port = 80\n", "port = 80\ncolour = 1\n"),
        ));
        assert!(
            e.starts_with(
                "sixgate.toml:17:1: unknown field `colour` in [[service]], expected one of `name`"
            ),
            "{e}"
        );
        let e = err(&nat46_with(
            &WEB.replace("port = 8080 }", "port = 8080, wieght = 2 }"),
        ));
        assert!(
            e.contains(
                "unknown field `wieght` in a [[service]] backend, expected one of `address`"
            ),
            "{e}"
        );
        let e = err(&nat46_with(&WEB.replace("protocol = \"tcp\"\n", "")));
        assert!(e.contains("missing field `protocol` in [[service]]"), "{e}");
        // `port` belongs to two tables: the message names the value's path.
        let e = err(&nat46_with(&WEB.replace(", port = 8080 }", " }")));
        assert!(
            e.contains("service[0].backends[0]: missing field `port`"),
            "{e}"
        );
    }

    #[test]
    fn services_need_their_nat46_settings() {
        let preserve = WEB.replace(
            "protocol = \"tcp\"\n",
            "protocol = \"tcp\"\nsource_mode = \"preserve\"\n",
        );
        let e = err(&format!(
            "{MINIMAL}{WEB}{}",
            preserve
                .replace("\"web\"", "\"web2\"")
                .replace("port = 80\n", "port = 81\n")
        ));
        assert_semantic(
            &e,
            "service[0].source_mode",
            "\"gateway\"",
            "needs nat46.snat_addresses",
        );
        assert_semantic(
            &e,
            "service[1].source_mode",
            "\"preserve\"",
            "needs nat46.preserve_prefix",
        );
        assert_eq!(e.lines().count(), 2, "{e}");
        // A setting written wrongly is reported once, where it is written.
        let e = err(&format!(
            "{MINIMAL}[nat46]\nsnat_addresses = [\"192.0.2.1\"]\n{WEB}"
        ));
        assert_eq!(
            e,
            "sixgate.toml: nat46.snat_addresses[0] = \"192.0.2.1\": is not an IPv6 address"
        );
        let e = err(&format!(
            "{MINIMAL}[nat46]\npreserve_prefix = \"2001:db8:46::/95\"\n{preserve}"
        ));
        assert_eq!(e.lines().count(), 1, "{e}");
        assert_semantic(
            &e,
            "nat46.preserve_prefix",
            "\"2001:db8:46::/95\"",
            "RFC 6052",
        );
    }

    #[test]
    fn maglev_table_size_is_prime_and_big_enough() {
        for bad in ["65536", "65535", "1", "16777259"] {
            let e = err(&nat46_with(&format!("maglev_table_size = {bad}\n")));
            assert_eq!(e.lines().count(), 1, "{e}");
            assert_semantic(&e, "nat46.maglev_table_size", bad, "must be a prime number");
        }
        parse(&nat46_with("maglev_table_size = 16777213\n")).unwrap();
        // 2 backends need 200 slots.
        let e = err(&nat46_with(&format!("maglev_table_size = 199\n{WEB}")));
        assert_semantic(
            &e,
            "service[0].backends",
            "[...2 entries]",
            "at least 100 slots each (200)",
        );
        parse(&nat46_with(&format!("maglev_table_size = 211\n{WEB}"))).unwrap();
    }

    #[test]
    fn snat_settings() {
        let e = err(&format!(
            "{MINIMAL}[nat46]\nsnat_addresses = [\"2001:db8::1\", \"::1\", \"2001:db8::1\", \"x\"]\n"
        ));
        assert_semantic(&e, "nat46.snat_addresses[1]", "\"::1\"", "loopback");
        assert_semantic(
            &e,
            "nat46.snat_addresses[2]",
            "\"2001:db8::1\"",
            "duplicates nat46.snat_addresses[0]",
        );
        assert_semantic(
            &e,
            "nat46.snat_addresses[3]",
            "\"x\"",
            "not an IPv6 address",
        );
        assert_eq!(e.lines().count(), 3, "{e}");
        let many: Vec<String> = (1..=17).map(|i| format!("\"2001:db8::{i}\"")).collect();
        let e = err(&format!(
            "{MINIMAL}[nat46]\nsnat_addresses = [{}]\n",
            many.join(", ")
        ));
        assert_semantic(&e, "nat46.snat_addresses", "[...17 entries]", "at most 16");

        for bad in ["[1023, 2000]", "[3000, 2999]"] {
            let e = err(&nat46_with(&format!("snat_ports = {bad}\n")));
            assert_semantic(&e, "nat46.snat_ports", bad, "1024 <= FIRST <= LAST");
        }
        let c = parse(&nat46_with("snat_ports = [1024, 1024]\n")).unwrap();
        assert_eq!(c.nat46.snat_ports, (1024, 1024));
        let e = err(&nat46_with("snat_ports = [1024, 70000]\n"));
        assert!(
            e.contains("nat46.snat_ports[1]: invalid value: integer `70000`"),
            "{e}"
        );
        let e = err(&nat46_with("snat_ports = [1024]\n"));
        assert!(e.contains("nat46.snat_ports"), "{e}");
    }

    #[test]
    fn timeouts() {
        let c = parse(&format!("{MINIMAL}[nat46.timeouts]\nudp = 600\n")).unwrap();
        assert_eq!(c.nat46.timeouts.udp, Duration::from_secs(600));
        assert_eq!(
            c.nat46.timeouts.tcp_established,
            CtTimeouts::default().tcp_established
        );
        for key in [
            "tcp_syn",
            "tcp_established",
            "tcp_closing",
            "tcp_reset",
            "udp",
        ] {
            for bad in ["0", "604801"] {
                let e = err(&format!("{MINIMAL}[nat46.timeouts]\n{key} = {bad}\n"));
                assert_eq!(
                    e,
                    format!(
                        "sixgate.toml: nat46.timeouts.{key} = {bad}: must be 1 to 604800 seconds"
                    )
                );
            }
        }
        // Under a dotted header toml gives no path, only the position.
        let e = err(&format!("{MINIMAL}[nat46.timeouts]\nudp = -1\n"));
        assert_eq!(
            e,
            "sixgate.toml:10:7: invalid value: integer `-1`, expected u64"
        );
        let e = err(&format!("{MINIMAL}[nat46]\ntimeouts = {{ udp = -1 }}\n"));
        assert!(
            e.starts_with("sixgate.toml:10:20: nat46.timeouts.udp: invalid value: integer `-1`"),
            "{e}"
        );
    }

    #[test]
    fn api_settings() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "s3cret\n").unwrap();
        let c = parse(&format!(
            "{MINIMAL}[api]\nlisten = \"127.0.0.1:8046\"\ntoken_file = {:?}\n",
            token.display().to_string()
        ))
        .unwrap();
        assert_eq!(c.api.listen, Some("127.0.0.1:8046".parse().unwrap()));
        assert_eq!(c.api.token_file.as_deref(), Some(token.as_path()));
        assert_eq!(read_token(&token).unwrap(), "s3cret");

        let e = err(&format!("{MINIMAL}[api]\nlisten = \"[::1]:8046\"\n"));
        assert_semantic(&e, "api.listen", "\"[::1]:8046\"", "needs api.token_file");
        let e = err(&format!("{MINIMAL}[api]\ntoken_file = \"/etc/t\"\n"));
        assert_semantic(
            &e,
            "api.token_file",
            "\"/etc/t\"",
            "only used with api.listen",
        );
        for bad in ["localhost:80", "127.0.0.1", "127.0.0.1:0"] {
            let e = err(&format!(
                "{MINIMAL}[api]\nlisten = {bad:?}\ntoken_file = {:?}\n",
                token.display().to_string()
            ));
            assert_semantic(&e, "api.listen", &format!("{bad:?}"), "ADDRESS:PORT");
        }
        std::fs::write(&token, " \n").unwrap();
        let absent = dir.path().join("absent");
        for (file, why) in [(&token, "is empty"), (&absent, "cannot read")] {
            let path = file.display().to_string();
            let e = err(&format!(
                "{MINIMAL}[api]\nlisten = \"127.0.0.1:8046\"\ntoken_file = {path:?}\n"
            ));
            assert_semantic(&e, "api.token_file", &format!("{path:?}"), why);
        }

        for (text, mode) in [
            ("0600", 0o600),
            ("660", 0o660),
            ("0o644", 0o644),
            ("0000", 0),
        ] {
            let c = parse(&format!("{MINIMAL}[api]\nsocket_mode = {text:?}\n")).unwrap();
            assert_eq!(c.api.socket_mode, mode, "{text}");
        }
        for bad in ["", "0800", "1777", "rw", "00600"] {
            let e = err(&format!("{MINIMAL}[api]\nsocket_mode = {bad:?}\n"));
            assert_semantic(&e, "api.socket_mode", &format!("{bad:?}"), "octal");
        }
        let e = err(&format!("{MINIMAL}[api]\nsocket_mode = 600\n"));
        assert!(
            e.contains("api.socket_mode: invalid type: integer `600`, expected a string"),
            "{e}"
        );
        let e = err(&format!("{MINIMAL}[api]\nsocket = \"api.sock\"\n"));
        assert_semantic(&e, "api.socket", "\"api.sock\"", "absolute path");
        let e = err(&format!("{MINIMAL}[state]\npath = \"state.json\"\n"));
        assert_semantic(&e, "state.path", "\"state.json\"", "absolute path");
    }

    #[test]
    fn rfc6791_pool4_is_checked_entry_by_entry() {
        let e = err(&format!(
            "{MINIMAL}rfc6791_pool4 = [\"127.0.0.1\", \"192.0.2.1\", \"192.0.2.1\", \"x\", \"192.0.2.9\"]\n"
        ));
        assert!(
            e.contains("siit.rfc6791_pool4 = [...5 entries]: at most 4 addresses"),
            "{e}"
        );
        assert!(
            e.contains("siit.rfc6791_pool4[0] = \"127.0.0.1\": may not be"),
            "{e}"
        );
        assert!(
            e.contains("siit.rfc6791_pool4[2] = \"192.0.2.1\": listed twice"),
            "{e}"
        );
        assert!(
            e.contains("siit.rfc6791_pool4[3] = \"x\": not an IPv4 address"),
            "{e}"
        );
        let c = parse(&format!("{MINIMAL}rfc6791_pool4 = [\"192.0.2.1\"]\n")).unwrap();
        assert_eq!(c.rfc6791_pool4, vec![Ipv4Addr::new(192, 0, 2, 1)]);
    }

    #[test]
    fn rfc6791_pool6_is_checked() {
        for (text, why) in [
            ("::1", "may not be a packet's source"),
            ("ff02::1", "may not be a packet's source"),
            ("2001:db8:64::c000:201", "inside siit.pool6"),
            ("192.0.2.1", "not an IPv6 address"),
        ] {
            assert_semantic(
                &err(&format!("{MINIMAL}rfc6791_pool6 = \"{text}\"\n")),
                "siit.rfc6791_pool6",
                &format!("\"{text}\""),
                why,
            );
        }
        let c = parse(&format!("{MINIMAL}rfc6791_pool6 = \"2001:db8:6::1\"\n")).unwrap();
        assert_eq!(c.rfc6791_pool6, Some("2001:db8:6::1".parse().unwrap()));
    }

    #[test]
    fn lowest_ipv6_mtu_and_exception_settings() {
        for bad in ["1279", "65536", "-1"] {
            assert_semantic(
                &err(&format!("{MINIMAL}lowest_ipv6_mtu = {bad}\n")),
                "siit.lowest_ipv6_mtu",
                bad,
                "must be from 1280",
            );
        }
        let e = err(&format!(
            "{MINIMAL}[exception]\ndevice = \"this-name-is-too-long\"\nrate = 0\nburst = 4294967296\n"
        ));
        assert_semantic(
            &e,
            "exception.device",
            "\"this-name-is-too-long\"",
            "at most 15",
        );
        assert_semantic(&e, "exception.rate", "0", "from 1 to 4294967295");
        assert_semantic(&e, "exception.burst", "4294967296", "from 1 to 4294967295");
        assert_semantic(
            &err(&format!("{MINIMAL}[exception]\ndevice = \"eth0\"\n")),
            "exception.device",
            "\"eth0\"",
            "a device of its own",
        );
        let c = parse(&format!("{MINIMAL}[exception]\nenabled = false\n")).unwrap();
        assert_eq!(c.exception, None);
        for (text, bad) in [("256", "256"), ("\"keep\"", "\"keep\""), ("1.5", "1.5")] {
            assert_semantic(
                &err(&format!("{MINIMAL}traffic_class = {text}\n")),
                "siit.traffic_class",
                bad,
                "must be \"copy\"",
            );
        }
        let e = err(&format!(
            "{MINIMAL}icmp_error_rate = -1\nicmp_error_burst = 0\n"
        ));
        assert_semantic(&e, "siit.icmp_error_rate", "-1", "from 0 (no limit)");
        assert_semantic(&e, "siit.icmp_error_burst", "0", "from 1 to 4294967295");
        let c = parse(&format!("{MINIMAL}traffic_class = \"zero\"\n")).unwrap();
        assert_eq!(c.traffic_class, TrafficClass::Zero);
        assert_semantic(
            &err(&format!("{MINIMAL}udp_zero_checksum = \"fix\"\n")),
            "siit.udp_zero_checksum",
            "\"fix\"",
            "must be \"compute\"",
        );
        let e = err(&format!("{MINIMAL}[exception]\nrate_limit = 5\n"));
        assert!(
            e.contains("unknown field `rate_limit` in [exception]"),
            "{e}"
        );
    }

    fn with_eams(eams: &[(&str, &str)]) -> String {
        let mut text = MINIMAL.to_string();
        for (v4, v6) in eams {
            text.push_str(&format!(
                "\n[[siit.eamt]]\nipv4_prefix = {v4:?}\nipv6_prefix = {v6:?}\n"
            ));
        }
        text
    }

    #[test]
    fn eamt_entries_in_file_order() {
        // Unequal suffixes (8 IPv4 bits in 16 IPv6 bits) and a host nested
        // in a mapped range (the longest match wins) are both fine.
        let c = parse(&with_eams(&[
            ("192.0.2.0/24", "2001:db8:e::/112"),
            ("192.0.2.7/32", "2001:db8:f::7/128"),
        ]))
        .unwrap();
        let want: Vec<Eam> = [
            ("192.0.2.0/24", "2001:db8:e::/112"),
            ("192.0.2.7/32", "2001:db8:f::7/128"),
        ]
        .iter()
        .map(|(a, b)| Eam::new(a.parse().unwrap(), b.parse().unwrap()).unwrap())
        .collect();
        assert_eq!(c.eamt, want);
        assert!(parse(MINIMAL).unwrap().eamt.is_empty());
        // The inline form is the same list.
        let c = parse(&format!(
            "{MINIMAL}eamt = [{{ ipv4_prefix = \"192.0.2.0/24\", ipv6_prefix = \"2001:db8:e::/112\" }}]\n"
        ))
        .unwrap();
        assert_eq!(c.eamt, want[..1]);
    }

    #[test]
    fn eamt_is_checked_entry_by_entry() {
        let e = err(&with_eams(&[
            ("192.0.2.0/24", "2001:db8:e::/124"),
            ("192.0.2.1/24", "2001:db8:e::/120"),
            ("192.0.2.0/25", "2001:db8:e::1/120"),
            ("192.0.2.0/28", "2001:db8:f::/124"),
            ("192.0.2.0/28", "2001:db8:f::/124"),
            ("192.0.2.16/28", "2001:db8:f::/124"),
            ("x", "y"),
        ]));
        assert_semantic(
            &e,
            "siit.eamt[0].ipv6_prefix",
            "\"2001:db8:e::/124\"",
            "leaves 4 bits for the 8 bits of 192.0.2.0/24's addresses (RFC 7757 3.2 copies \
             them after the IPv6 prefix); use an IPv6 prefix of at most /120",
        );
        assert_semantic(
            &e,
            "siit.eamt[1].ipv4_prefix",
            "\"192.0.2.1/24\"",
            "host bits set",
        );
        assert_semantic(
            &e,
            "siit.eamt[2].ipv6_prefix",
            "\"2001:db8:e::1/120\"",
            "host bits set",
        );
        assert_semantic(
            &e,
            "siit.eamt[4].ipv4_prefix",
            "\"192.0.2.0/28\"",
            "is already mapped by siit.eamt[3]",
        );
        for i in [4, 5] {
            assert_semantic(
                &e,
                &format!("siit.eamt[{i}].ipv6_prefix"),
                "\"2001:db8:f::/124\"",
                "is already mapped by siit.eamt[3]",
            );
        }
        assert_semantic(&e, "siit.eamt[6].ipv4_prefix", "\"x\"", "ADDRESS/LENGTH");
        assert_semantic(&e, "siit.eamt[6].ipv6_prefix", "\"y\"", "ADDRESS/LENGTH");
        assert_eq!(e.lines().count(), 8, "{e}");

        let e = err(&format!(
            "{MINIMAL}[[siit.eamt]]\nipv4_prefix = \"192.0.2.0/24\"\n"
        ));
        assert!(
            e.contains("missing field `ipv6_prefix` in [[siit.eamt]]"),
            "{e}"
        );
        let many: Vec<(String, String)> = (0..=EAMT_MAX_ENTRIES)
            .map(|i| {
                (
                    format!("10.{}.{}.0/24", i / 256, i % 256),
                    format!("2001:db8:{i:x}::/120"),
                )
            })
            .collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let e = err(&with_eams(&many));
        assert_semantic(
            &e,
            "siit.eamt",
            "[...1025 entries]",
            "at most 1024 mappings",
        );
        parse(&with_eams(&many[..EAMT_MAX_ENTRIES as usize])).unwrap();
    }
}
