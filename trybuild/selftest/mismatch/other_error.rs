// Fails to compile, with another error than its .stderr file says.
fn main() {
    let _: u32 = "not a number";
}
