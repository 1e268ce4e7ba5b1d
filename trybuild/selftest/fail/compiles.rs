// Promised to fail to compile, but compiles.
fn main() {}
