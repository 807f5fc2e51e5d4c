//! Log lines leave the thread that formats them through a bounded queue; one background thread
//! writes them to stderr in batches (one `write` for all the lines that queued up since the
//! previous batch; after a batch of several lines it pauses a few milliseconds so the next one
//! gathers more), so a busy server does not pay a system call and a thread wake-up per access
//! record, and a quiet one has each line written at once.
//!
//! Nothing is dropped while the process runs: when the queue is full, the logging thread waits,
//! as it would on a slow stderr. A `kill -9` under load loses the lines of the last pause (at
//! most 5 ms of them); a clean stop loses none. [`LogGuard`] flushes what is queued when it is dropped (the end of `main`), so the
//! last lines, and any line logged before an error exit, reach stderr before the process ends.

use std::io::Write;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::time::Duration;

/// How many formatted lines may wait for the writer thread.
const QUEUE_LINES: usize = 16 * 1024;
/// How long the writer pauses after a batch, so the next one gathers the lines of that time.
const GATHER: Duration = Duration::from_millis(5);
/// How long the guard waits for the queue to drain at exit.
const FLUSH_WAIT: Duration = Duration::from_secs(3);

enum Msg {
    Line(Vec<u8>),
    Flush(mpsc::Sender<()>),
}

/// The `MakeWriter` given to the log formatter: each event is formatted into a [`LineWriter`],
/// which queues the finished line when it is dropped.
#[derive(Clone)]
pub struct QueuedStderr {
    tx: SyncSender<Msg>,
}

/// Flushes the queue when dropped.
pub struct LogGuard {
    tx: SyncSender<Msg>,
}

/// Starts the writer thread. If the thread cannot be started, lines are written straight to
/// stderr (the queue's receiver is gone, see [`LineWriter`]'s drop).
pub fn queued_stderr() -> (QueuedStderr, LogGuard) {
    let (tx, rx) = mpsc::sync_channel(QUEUE_LINES);
    let started = std::thread::Builder::new().name("log-writer".into()).spawn(move || drain(&rx, std::io::stderr()));
    if let Err(e) = started {
        // the receiver was moved into the closure and dropped with it: LineWriter falls back
        let _ = writeln!(std::io::stderr(), "warning: log writer thread not started ({e}); logging directly");
    }
    (QueuedStderr { tx: tx.clone() }, LogGuard { tx })
}

/// The writer thread: waits for a line, then takes every line already queued, writes them as one
/// buffer and flushes before waiting again.
fn drain<W: Write>(rx: &Receiver<Msg>, out: W) {
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
    while let Ok(first) = rx.recv() {
        let mut acks = Vec::new();
        let mut lines = 0usize;
        let mut next = Some(first);
        while let Some(msg) = next {
            match msg {
                // a failing stderr has nowhere to report to: the line is lost, logging goes on
                Msg::Line(line) => {
                    lines += 1;
                    drop(out.write_all(&line));
                }
                Msg::Flush(ack) => acks.push(ack),
            }
            next = rx.try_recv().ok();
        }
        let _ = out.flush();
        let flushed = !acks.is_empty();
        for ack in acks {
            let _ = ack.send(());
        }
        if lines > 1 && !flushed {
            // lines are arriving faster than one per write: let them gather. A sender wakes this
            // thread only when it waits in `recv`, so a busy server pays one wake-up and one
            // write per pause, not per line; a quiet one has each line written at once
            std::thread::sleep(GATHER);
        }
    }
    let _ = out.flush();
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for QueuedStderr {
    type Writer = LineWriter<'a>;
    fn make_writer(&'a self) -> LineWriter<'a> {
        LineWriter { tx: &self.tx, buf: Vec::new() }
    }
}

/// One event's formatted text, queued on drop.
pub struct LineWriter<'a> {
    tx: &'a SyncSender<Msg>,
    buf: Vec<u8>,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter<'_> {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let line = std::mem::take(&mut self.buf);
        if let Err(mpsc::SendError(Msg::Line(line))) = self.tx.send(Msg::Line(line)) {
            // no writer thread: write it here
            let _ = std::io::stderr().write_all(&line);
        }
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        let (ack, done) = mpsc::channel();
        if self.tx.send(Msg::Flush(ack)).is_ok() {
            let _ = done.recv_timeout(FLUSH_WAIT);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A `Write` the test can read back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<(Vec<u8>, usize)>>);
    impl Write for Shared {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            let mut g = self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?;
            g.0.extend_from_slice(data);
            g.1 += 1;
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_arrives_in_order_and_the_guard_waits_for_them() {
        let (tx, rx) = mpsc::sync_channel(64); // a small queue: writers must wait, never drop
        let sink = Shared::default();
        let out = sink.clone();
        std::thread::spawn(move || drain(&rx, out));
        let make = QueuedStderr { tx: tx.clone() };
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let make = make.clone();
                std::thread::spawn(move || {
                    for i in 0..500 {
                        let mut w = tracing_subscriber::fmt::MakeWriter::make_writer(&make);
                        w.write_all(format!("t{t} line {i}\n").as_bytes()).expect("buffer write");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("writer thread");
        }
        drop(LogGuard { tx });
        let text = String::from_utf8(sink.0.lock().expect("lock").0.clone()).expect("utf-8");
        for t in 0..4 {
            let mine: Vec<&str> = text.lines().filter(|l| l.starts_with(&format!("t{t} "))).collect();
            assert_eq!(mine.len(), 500, "thread {t}");
            for (i, l) in mine.iter().enumerate() {
                assert_eq!(*l, format!("t{t} line {i}"));
            }
        }
    }

    #[test]
    fn lines_queued_while_the_writer_is_busy_go_out_in_one_write() {
        let (tx, rx) = mpsc::sync_channel(100);
        let make = QueuedStderr { tx: tx.clone() };
        for i in 0..100 {
            let mut w = tracing_subscriber::fmt::MakeWriter::make_writer(&make);
            w.write_all(format!("line {i}\n").as_bytes()).expect("buffer write");
        }
        let sink = Shared::default();
        let out = sink.clone();
        std::thread::spawn(move || drain(&rx, out));
        drop(LogGuard { tx });
        let g = sink.0.lock().expect("lock");
        assert_eq!(g.0.iter().filter(|b| **b == b'\n').count(), 100);
        assert_eq!(g.1, 1, "100 queued lines, {} writes", g.1);
    }

    #[test]
    fn without_the_writer_thread_lines_still_reach_stderr() {
        let (tx, rx) = mpsc::sync_channel(1);
        drop(rx);
        let make = QueuedStderr { tx: tx.clone() };
        let mut w = tracing_subscriber::fmt::MakeWriter::make_writer(&make);
        w.write_all(b"logwriter fallback test line\n").expect("buffer write");
        drop(w); // would panic or hang if the send error were not handled
        drop(LogGuard { tx }); // returns at once: nobody to flush
    }
}
