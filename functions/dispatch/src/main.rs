//! The `dispatch` Lambda: handles dispatch requests, schedule ticks and EventBridge events.
//! Its handler is built in the tracker's issue 5; until then the binary refuses to start, so a
//! deployment can never silently drop messages.

fn main() -> std::process::ExitCode {
    eprintln!("dispatch: this function is not built yet (issue 5); refusing to start");
    std::process::ExitCode::from(2)
}
