//! The log line formats: tracing-subscriber's text and JSON lines, plus the request id of the
//! unary call whose handler wrote the line ([`request_id::current`]), so that every line of a
//! call carries its id without a `tracing` span per call. Lines written outside a unary
//! handler pass through untouched (streaming calls carry their id in their `call` span).
//!
//! * text: ` request_id=<id>` after the event's own fields;
//! * JSON: `"request_id":"<id>"` first among the event's `fields`, where the access line has it.

use std::{cell::RefCell, fmt};

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
}
