//! Pool benchmarks (filled in with the pool).
fn main() {}
