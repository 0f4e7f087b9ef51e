//! The stateful NAT46 service model and its validation.
//!
//! A [`Service`] maps an IPv4 VIP:port to IPv6 backends picked by weighted
//! Maglev. The same JSON (API) and TOML (`[[service]]` in the config file)
//! describe it; both go through [`Service::problems`], whose errors name the
//! field path and the value (`backends[2].address = "::1": ...`).

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV6};

use serde::{Deserialize, Serialize};
use sixgate_wire::{ipv4_is_illegal_source, Ipv4Prefix, Rfc6052Prefix};

/// Longest service or cluster name (a DNS label).
pub const MAX_NAME_LEN: usize = 63;
/// Most backends one service may have.
pub const MAX_BACKENDS: usize = 1024;
/// Most entries in a service's `source_ranges`.
pub const MAX_SOURCE_RANGES: usize = 64;
/// Largest backend weight.
pub const MAX_WEIGHT: u32 = 65_535;
/// Most `nat46.snat_addresses`.
pub const MAX_SNAT_ADDRESSES: usize = 16;
/// Maglev slots required per backend (the Maglev paper's M >= 100 N).
pub const MIN_SLOTS_PER_BACKEND: u32 = sixgate_maglev::DEFAULT_MIN_SLOTS_PER_BACKEND;

/// One NAT46 service: an IPv4 VIP:port/protocol served by IPv6 backends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Unique name: 1 to 63 characters `[a-z0-9-]`, starting with a letter.
    pub name: String,
    /// IPv4 address clients connect to.
    #[serde(deserialize_with = "text::ipv4")]
    pub vip: Ipv4Addr,
    /// Port clients connect to, 1 to 65535.
    pub port: u16,
    /// Transport protocol.
    pub protocol: Protocol,
    /// Which IPv6 source address the backends see.
    #[serde(default)]
    pub source_mode: SourceMode,
    /// IPv4 clients allowed to connect; empty means everyone.
    #[serde(
        default,
        deserialize_with = "text::ipv4_prefixes",
        serialize_with = "text::display_all"
    )]
    pub source_ranges: Vec<Ipv4Prefix>,
    /// The backends; none means new flows are dropped (and counted).
    pub backends: Vec<Backend>,
}

/// One IPv6 backend of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backend {
    /// The backend's IPv6 address.
    #[serde(deserialize_with = "text::ipv6")]
    pub address: Ipv6Addr,
    /// The backend's port, 1 to 65535.
    pub port: u16,
    /// Relative share of new flows, 0 to 65535; 0 drains the backend.
    #[serde(default = "default_weight")]
    pub weight: u32,
    /// Cluster the backend belongs to, for operators (same rules as a service name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
}

fn default_weight() -> u32 {
    1
}

impl Backend {
    /// The backend's `[address]:port`.
    pub fn socket_addr(&self) -> SocketAddrV6 {
        SocketAddrV6::new(self.address, self.port, 0, 0)
    }
}

/// A service's transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        })
    }
}

/// The IPv6 source address a backend sees for a translated flow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceMode {
    /// One of `nat46.snat_addresses` and a port from `nat46.snat_ports`.
    #[default]
    Gateway,
    /// The client's IPv4 address embedded in `nat46.preserve_prefix` (RFC 6052).
    Preserve,
}

impl fmt::Display for SourceMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SourceMode::Gateway => "gateway",
            SourceMode::Preserve => "preserve",
        })
    }
}

/// What identifies a service on the wire: no two services share one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ServiceKey {
    /// The VIP.
    pub vip: Ipv4Addr,
    /// The port.
    pub port: u16,
    /// The protocol.
    pub protocol: Protocol,
}

impl fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}/{}", self.vip, self.port, self.protocol)
    }
}

/// One invalid field: its path in the service (`backends[2].address`), the
/// value as written, and why it is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} = {value}: {why}")]
pub struct FieldError {
    /// Path of the field, e.g. `backends[2].address`.
    pub field: String,
    /// The value, as JSON or TOML would write it.
    pub value: String,
    /// Why it is rejected.
    pub why: String,
}

impl FieldError {
    /// A problem with `field`, whose value is `value`.
    pub fn new(field: impl Into<String>, value: impl fmt::Display, why: impl fmt::Display) -> Self {
        FieldError {
            field: field.into(),
            value: value.to_string(),
            why: why.to_string(),
        }
    }
}

