//! `big_tcp IFNAME [SIZE]`: turn BIG TCP on for an interface in the current
//! network namespace (for trying things by hand: iproute2 6.1 cannot set the
//! IPv4 sizes). Prints the sizes before and after.

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(ifname) = args.next() else {
        eprintln!("usage: big_tcp IFNAME [SIZE]");
        std::process::exit(2);
    };
    let size = args
        .next()
        .map(|s| s.parse().expect("SIZE must be a number"))
        .unwrap_or(sixgate_netlink::BIG_TCP_DEFAULT_SIZE);
    match sixgate_netlink::enable_big_tcp(&ifname, size) {
        Ok(out) => {
            println!("before: {:?}\nafter:  {:?}", out.before, out.after);
            for w in out.warnings(&ifname) {
                eprintln!("warning: {w}");
            }
        }
        Err(e) => {
            eprintln!("big_tcp: {e}");
            std::process::exit(1);
        }
    }
}
