//! Log lines: their formats and their way out.
//!
//! **Formats.** tracing-subscriber's text and JSON lines, plus the request id of the unary call
//! whose handler wrote the line ([`request_id::current`]), so that every line of a call carries
//! its id without a `tracing` span per call. Lines written outside a unary handler pass through
//! untouched (streaming calls carry their id in their `call` span).
//!
//! * text: ` request_id=<id>` after the event's own fields;
//! * JSON: `"request_id":"<id>"` first among the event's `fields`, where the access line has it.
//!
//! **Way out.** [`BatchedWriter`]: a serving thread appends its line to one shared buffer and
//! goes on; a thread of its own writes the buffer out in batches. One access line per call
//! would otherwise cost each call a `write` system call, or (through a channel to a log
//! thread) an allocation and a wake-up of that thread per line.

use std::{
    cell::RefCell,
    fmt,
    io::{self, Write},
    sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError},
    thread::JoinHandle,
    time::Duration,
};

use tracing::{Event, Subscriber};
use tracing_subscriber::{
    field::RecordFields,
    fmt::{
        FmtContext, FormatEvent, FormatFields,
        format::{DefaultFields, Writer},
    },
    registry::LookupSpan,
};

use crate::middleware::request_id::{self, RequestId};

/// Text lines: the default field format, then the call's request id.
#[derive(Debug, Default)]
pub struct TextFields {
    inner: DefaultFields,
}

impl<'writer> FormatFields<'writer> for TextFields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'writer>, fields: R) -> fmt::Result {
        self.inner.format_fields(writer.by_ref(), fields)?;
        match request_id::current() {
            Some(id) => write!(writer, " request_id={id}"),
            None => Ok(()),
        }
    }
}

/// JSON lines: `inner`'s object, with the call's request id added to its `fields`.
#[derive(Debug)]
pub struct JsonWithRequestId<F> {
    inner: F,
}

impl<F> JsonWithRequestId<F> {
    pub fn new(inner: F) -> Self {
        Self { inner }
    }
}

thread_local! {
    /// The line as `inner` wrote it, before the id goes in: reused, line after line.
    static SCRATCH: RefCell<String> = const { RefCell::new(String::new()) };
}

impl<S, N, F> FormatEvent<S, N> for JsonWithRequestId<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let id = match request_id::current() {
            Some(id) if event.metadata().fields().field("request_id").is_none() => id,
            _ => return self.inner.format_event(ctx, writer, event),
        };
        SCRATCH.with(|scratch| {
            let Ok(mut line) = scratch.try_borrow_mut() else {
                // Formatting a line while formatting a line (a `Debug` impl that logs): no id.
                return self.inner.format_event(ctx, writer.by_ref(), event);
            };
            line.clear();
            self.inner.format_event(ctx, Writer::new(&mut *line), event)?;
            write_with_id(&mut writer, &line, &id)
        })
    }
}

/// `line` (one JSON object) with `"request_id"` first in its `fields` (or first in the object
/// if it has none).
fn write_with_id(writer: &mut Writer<'_>, line: &str, id: &RequestId) -> fmt::Result {
    const FIELDS: &str = "\"fields\":{";
    let (at, object_ends_field) = match line.find(FIELDS) {
        Some(start) => (start + FIELDS.len(), line[start + FIELDS.len()..].starts_with('}')),
        None => (line.find('{').map_or(0, |brace| brace + 1), false),
    };
    writer.write_str(&line[..at])?;
    writer.write_str("\"request_id\":\"")?;
    // An id is visible ASCII: only `"` and `\` need escaping in a JSON string.
    for part in id.as_str().split_inclusive(['"', '\\']) {
        match part.char_indices().last() {
            Some((last, quote @ ('"' | '\\'))) => {
                writer.write_str(&part[..last])?;
                writer.write_char('\\')?;
                writer.write_char(quote)?;
            }
            _ => writer.write_str(part)?,
        }
    }
    writer.write_str(if object_ends_field { "\"" } else { "\"," })?;
    writer.write_str(&line[at..])
}

/// How long the log thread, woken by a first line, waits for more before it writes: the
/// longest a line waits in the buffer (unless the output is slower).
const GATHER: Duration = Duration::from_millis(5);
/// A buffer this full is written at once.
const HIGH_WATER: usize = 64 * 1024;
/// A buffer this full makes loggers wait for the output: slow output slows logging down rather
/// than growing memory or dropping lines.
const HARD_LIMIT: usize = 8 * 1024 * 1024;

/// A `MakeWriter` for the fmt layer: lines gathered in memory and written by a thread of their
/// own ([`BatchedWriter::start`]). Not lossy: every line is written, in order, and the
/// [`FlushGuard`] writes what is left when it is dropped.
#[derive(Clone)]
pub struct BatchedWriter {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<Batch>,
    /// The log thread waits here for a first line (or to close).
    lines_waiting: Condvar,
    /// Loggers wait here while the buffer is at its hard limit.
    drained: Condvar,
}

#[derive(Default)]
struct Batch {
    lines: Vec<u8>,
    /// The log thread is waiting on `lines_waiting` (waking it is needed, and worth a syscall).
    idle: bool,
    closed: bool,
}

