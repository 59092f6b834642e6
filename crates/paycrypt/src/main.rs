//! The `paycrypt` command-line tool.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod calc;

/// paycrypt: a software payment HSM.
#[derive(Parser, Debug)]
#[command(name = "paycrypt", version, about)]
struct Cli {
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = calc::OutputFormat::Table)]
    output: calc::OutputFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Offline payment-crypto calculators (no server): PIN blocks, DUKPT, CVV, ARQC, MAC, KCV, ...
    #[command(subcommand)]
    Calc(calc::CalcCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Calc(cmd) => calc::run(cmd, cli.output),
    }
}
