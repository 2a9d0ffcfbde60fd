// `sqlx::migrate!` reads migrations/ at compile time, but on stable Rust it cannot tell cargo
// so: without this, a new migration file is not in the server until something else rebuilds it.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
