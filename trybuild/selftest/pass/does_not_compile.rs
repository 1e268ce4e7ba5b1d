// Promised to pass, but does not compile.
fn main() {
    let _: u32 = "not a number";
}
