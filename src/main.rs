//! The `roost` command line: `serve`, `config`, `ps`, `reload`, `stop`.

fn main() -> anyhow::Result<()> {
    Ok(())
}
