//! The ICMP type/code translation tables (RFC 7915 4.2 and 5.2), the
//! Parameter Problem pointer maps (RFC 7915 figures 3 and 6) and the RFC
//! 1191 MTU plateaus.

/// What a translated ICMP message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcmpKind {
    /// Echo request / reply: the type becomes this, the rest is copied.
    Echo(u8),
    /// An error of this type and code; `field` says what bytes 4-7 hold.
    Error {
        /// Translated type.
        ty: u8,
        /// Translated code.
        code: u8,
        /// Contents of the word after the checksum.
        field: ErrorField,
    },
}

/// The word after the checksum of a translated error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorField {
    /// Unused: zero, except an RFC 4884 length where the type has one.
    Unused,
    /// Packet Too Big / Fragmentation Needed: the MTU, adjusted.
    Mtu,
    /// Parameter Problem: the pointer, translated by figure 3 / figure 6.
    Pointer,
    /// Parameter Problem with this fixed pointer (RFC 7915 4.2: Protocol
    /// Unreachable becomes "unrecognized Next Header" pointing at byte 6).
    FixedPointer(u8),
}

/// ICMPv4 types that are errors (RFC 792, RFC 1812 4.3.2.4): an error is
/// never sent about them and one inside another error is not translated.
pub fn is_icmp4_error(ty: u8) -> bool {
    matches!(ty, 3 | 4 | 5 | 11 | 12)
}

/// ICMPv6 error types are 0-127 (RFC 4443 2.1).
pub fn is_icmp6_error(ty: u8) -> bool {
    ty < 128
}

/// RFC 7915 4.2 (queries) and 4.2 (errors): what an ICMPv4 type/code
/// becomes, or `None` when it is silently dropped (timestamp, address
/// mask, information, router advertisement / solicitation, redirect,
/// source quench, alternative host address, unknown types and codes).
pub fn icmp4_to_6(ty: u8, code: u8) -> Option<IcmpKind> {
    let err = |ty, code, field| Some(IcmpKind::Error { ty, code, field });
    match (ty, code) {
        (8, _) => Some(IcmpKind::Echo(128)),
        (0, _) => Some(IcmpKind::Echo(129)),
        // Destination Unreachable -> type 1 unless noted.
        (3, 0 | 1) => err(1, 0, ErrorField::Unused),
        (3, 2) => err(4, 1, ErrorField::FixedPointer(6)),
        (3, 3) => err(1, 4, ErrorField::Unused),
        (3, 4) => err(2, 0, ErrorField::Mtu),
        (3, 5..=8) => err(1, 0, ErrorField::Unused),
        (3, 9 | 10) => err(1, 1, ErrorField::Unused),
        (3, 11 | 12) => err(1, 0, ErrorField::Unused),
        (3, 13) => err(1, 1, ErrorField::Unused),
        // 3/14 host precedence violation: dropped.
        (3, 15) => err(1, 1, ErrorField::Unused),
        // Time Exceeded: type 3, code unchanged.
        (11, c @ (0 | 1)) => err(3, c, ErrorField::Unused),
        // Parameter Problem 0 (pointer) and 2 (bad length) -> 4/0; 1
        // (missing option) and others dropped.
        (12, 0 | 2) => err(4, 0, ErrorField::Pointer),
        _ => None,
    }
}

/// RFC 7915 5.2: what an ICMPv6 type/code becomes, or `None` when it is
/// silently dropped (MLD, ND, unknown informational, unrecognized option,
/// unknown errors and codes).
pub fn icmp6_to_4(ty: u8, code: u8) -> Option<IcmpKind> {
    let err = |ty, code, field| Some(IcmpKind::Error { ty, code, field });
    match (ty, code) {
        (128, _) => Some(IcmpKind::Echo(8)),
        (129, _) => Some(IcmpKind::Echo(0)),
        // Destination Unreachable -> type 3.
        (1, 0) => err(3, 1, ErrorField::Unused),
        (1, 1) => err(3, 10, ErrorField::Unused),
        (1, 2 | 3) => err(3, 1, ErrorField::Unused),
        (1, 4) => err(3, 3, ErrorField::Unused),
        // Packet Too Big -> Fragmentation Needed.
        (2, 0) => err(3, 4, ErrorField::Mtu),
        // Time Exceeded -> type 11, code unchanged.
        (3, c @ (0 | 1)) => err(11, c, ErrorField::Unused),
        // Parameter Problem: erroneous header field -> 12/0 with the
        // pointer translated; unrecognized Next Header -> protocol
        // unreachable; unrecognized option and others dropped.
        (4, 0) => err(12, 0, ErrorField::Pointer),
        (4, 1) => err(3, 2, ErrorField::Unused),
        _ => None,
    }
}

/// RFC 7915 figure 3: an ICMPv4 Parameter Problem pointer as an ICMPv6
/// one; `None` for "n/a" (Identification, Flags / Fragment Offset, Header
/// Checksum, options), which drops the error.
pub fn pointer_4to6(p: u8) -> Option<u32> {
    match p {
        0 => Some(0),
        1 => Some(1),
        2 | 3 => Some(4),
        8 => Some(7),
        9 => Some(6),
        12..=15 => Some(8),
        16..=19 => Some(24),
        _ => None,
    }
}

/// RFC 7915 figure 6: an ICMPv6 Parameter Problem pointer as an ICMPv4
/// one; `None` for "n/a" (Flow Label, and past the fixed header), which
/// drops the error.
pub fn pointer_6to4(p: u32) -> Option<u8> {
    match p {
        0 => Some(0),
        1 => Some(1),
        4 | 5 => Some(2),
        6 => Some(9),
        7 => Some(8),
        8..=23 => Some(12),
        24..=39 => Some(16),
        _ => None,
    }
}

/// RFC 1191 7 table 7-1 plateaus, descending.
pub const RFC1191_PLATEAUS: [u16; 11] = [
    65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68,
];

/// RFC 7915 4.2: for a Fragmentation Needed with MTU 0, the greatest RFC
/// 1191 plateau below the returned Total Length (68 if none is).
pub fn plateau_below(total_len: u16) -> u16 {
    RFC1191_PLATEAUS
        .iter()
        .copied()
        .find(|&p| p < total_len)
        .unwrap_or(68)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plateaus() {
        assert_eq!(plateau_below(1500), 1492);
        assert_eq!(plateau_below(1492), 1006);
        assert_eq!(plateau_below(60), 68);
        assert_eq!(plateau_below(65535), 32000);
    }

    #[test]
    fn pointer_maps_are_inverse_where_defined() {
        for p4 in 0u8..=255 {
            if let Some(p6) = pointer_4to6(p4) {
                let back = pointer_6to4(p6).unwrap();
                assert!(back <= p4, "{p4} -> {p6} -> {back}");
            }
        }
    }
}
