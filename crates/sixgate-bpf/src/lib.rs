//! sixgate-bpf
