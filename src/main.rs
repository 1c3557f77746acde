use clap::Parser;
use modulab::cli::{self, Cli, UsageError};

fn main() {
    modulab::tune_allocator();
    let cli = Cli::parse();
    let Some(command) = cli.command else {
        // The desktop app arrives with the next milestone; until then, say what to do.
        eprintln!("modulab: no command given. Try `modulab train --preset quick --out runs/quick`, or `modulab --help`.");
        std::process::exit(2);
    };
    if let Err(error) = cli::run(command) {
        let code = if error.downcast_ref::<UsageError>().is_some() { 2 } else { 1 };
        eprintln!("modulab: {error:#}");
        std::process::exit(code);
    }
}
