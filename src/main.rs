use clap::Parser;
use modulab::cli::{self, Cli, Command, GuiArgs, UsageError};

fn main() {
    modulab::exit_quietly_on_closed_pipe();
    modulab::tune_allocator();
    let cli = Cli::parse();
    // no command opens the desktop app with the quick preset
    let command = cli.command.unwrap_or_else(|| Command::Gui(GuiArgs::default()));
    if let Err(error) = cli::run(command) {
        let code = if error.downcast_ref::<UsageError>().is_some() { 2 } else { 1 };
        eprintln!("modulab: {error:#}");
        std::process::exit(code);
    }
}
