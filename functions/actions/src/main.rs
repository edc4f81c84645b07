//! The `actions` Lambda: handles post-job action lists.
//! Its handler is built in the tracker's issue 4; until then the binary refuses to start, so a
//! deployment can never silently drop messages.

fn main() -> std::process::ExitCode {
    eprintln!("actions: this function is not built yet (issue 4); refusing to start");
    std::process::ExitCode::from(2)
}