/// Dropped, it writes every line still waiting and stops the log thread.
pub struct FlushGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl BatchedWriter {
    /// The writer, and the thread that writes to `output` (named `log-writer`).
    pub fn start(output: impl Write + Send + 'static) -> io::Result<(Self, FlushGuard)> {
        let shared = Arc::new(Shared {
            state: Mutex::new(Batch::default()),
            lines_waiting: Condvar::new(),
            drained: Condvar::new(),
        });
        let thread = std::thread::Builder::new().name("log-writer".into()).spawn({
            let shared = Arc::clone(&shared);
            move || shared.write_out(output)
        })?;
        Ok((Self { shared: Arc::clone(&shared) }, FlushGuard { shared, thread: Some(thread) }))
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Batch> {
        // A panic while holding the lock leaves whole lines behind: keep going.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn append(&self, line: &[u8]) {
        let mut batch = self.lock();
        while batch.lines.len() >= HARD_LIMIT && !batch.closed {
            batch = self.drained.wait(batch).unwrap_or_else(PoisonError::into_inner);
        }
        let first = batch.lines.is_empty();
        batch.lines.extend_from_slice(line);
        if batch.idle && (first || batch.lines.len() >= HIGH_WATER) {
            batch.idle = false;
            self.lines_waiting.notify_one();
        }
    }

    /// The log thread: waits for a first line, gathers for [`GATHER`], writes the batch.
    fn write_out(&self, mut output: impl Write) {
        let mut spare = Vec::new();
        loop {
            let mut batch = self.lock();
            while batch.lines.is_empty() && !batch.closed {
                batch.idle = true;
                batch = self.lines_waiting.wait(batch).unwrap_or_else(PoisonError::into_inner);
            }
            if batch.lines.is_empty() && batch.closed {
                return;
            }
            if !batch.closed && batch.lines.len() < HIGH_WATER {
                // More lines will come with the first: one write for all of them.
                batch.idle = true;
                batch = self.lines_waiting.wait_timeout(batch, GATHER).unwrap_or_else(PoisonError::into_inner).0;
                batch.idle = false;
            }
            std::mem::swap(&mut batch.lines, &mut spare);
            drop(batch);
            self.drained.notify_all();
            // Nowhere to report a failed log write: the lines are dropped, logging goes on.
            let _ = output.write_all(&spare).and_then(|()| output.flush());
            spare.clear();
            if spare.capacity() > HIGH_WATER * 4 {
                spare.shrink_to(HIGH_WATER);
            }
        }
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        {
            let mut batch = self.shared.lock();
            batch.closed = true;
        }
        self.shared.lines_waiting.notify_one();
        self.shared.drained.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One line's writer, as the fmt layer asks for it.
pub struct LineWriter<'a> {
    shared: &'a Shared,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        self.shared.append(line);
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for BatchedWriter {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter { shared: &self.shared }
    }
}

#[cfg(test)]
mod tests {
    use tonic::codegen::http::HeaderValue;

    use super::*;

    fn with_id(line: &str, id: &'static str) -> String {
        let mut out = String::new();
        let id = RequestId::from_header(Some(&HeaderValue::from_static(id)));
        write_with_id(&mut Writer::new(&mut out), line, &id).unwrap();
        out
    }

    #[test]
    fn the_id_goes_first_into_the_fields_and_is_escaped() {
        assert_eq!(
            with_id(r#"{"level":"INFO","fields":{"message":"hi"},"target":"t"}"#, "abc"),
            r#"{"level":"INFO","fields":{"request_id":"abc","message":"hi"},"target":"t"}"#
        );
        assert_eq!(with_id(r#"{"fields":{}}"#, "abc"), r#"{"fields":{"request_id":"abc"}}"#);
        assert_eq!(with_id(r#"{"message":"flat"}"#, "abc"), r#"{"request_id":"abc","message":"flat"}"#);
        let escaped = with_id(r#"{"fields":{"message":"hi"}}"#, r#"a"b\c"#);
        assert_eq!(escaped, r#"{"fields":{"request_id":"a\"b\\c","message":"hi"}}"#);
        let parsed: serde_json::Value = serde_json::from_str(&escaped).unwrap();
        assert_eq!(parsed["fields"]["request_id"], r#"a"b\c"#);
    }

    /// An output that keeps what it is given, slowly.
    #[derive(Clone, Default)]
    struct Slow(Arc<Mutex<Vec<u8>>>);

    impl Write for Slow {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            std::thread::sleep(Duration::from_micros(200));
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_from_every_thread_is_written_whole_and_in_its_order() {
        use tracing_subscriber::fmt::MakeWriter as _;
        let output = Slow::default();
        let (writer, guard) = BatchedWriter::start(output.clone()).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|thread| {
                let writer = writer.clone();
                std::thread::spawn(move || {
                    for n in 0..5_000 {
                        writer.make_writer().write_all(format!("t{thread} line {n}\n").as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        drop(guard);
        let text = String::from_utf8(output.0.lock().unwrap().clone()).unwrap();
        for thread in 0..4 {
            let prefix = format!("t{thread} ");
            let numbers: Vec<usize> = text
                .lines()
                .filter_map(|line| line.strip_prefix(&prefix))
                .map(|rest| rest.strip_prefix("line ").unwrap().parse().unwrap())
                .collect();
            assert_eq!(numbers, (0..5_000).collect::<Vec<_>>(), "thread {thread}");
        }
    }
}
