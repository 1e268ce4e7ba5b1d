// Compiles, but fails when run.
fn main() {
    panic!("the case fails at run time");
}