/// A string as JSON and TOML write it, for messages.
fn quoted(s: impl fmt::Display) -> String {
    format!("{:?}", s.to_string())
}

impl Service {
    /// The VIP:port/protocol this service answers on.
    pub fn key(&self) -> ServiceKey {
        ServiceKey {
            vip: self.vip,
            port: self.port,
            protocol: self.protocol,
        }
    }

    /// The first problem [`Service::problems`] finds, if any.
    pub fn validate(&self, settings: &Nat46Settings) -> Result<(), FieldError> {
        match self.problems(settings).into_iter().next() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Every problem with this service under `settings`, in field order.
    pub fn problems(&self, settings: &Nat46Settings) -> Vec<FieldError> {
        let mut problems = Vec::new();
        if let Err(why) = check_name(&self.name) {
            problems.push(FieldError::new("name", quoted(&self.name), why));
        }
        if ipv4_is_illegal_source(self.vip) {
            problems.push(FieldError::new(
                "vip",
                quoted(self.vip),
                "is not a unicast address clients can reach (0.0.0.0/8, 127.0.0.0/8, \
                 multicast, class E and broadcast are not allowed; RFC 1812 5.3.7)",
            ));
        }
        if self.port == 0 {
            problems.push(FieldError::new("port", 0, "must be 1 to 65535"));
        }
        match self.source_mode {
            SourceMode::Gateway if settings.snat_addresses.is_empty() => {
                problems.push(FieldError::new(
                    "source_mode",
                    quoted(self.source_mode),
                    "needs nat46.snat_addresses in the configuration file (the IPv6 \
                     source addresses the gateway uses towards backends)",
                ));
            }
            SourceMode::Preserve if settings.preserve_prefix.is_none() => {
                problems.push(FieldError::new(
                    "source_mode",
                    quoted(self.source_mode),
                    "needs nat46.preserve_prefix in the configuration file (the RFC 6052 \
                     prefix client IPv4 addresses are embedded in)",
                ));
            }
            _ => {}
        }

        if self.source_ranges.len() > MAX_SOURCE_RANGES {
            problems.push(FieldError::new(
                "source_ranges",
                format!("[...{} entries]", self.source_ranges.len()),
                format!("at most {MAX_SOURCE_RANGES} source ranges"),
            ));
        }
        for (j, range) in self.source_ranges.iter().enumerate() {
            if let Some(i) = self.source_ranges[..j].iter().position(|r| r == range) {
                problems.push(FieldError::new(
                    format!("source_ranges[{j}]"),
                    quoted(range),
                    format!("duplicates source_ranges[{i}]"),
                ));
            }
        }

        let n = self.backends.len();
        if n > MAX_BACKENDS {
            problems.push(FieldError::new(
                "backends",
                format!("[...{n} entries]"),
                format!("at most {MAX_BACKENDS} backends"),
            ));
        }
        let required = u64::from(MIN_SLOTS_PER_BACKEND) * n as u64;
        if u64::from(settings.maglev_table_size) < required {
            problems.push(FieldError::new(
                "backends",
                format!("[...{n} entries]"),
                format!(
                    "{n} backends need a Maglev table of at least {MIN_SLOTS_PER_BACKEND} \
                     slots each ({required}); nat46.maglev_table_size is {}",
                    settings.maglev_table_size
                ),
            ));
        }
        for (j, b) in self.backends.iter().enumerate() {
            let field = |name: &str| format!("backends[{j}].{name}");
            if let Err(why) = check_backend_address(b.address) {
                problems.push(FieldError::new(field("address"), quoted(b.address), why));
            }
            if b.port == 0 {
                problems.push(FieldError::new(field("port"), 0, "must be 1 to 65535"));
            }
            if b.weight > MAX_WEIGHT {
                problems.push(FieldError::new(
                    field("weight"),
                    b.weight,
                    format!("must be 0 (drain) to {MAX_WEIGHT}"),
                ));
            }
            if let Some(cluster) = &b.cluster {
                if let Err(why) = check_name(cluster) {
                    problems.push(FieldError::new(field("cluster"), quoted(cluster), why));
                }
            }
            let same = |o: &Backend| o.address == b.address && o.port == b.port;
            if let Some(i) = self.backends[..j].iter().position(same) {
                problems.push(FieldError::new(
                    field("address"),
                    quoted(b.address),
                    format!(
                        "{} is also backends[{i}]; each backend address and port may appear once",
                        b.socket_addr()
                    ),
                ));
            }
        }
        problems
    }
}

/// A service or cluster name: a lowercase DNS label starting with a letter.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(format!("must be 1 to {MAX_NAME_LEN} characters long"));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err("must start with a lowercase letter".into());
    }
    if let Some(c) = name
        .chars()
        .find(|&c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
    {
        return Err(format!(
            "cannot contain {c:?}; only lowercase letters, digits and '-' are allowed"
        ));
    }
    Ok(())
}

