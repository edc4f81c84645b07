//! Result bytes on their way from the rows to the output through a bounded channel, so the
//! output writes (an S3 part, a file) while the next rows are read and formatted: the producer
//! and the consumer run side by side in one task (`tokio::join!`), with at most [`DEPTH`]
//! chunks between them.

use tokio::sync::mpsc;

use crate::error::{Error, Result};

/// Chunks held between the rows and the output (each about a megabyte).
pub const DEPTH: usize = 8;

/// The rows' end of the pipe.
pub struct ChunkSender(mpsc::Sender<Vec<u8>>);

/// The output's end of the pipe.
pub type ChunkReceiver = mpsc::Receiver<Vec<u8>>;

/// A new pipe.
pub fn channel() -> (ChunkSender, ChunkReceiver) {
    let (tx, rx) = mpsc::channel(DEPTH);
    (ChunkSender(tx), rx)
}

impl ChunkSender {
    /// Hands a chunk on, waiting while the pipe is full; fails once the output has stopped (its
    /// own error is the one to report).
    pub async fn send(&self, bytes: Vec<u8>) -> Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.0.send(bytes).await.map_err(|_| Error::Unexpected("the output stopped".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn chunks_arrive_in_order_and_a_stopped_output_stops_the_rows() {
        let (tx, mut rx) = channel();
        let producer = async move {
            for i in 0..100u8 {
                tx.send(vec![i]).await.unwrap();
            }
        };
        let consumer = async {
            let mut got = Vec::new();
            while let Some(chunk) = rx.recv().await {
                got.extend(chunk);
            }
            got
        };
        let ((), got) = tokio::join!(producer, consumer);
        assert_eq!(got, (0..100u8).collect::<Vec<_>>());

        let (tx, rx) = channel();
        drop(rx);
        assert_eq!(
            tx.send(vec![1]).await.unwrap_err().to_string(),
            Error::Unexpected("the output stopped".into()).to_string()
        );
    }
}
