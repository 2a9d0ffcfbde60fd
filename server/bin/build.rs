// With the `dylib` feature (`scripts/dev.sh --watch`), the executable loads the shop's
// dependencies (`server-dylib`) and Rust's standard library as shared libraries. Record where
// they are, so that it starts however it is run: the libraries sit beside it in target/, and the
// standard library in the toolchain that built it.
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_DYLIB").is_none() {
        return;
    }
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let output = Command::new(rustc)
        .args(["--print", "target-libdir"])
        .output()
        .expect("rustc --print target-libdir");
    let std_dir = String::from_utf8(output.stdout).expect("a UTF-8 path");
    println!(
        "cargo:rustc-link-arg-bins=-Wl,-rpath,$ORIGIN:$ORIGIN/deps:{}",
        std_dir.trim()
    );
}
