//! Cutting a translated datagram into fragments (RFC 7915 4.1: DF=0 IPv4
//! packets larger than lowest-ipv6-mtu; 5.1: IPv6 packets of at most 1280
//! bytes that exceed the IPv4 egress MTU). No reassembly, ever.

/// Byte ranges `(start, end)` cutting `len` bytes into pieces of at most
/// `max` bytes, every piece but the last a multiple of 8 bytes (RFC 791
/// 3.2, RFC 8200 4.5). `None` if `max` is below 8.
pub fn pieces(len: usize, max: usize) -> Option<Vec<(usize, usize)>> {
    let step = max & !7;
    if step == 0 {
        return None;
    }
    let mut out = Vec::with_capacity(len / step + 1);
    let mut start = 0;
    while start < len {
        let end = (start + step).min(len);
        out.push((start, end));
        start = end;
    }
    if out.is_empty() {
        out.push((0, 0));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_on_8_byte_boundaries() {
        assert_eq!(pieces(20, 12).unwrap(), vec![(0, 8), (8, 16), (16, 20)]);
        assert_eq!(pieces(16, 16).unwrap(), vec![(0, 16)]);
        assert_eq!(pieces(0, 16).unwrap(), vec![(0, 0)]);
        assert_eq!(pieces(10, 7), None);
    }
}
