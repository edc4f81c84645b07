//! `lava-worker` entry point (the worker is built in the tracker's issue 3; until then it
//! refuses to start rather than consume messages it cannot run).

fn main() -> std::process::ExitCode {
    eprintln!("lava-worker: the worker is not built yet (issue 3); refusing to start");
    std::process::ExitCode::from(2)
}
