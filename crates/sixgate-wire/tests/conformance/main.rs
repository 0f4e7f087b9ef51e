//! RFC 7915 conformance vectors for the reference translator, one module per
//! section. Each test names the section and the requirement it checks, and
//! compares whole output bytes with a packet built independently.

mod common;
mod rfc6052_7757_6791;
mod s4_1_ipv4_to_ipv6_header;
mod s4_2_icmpv4_to_icmpv6;
mod s4_3_icmpv4_errors;
mod s5_1_ipv6_to_ipv4_header;
mod s5_2_icmpv6_to_icmpv4;
mod s5_3_icmpv6_errors;
