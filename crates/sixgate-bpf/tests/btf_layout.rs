//! The `#[repr(C)]` map types in src/maps.rs must match the C structs in
//! bpf/lib/maps.h byte for byte. This reads the object's BTF (through
//! bpftool) and compares sizes and field offsets.

use std::collections::BTreeMap;
use std::mem::{offset_of, size_of};
use std::process::Command;

use sixgate_bpf::maps::{
    BackendValue, Ct4Entry, Ct4Key, Ct6Entry, Ct6Key, Eamt4Value, Eamt6Value, Nat46Config,
    SixgateConfig, SixgateCount, SvcKey, SvcRangeData, SvcValue,
};
use sixgate_bpf::TC_OBJECT;

/// struct name -> (size, [(field, bit offset)])
type Structs = BTreeMap<String, (usize, Vec<(String, usize)>)>;

fn btf_structs() -> Structs {
    let dir = std::env::temp_dir().join(format!("sixgate-btf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let obj = dir.join("sixgate_tc.o");
    std::fs::write(&obj, TC_OBJECT).unwrap();
    let out = Command::new("bpftool")
        .args(["btf", "dump", "file"])
        .arg(&obj)
        .output()
        .expect("bpftool (installed by scripts/setup.sh)");
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();

    let mut structs = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(rest) = line.split_once("] STRUCT '").map(|(_, r)| r) {
            let (name, tail) = rest.split_once('\'').unwrap();
            let size = tail
                .split_whitespace()
                .find_map(|t| t.strip_prefix("size="))
                .unwrap()
                .parse()
                .unwrap();
            structs.insert(name.to_string(), (size, Vec::new()));
            current = Some(name.to_string());
        } else if line.starts_with('\t') {
            if let Some(name) = &current {
                let field = line.trim().trim_start_matches('\'');
                let (field, tail) = field.split_once('\'').unwrap();
                let bits = tail
                    .split_whitespace()
                    .find_map(|t| t.strip_prefix("bits_offset="))
                    .unwrap()
                    .parse()
                    .unwrap();
                structs
                    .get_mut(name)
                    .unwrap()
                    .1
                    .push((field.to_string(), bits));
            }
        } else {
            current = None;
        }
    }
    structs
}

fn check(structs: &Structs, name: &str, size: usize, fields: &[(&str, usize)]) {
    let (btf_size, btf_fields) = structs
        .get(name)
        .unwrap_or_else(|| panic!("no struct {name} in BTF"));
    assert_eq!(*btf_size, size, "size of {name}");
    let btf: Vec<(&str, usize)> = btf_fields.iter().map(|(f, b)| (f.as_str(), *b)).collect();
    let rust: Vec<(&str, usize)> = fields.iter().map(|&(f, o)| (f, o * 8)).collect();
    assert_eq!(btf, rust, "fields of {name} (name, bit offset)");
}

#[test]
fn map_layouts_match_btf() {
    let structs = btf_structs();
    check(
        &structs,
        "sixgate_config",
        size_of::<SixgateConfig>(),
        &[
            ("pool6", offset_of!(SixgateConfig, pool6)),
            ("pool6_mask", offset_of!(SixgateConfig, pool6_mask)),
            ("pool6_len", offset_of!(SixgateConfig, pool6_len)),
            ("flags", offset_of!(SixgateConfig, flags)),
            ("pad", offset_of!(SixgateConfig, pad)),
            ("v4_pos", offset_of!(SixgateConfig, v4_pos)),
            ("peer_ifindex", offset_of!(SixgateConfig, peer_ifindex)),
            ("rfc6791_pool4", offset_of!(SixgateConfig, rfc6791_pool4)),
            ("rfc6791_count", offset_of!(SixgateConfig, rfc6791_count)),
            ("exc_ifindex", offset_of!(SixgateConfig, exc_ifindex)),
            (
                "lowest_ipv6_mtu",
                offset_of!(SixgateConfig, lowest_ipv6_mtu),
            ),
            ("tclass", offset_of!(SixgateConfig, tclass)),
            ("pad2", offset_of!(SixgateConfig, pad2)),
            ("exc_cost_ns", offset_of!(SixgateConfig, exc_cost_ns)),
            ("exc_burst_ns", offset_of!(SixgateConfig, exc_burst_ns)),
            ("icmp_cost_ns", offset_of!(SixgateConfig, icmp_cost_ns)),
            ("icmp_burst_ns", offset_of!(SixgateConfig, icmp_burst_ns)),
            ("rfc6791_pool6", offset_of!(SixgateConfig, rfc6791_pool6)),
        ],
    );
    check(
        &structs,
        "sixgate_count",
        size_of::<SixgateCount>(),
        &[
            ("packets", offset_of!(SixgateCount, packets)),
            ("bytes", offset_of!(SixgateCount, bytes)),
        ],
    );
    // aya's lpm_trie::Key<u32> is { prefix_len: u32, data: u32 }.
    check(
        &structs,
        "served_v4_key",
        8,
        &[("prefixlen", 0), ("addr", 4)],
    );
}

/// Lists `field` of `ty` with its byte offset, for `check`.
macro_rules! fields {
    ($ty:ty: $($f:ident),+ $(,)?) => {
        &[$((stringify!($f), offset_of!($ty, $f))),+]
    };
}

#[test]
fn nat46_map_layouts_match_btf() {
    let structs = btf_structs();
    check(
        &structs,
        "nat46_config",
        size_of::<Nat46Config>(),
        fields!(Nat46Config: preserve_prefix, preserve_v4_pos, preserve_len, snat_count, pad,
            port_min, port_max, hash_seed, timeout_ns, snat),
    );
    check(
        &structs,
        "svc_key",
        size_of::<SvcKey>(),
        fields!(SvcKey: vip, port, proto, pad),
    );
    check(
        &structs,
        "svc_value",
        size_of::<SvcValue>(),
        fields!(SvcValue: id, table_size, generation, mode, flags, pad),
    );
    check(
        &structs,
        "backend",
        size_of::<BackendValue>(),
        fields!(BackendValue: addr, port, pad),
    );
    // aya's lpm_trie::Key<SvcRangeData> puts the u32 prefix length first.
    check(
        &structs,
        "svc_range_key",
        4 + size_of::<SvcRangeData>(),
        &[
            ("prefixlen", 0),
            ("svc_id", 4 + offset_of!(SvcRangeData, svc_id)),
            ("addr", 4 + offset_of!(SvcRangeData, addr)),
        ],
    );
    check(
        &structs,
        "ct4_key",
        size_of::<Ct4Key>(),
        fields!(Ct4Key: client, vip, client_port, vip_port, proto, pad),
    );
    check(
        &structs,
        "ct4_entry",
        size_of::<Ct4Entry>(),
        fields!(Ct4Entry: backend, source, backend_port, source_port, svc_id, last_seen, state, pad),
    );
    check(
        &structs,
        "ct6_key",
        size_of::<Ct6Key>(),
        fields!(Ct6Key: backend, source, backend_port, source_port, proto, pad),
    );
    check(
        &structs,
        "ct6_entry",
        size_of::<Ct6Entry>(),
        fields!(Ct6Entry: flow, svc_id, pad),
    );
}

#[test]
fn eamt_map_layouts_match_btf() {
    let structs = btf_structs();
    check(
        &structs,
        "eamt4_value",
        size_of::<Eamt4Value>(),
        fields!(Eamt4Value: prefix6, suffix_bits, shift, pad),
    );
    check(
        &structs,
        "eamt6_value",
        size_of::<Eamt6Value>(),
        fields!(Eamt6Value: prefix4, suffix_bits, shift, pad),
    );
    // aya's lpm_trie::Key<u32> and Key<[u8; 16]>: the u32 prefix length,
    // then the address.
    check(&structs, "eamt4_key", 8, &[("prefixlen", 0), ("addr", 4)]);
    check(&structs, "eamt6_key", 20, &[("prefixlen", 0), ("addr", 4)]);
}
