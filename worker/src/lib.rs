//! `lava-worker`: polls a worker queue and runs jobs (built in the tracker's issue 3).
