//! `lava`: parse arguments, run, print.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = lava_cli::Cli::parse();
    match lava_cli::run(cli).await {
        Ok(output) => {
            if !output.is_empty() {
                println!("{output}");
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) if e.is::<lava_cli::Unmet>() => {
            println!("{e}");
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("lava: {}", lava_cli::error_text(&e));
            std::process::ExitCode::FAILURE
        }
    }
}