/// An IPv6 address that can be a backend or a translated source: unicast
/// and routable beyond the link.
pub fn check_backend_address(a: Ipv6Addr) -> Result<(), &'static str> {
    if a.is_unspecified() {
        Err("is the unspecified address")
    } else if a.is_loopback() {
        Err("is the loopback address")
    } else if a.is_multicast() {
        Err("is a multicast address (ff00::/8)")
    } else if a.is_unicast_link_local() {
        Err("is a link-local address (fe80::/10); use a global or unique-local address")
    } else if a.to_ipv4_mapped().is_some() {
        Err("is an IPv4-mapped address (::ffff:0:0/96); a backend needs a real IPv6 address")
    } else {
        Ok(())
    }
}

/// Idle timeouts per connection-tracking state: the data path's own type
/// (defaults and the RFC 5382 / RFC 4787 reasoning are documented there).
pub use sixgate_bpf::nat46::CtTimeouts;

/// Gateway-wide NAT46 settings (the config file's `[nat46]` table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nat46Settings {
    /// IPv6 source addresses for `gateway` mode services (at most 16).
    pub snat_addresses: Vec<Ipv6Addr>,
    /// Inclusive range of source ports for `gateway` mode.
    pub snat_ports: (u16, u16),
    /// RFC 6052 prefix client addresses are embedded in, for `preserve` mode.
    pub preserve_prefix: Option<Rfc6052Prefix>,
    /// Maglev table size M: a prime, at least 100 per backend of every service.
    pub maglev_table_size: u32,
    /// Seed of the Maglev hash; gateways sharing services need the same one.
    pub maglev_seed: u64,
    /// Connection-tracking timeouts.
    pub timeouts: CtTimeouts,
}

impl Default for Nat46Settings {
    fn default() -> Self {
        Nat46Settings {
            snat_addresses: Vec::new(),
            snat_ports: (32768, 60999),
            preserve_prefix: None,
            maglev_table_size: sixgate_maglev::DEFAULT_TABLE_SIZE,
            maglev_seed: 0,
            timeouts: CtTimeouts::default(),
        }
    }
}

/// serde helpers: addresses and prefixes as strings, with messages that
/// name the value.
mod text {
    use std::fmt;
    use std::net::{Ipv4Addr, Ipv6Addr};

    use serde::de::{self, Deserializer};
    use serde::{Deserialize, Serializer};
    use sixgate_wire::Ipv4Prefix;

