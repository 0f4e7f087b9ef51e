//! Compiles bpf/ with clang-19 and generates the Rust side of
//! bpf/lib/counters.def, so counter names have one source of truth.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const CLANG_HELP: &str = "sixgate-bpf needs clang-19 to compile its eBPF programs (bpf/*.c).\n\
     Install the build dependencies with:  sudo ./scripts/setup.sh\n\
     (or: apt-get install -y clang-19 llvm-19 libbpf-dev linux-libc-dev);\n\
     set SIXGATE_CLANG to use another clang binary.";

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let bpf_dir = manifest
        .join("../../bpf")
        .canonicalize()
        .expect("bpf/ directory");
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());

    rerun_if_changed(&bpf_dir);
    println!("cargo:rerun-if-env-changed=SIXGATE_CLANG");

    compile(&bpf_dir.join("prog_tc.c"), &out_dir.join("sixgate_tc.o"));
    // The parse-only baseline that bench/ times next to the real program.
    compile(
        &bpf_dir.join("prog_bench.c"),
        &out_dir.join("sixgate_bench.o"),
    );
    generate_counters(
        &bpf_dir.join("lib/counters.def"),
        "SG_COUNTER(",
        "COUNTERS",
        "`enum sixgate_counter`",
        &out_dir.join("counters.rs"),
    );
    generate_counters(
        &bpf_dir.join("lib/svc_counters.def"),
        "SVC_COUNTER(",
        "SVC_COUNTERS",
        "`enum svc_counter`",
        &out_dir.join("svc_counters.rs"),
    );
}

fn rerun_if_changed(dir: &Path) {
    for entry in fs::read_dir(dir).expect("read bpf/") {
        let path = entry.expect("bpf/ entry").path();
        if path.is_dir() {
            rerun_if_changed(&path);
        } else {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}

fn compile(src: &Path, out: &Path) {
    let clang = env::var("SIXGATE_CLANG").unwrap_or_else(|_| "clang-19".to_string());
    let multiarch = match env::var("CARGO_CFG_TARGET_ARCH").as_deref() {
        Ok("aarch64") => "aarch64-linux-gnu",
        _ => "x86_64-linux-gnu",
    };
    let result = Command::new(&clang)
        .args(["-target", "bpf", "-O2", "-g", "-Wall", "-Werror"])
        .arg(format!("-I/usr/include/{multiarch}"))
        .arg("-c")
        .arg(src)
        .arg("-o")
        .arg(out)
        .output();
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("`{clang}` not found.\n{CLANG_HELP}")
        }
        Err(e) => panic!("running `{clang}`: {e}\n{CLANG_HELP}"),
        Ok(o) if !o.status.success() => panic!(
            "`{clang}` failed to compile {}:\n{}",
            src.display(),
            String::from_utf8_lossy(&o.stderr)
        ),
        Ok(_) => {}
    }
}

/// Turns every `MACRO(NAME, "help")` line of `def` into a `Counter` entry
/// of the constant `name`, in order, so index i here is value i of the C
/// enum built from the same file.
fn generate_counters(def: &Path, macro_open: &str, name: &str, c_enum: &str, out: &Path) {
    let text = fs::read_to_string(def).expect("read counter list");
    let mut rust = format!("/// Every counter, indexed like {c_enum}.\n");
    rust.push_str(&format!("pub const {name}: &[Counter] = &[\n"));
    for line in text.lines().map(str::trim) {
        let Some(rest) = line.strip_prefix(macro_open) else {
            continue;
        };
        let (name, help) = rest
            .split_once(',')
            .unwrap_or_else(|| panic!("{}: bad line {line:?}", def.display()));
        let help = help.trim().trim_end_matches(')').trim();
        assert!(
            help.starts_with('"') && help.ends_with('"'),
            "{}: help must be a string literal: {line:?}",
            def.display()
        );
        rust.push_str(&format!(
            "    Counter {{ name: \"{}\", help: {help} }},\n",
            name.trim().to_lowercase()
        ));
    }
    rust.push_str("];\n");
    fs::write(out, rust).expect("write generated counters");
}