    /// An IPv4 address; an IPv6 one is named as the wrong family.
    pub(super) fn ipv4<'de, D: Deserializer<'de>>(d: D) -> Result<Ipv4Addr, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(|_| {
            de::Error::custom(if s.parse::<Ipv6Addr>().is_ok() {
                format!("{s:?} is an IPv6 address; an IPv4 address is required here")
            } else {
                format!("{s:?} is not an IPv4 address")
            })
        })
    }

    /// An IPv6 address; an IPv4 one is named as the wrong family.
    pub(super) fn ipv6<'de, D: Deserializer<'de>>(d: D) -> Result<Ipv6Addr, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(|_| {
            de::Error::custom(if s.parse::<Ipv4Addr>().is_ok() {
                format!("{s:?} is an IPv4 address; an IPv6 address is required here")
            } else {
                format!("{s:?} is not an IPv6 address")
            })
        })
    }

    /// One IPv4 prefix, parsed by `sixgate_wire`.
    struct Prefix(Ipv4Prefix);

    impl<'de> Deserialize<'de> for Prefix {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let s = String::deserialize(d)?;
            s.parse().map(Prefix).map_err(de::Error::custom)
        }
    }

    /// A list of IPv4 prefixes; an error names the entry.
    pub(super) fn ipv4_prefixes<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<Ipv4Prefix>, D::Error> {
        let list = Vec::<Prefix>::deserialize(d)?;
        Ok(list.into_iter().map(|p| p.0).collect())
    }

    /// Each item as its `Display` string.
    pub(super) fn display_all<T: fmt::Display, S: Serializer>(
        items: &[T],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(items.iter().map(|i| i.to_string()))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::Duration;

    use super::*;

    /// Settings under which both source modes are allowed.
    pub(crate) fn settings() -> Nat46Settings {
        Nat46Settings {
            snat_addresses: vec!["2001:db8:ff::1".parse().unwrap()],
            preserve_prefix: Some("2001:db8:46::/96".parse().unwrap()),
            ..Nat46Settings::default()
        }
    }

    /// A valid service named `name` on 198.51.100.80:`port`/tcp with two backends.
    pub(crate) fn web(name: &str, port: u16) -> Service {
        serde_json::from_value(serde_json::json!({
            "name": name,
            "vip": "198.51.100.80",
            "port": port,
            "protocol": "tcp",
            "backends": [
                {"address": "2001:db8:a::10", "port": 8080, "weight": 1, "cluster": "a"},
                {"address": "2001:db8:b::10", "port": 8080, "weight": 2},
            ],
        }))
        .unwrap()
    }

    /// The one problem of `svc`, which must be exactly one.
    fn only_problem(svc: &Service, settings: &Nat46Settings) -> FieldError {
        let p = svc.problems(settings);
        assert_eq!(p.len(), 1, "{p:#?}");
        p.into_iter().next().unwrap()
    }

    fn assert_problem(svc: &Service, field: &str, value: &str, why: &str) {
        let e = only_problem(svc, &settings());
        assert_eq!((e.field.as_str(), e.value.as_str()), (field, value), "{e}");
        assert!(e.why.contains(why), "{e}");
        assert_eq!(svc.validate(&settings()), Err(e));
    }

    #[test]
    fn json_round_trip_and_defaults() {
        let svc = web("web", 80);
        assert_eq!(svc.source_mode, SourceMode::Gateway);
        assert!(svc.source_ranges.is_empty());
        assert_eq!(svc.backends[0].cluster.as_deref(), Some("a"));
        assert_eq!(svc.backends[1].cluster, None);
        let json = serde_json::to_value(&svc).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "name": "web", "vip": "198.51.100.80", "port": 80, "protocol": "tcp",
                "source_mode": "gateway", "source_ranges": [],
                "backends": [
                    {"address": "2001:db8:a::10", "port": 8080, "weight": 1, "cluster": "a"},
                    {"address": "2001:db8:b::10", "port": 8080, "weight": 2},
                ],
            })
        );
        let back: Service = serde_json::from_value(json).unwrap();
        assert_eq!(back, svc);
        svc.validate(&settings()).unwrap();
        assert_eq!(svc.key().to_string(), "198.51.100.80:80/tcp");
        assert_eq!(
            svc.backends[0].socket_addr().to_string(),
            "[2001:db8:a::10]:8080"
        );
    }

    #[test]
    fn weight_defaults_to_one_and_prefixes_parse() {
        let svc: Service = serde_json::from_str(
            r#"{"name":"dns","vip":"203.0.113.53","port":53,"protocol":"udp",
                "source_mode":"preserve","source_ranges":["192.0.2.0/24","198.51.100.0/25"],
                "backends":[{"address":"2001:db8::53","port":53}]}"#,
        )
        .unwrap();
        assert_eq!(svc.backends[0].weight, 1);
        assert_eq!(svc.protocol, Protocol::Udp);
        assert_eq!(svc.source_mode, SourceMode::Preserve);
        assert_eq!(
            svc.source_ranges,
            vec![
                "192.0.2.0/24".parse::<Ipv4Prefix>().unwrap(),
                "198.51.100.0/25".parse().unwrap()
            ]
        );
        assert_eq!(
            serde_json::to_value(&svc).unwrap()["source_ranges"],
            serde_json::json!(["192.0.2.0/24", "198.51.100.0/25"])
        );
    }

    #[test]
    fn wrong_family_and_bad_text_name_the_value() {
        let mut json = serde_json::to_value(web("web", 80)).unwrap();
        json["vip"] = "2001:db8::80".into();
        let e = serde_json::from_value::<Service>(json.clone())
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "\"2001:db8::80\" is an IPv6 address; an IPv4 address is required here"
        );
        json["vip"] = "198.51.100.80".into();
        json["backends"][1]["address"] = "192.0.2.10".into();
        let e = serde_json::from_value::<Service>(json.clone())
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "\"192.0.2.10\" is an IPv4 address; an IPv6 address is required here"
        );
        json["backends"][1]["address"] = "backend-1".into();
        let e = serde_json::from_value::<Service>(json.clone())
            .unwrap_err()
            .to_string();
        assert_eq!(e, "\"backend-1\" is not an IPv6 address");
        json["backends"][1]["address"] = "2001:db8:b::10".into();
        json["source_ranges"] = serde_json::json!(["192.0.2.1/24"]);
        let e = serde_json::from_value::<Service>(json.clone())
            .unwrap_err()
            .to_string();
        assert!(e.contains("did you mean 192.0.2.0/24?"), "{e}");
        json["source_ranges"] = serde_json::json!([]);
        json["protocol"] = "sctp".into();
        let e = serde_json::from_value::<Service>(json.clone())
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown variant `sctp`"), "{e}");
        json["protocol"] = "tcp".into();
        json["colour"] = "blue".into();
        let e = serde_json::from_value::<Service>(json)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `colour`"), "{e}");
    }

    #[test]
    fn names() {
        for good in ["a", "web", "web-2", &"a".repeat(63)] {
            check_name(good).unwrap();
        }
        for (bad, why) in [
            ("", "1 to 63"),
            (&"a".repeat(64), "1 to 63"),
            ("2web", "start with a lowercase letter"),
            ("-web", "start with a lowercase letter"),
            ("Web", "start with a lowercase letter"),
            ("web_2", "cannot contain '_'"),
            ("wEb", "cannot contain 'E'"),
            ("web.example", "cannot contain '.'"),
        ] {
            let e = check_name(bad).unwrap_err();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
        let mut svc = web("web", 80);
        svc.name = "Web".into();
        assert_problem(&svc, "name", "\"Web\"", "lowercase");
    }

    #[test]
    fn vip_must_be_reachable_unicast() {
        for bad in [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "224.0.0.1",
            "239.1.1.1",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            let mut svc = web("web", 80);
            svc.vip = bad.parse().unwrap();
            assert_problem(&svc, "vip", &format!("{bad:?}"), "not a unicast address");
        }
        for good in ["10.0.0.1", "192.0.2.1", "8.8.8.8"] {
            let mut svc = web("web", 80);
            svc.vip = good.parse().unwrap();
            svc.validate(&settings()).unwrap();
        }
    }

    #[test]
    fn ports_must_not_be_zero() {
        let mut svc = web("web", 0);
        assert_problem(&svc, "port", "0", "1 to 65535");
        svc.port = 65535;
        svc.backends[1].port = 0;
        assert_problem(&svc, "backends[1].port", "0", "1 to 65535");
    }

    #[test]
    fn backend_addresses() {
        for (bad, why) in [
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("ff02::1", "multicast"),
            ("fe80::1", "link-local"),
            ("::ffff:192.0.2.1", "IPv4-mapped"),
        ] {
            let mut svc = web("web", 80);
            svc.backends[1].address = bad.parse().unwrap();
            let value = format!("{:?}", svc.backends[1].address.to_string());
            assert_problem(&svc, "backends[1].address", &value, why);
        }
        for good in ["2001:db8::1", "fd00::1", "64:ff9b::c000:201"] {
            let mut svc = web("web", 80);
            svc.backends[1].address = good.parse().unwrap();
            svc.validate(&settings()).unwrap();
        }
    }

    #[test]
    fn backends_unique_by_address_and_port() {
        let mut svc = web("web", 80);
        let mut dup = svc.backends[0].clone();
        dup.weight = 5;
        svc.backends.push(dup.clone());
        assert_problem(
            &svc,
            "backends[2].address",
            "\"2001:db8:a::10\"",
            "[2001:db8:a::10]:8080 is also backends[0]",
        );
        // Same address, other port: a different backend.
        svc.backends[2].port = 8081;
        svc.validate(&settings()).unwrap();
    }

    #[test]
    fn weights_and_clusters() {
        let mut svc = web("web", 80);
        svc.backends[0].weight = 0;
        svc.backends[1].weight = MAX_WEIGHT;
        svc.validate(&settings()).unwrap();
        svc.backends[1].weight = MAX_WEIGHT + 1;
        assert_problem(&svc, "backends[1].weight", "65536", "0 (drain) to 65535");
        svc.backends[1].weight = 1;
        svc.backends[0].cluster = Some("Zone A".into());
        assert_problem(&svc, "backends[0].cluster", "\"Zone A\"", "lowercase");
    }

    #[test]
    fn backend_counts() {
        let mut svc = web("web", 80);
        svc.backends.clear();
        // No backends: allowed, new flows are dropped.
        svc.validate(&settings()).unwrap();
        let backend = |i: usize| Backend {
            address: Ipv6Addr::from(0x2001_0db8_u128 << 96 | i as u128),
            port: 80,
            weight: 1,
            cluster: None,
        };
        svc.backends = (1..=MAX_BACKENDS).map(backend).collect();
        let big = Nat46Settings {
            maglev_table_size: 131_071,
            ..settings()
        };
        assert_eq!(svc.problems(&big), vec![]);
        svc.backends.push(backend(0));
        let e = only_problem(&svc, &big);
        assert_eq!(
            (e.field.as_str(), e.value.as_str()),
            ("backends", "[...1025 entries]")
        );
        assert!(e.why.contains("at most 1024"), "{e}");
        // The default table (65537) holds 655 backends at 100 slots each.
        svc.backends = (1..=655).map(backend).collect();
        svc.validate(&settings()).unwrap();
        svc.backends.push(backend(656));
        let e = only_problem(&svc, &settings());
        assert_eq!(e.field, "backends");
        assert!(
            e.why.contains("at least 100 slots each (65600)") && e.why.contains("is 65537"),
            "{e}"
        );
    }

    #[test]
    fn source_ranges() {
        let mut svc = web("web", 80);
        let p = |s: &str| s.parse::<Ipv4Prefix>().unwrap();
        svc.source_ranges = vec![p("192.0.2.0/24"), p("10.0.0.0/8"), p("192.0.2.0/24")];
        assert_problem(
            &svc,
            "source_ranges[2]",
            "\"192.0.2.0/24\"",
            "duplicates source_ranges[0]",
        );
        svc.source_ranges = (0..=MAX_SOURCE_RANGES)
            .map(|i| Ipv4Prefix::new(Ipv4Addr::new(10, i as u8, 0, 0), 16).unwrap())
            .collect();
        assert_problem(&svc, "source_ranges", "[...65 entries]", "at most 64");
        svc.source_ranges.pop();
        svc.validate(&settings()).unwrap();
    }

    #[test]
    fn source_modes_need_their_settings() {
        let mut svc = web("web", 80);
        let none = Nat46Settings::default();
        let e = only_problem(&svc, &none);
        assert_eq!(
            e.to_string().split(':').next(),
            Some("source_mode = \"gateway\"")
        );
        assert!(e.why.contains("nat46.snat_addresses"), "{e}");
        svc.source_mode = SourceMode::Preserve;
        let e = only_problem(&svc, &none);
        assert_eq!(e.value, "\"preserve\"");
        assert!(e.why.contains("nat46.preserve_prefix"), "{e}");
        svc.validate(&settings()).unwrap();
    }

    #[test]
    fn every_problem_is_reported() {
        let mut svc = web("Web", 0);
        svc.vip = Ipv4Addr::LOCALHOST;
        svc.backends[0].address = Ipv6Addr::LOCALHOST;
        svc.backends[1].weight = 70_000;
        let fields: Vec<String> = svc
            .problems(&settings())
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "name",
                "vip",
                "port",
                "backends[0].address",
                "backends[1].weight"
            ]
        );
    }

    #[test]
    fn defaults_follow_the_rfcs() {
        let s = Nat46Settings::default();
        assert_eq!(s.snat_ports, (32768, 60999));
        assert_eq!(s.maglev_table_size, 65537);
        assert_eq!(s.maglev_seed, 0);
        let t = s.timeouts;
        assert_eq!(t.tcp_established, Duration::from_secs(7440)); // RFC 5382 REQ-5
        assert!(t.udp >= Duration::from_secs(120)); // RFC 4787 REQ-5
        assert_eq!(t.udp, Duration::from_secs(300));
        assert_eq!(
            (t.tcp_syn, t.tcp_closing, t.tcp_reset),
            (
                Duration::from_secs(60),
                Duration::from_secs(120),
                Duration::from_secs(10)
            )
        );
    }
}
