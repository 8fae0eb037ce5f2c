//! How sbctl prints: every result is first a JSON value (the proto's field names, int64 as
//! numbers, enums by name, timestamps in RFC 3339), then either printed as is (`--output
//! json`, one document per line) or laid out for people (`--output table`).

use serde_json::{Map, Value, json};
use switchboard_client::pb;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

pub fn print(format: Format, value: &Value) {
    match format {
        Format::Json => println!("{value}"),
        Format::Table => print!("{}", table(value)),
    }
}

/// An object's scalar fields as `name  value` lines, nested objects as `outer.inner`; an
/// object holding a list of objects (users, payments, files) as a table; a list of strings
/// one per line.
pub fn table(value: &Value) -> String {
    let mut out = String::new();
    let Value::Object(object) = value else {
        out.push_str(&scalar(value));
        out.push('\n');
        return out;
    };
    let mut pairs = Vec::new();
    for (name, field) in object {
        match field {
            Value::Array(items) if items.iter().all(Value::is_object) && !items.is_empty() => {
                out.push_str(&rows(items));
            }
            Value::Array(items) if items.is_empty() => out.push_str(&format!("(no {name})\n")),
            Value::Array(items) => {
                for item in items {
                    out.push_str(&scalar(item));
                    out.push('\n');
                }
            }
            Value::Object(_) => flatten(name, field, &mut pairs),
            _ => pairs.push((name.clone(), scalar(field))),
        }
    }
    let width = pairs.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    for (name, value) in pairs {
        if name == "next_page_token" && value.is_empty() {
            continue;
        }
        out.push_str(&format!("{name:<width$}  {value}\n"));
    }
    out
}

fn flatten(prefix: &str, value: &Value, pairs: &mut Vec<(String, String)>) {
    match value {
        Value::Object(object) => {
            for (name, field) in object {
                flatten(&format!("{prefix}.{name}"), field, pairs);
            }
        }
        other => pairs.push((prefix.to_owned(), scalar(other))),
    }
}

fn rows(items: &[Value]) -> String {
    let columns: Vec<&String> = match &items[0] {
        Value::Object(first) => first.iter().filter(|(_, v)| !v.is_object()).map(|(k, _)| k).collect(),
        _ => return String::new(),
    };
    let cells: Vec<Vec<String>> =
        items.iter().map(|item| columns.iter().map(|c| scalar(&item[c.as_str()])).collect()).collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| cells.iter().map(|row| row[i].chars().count()).max().unwrap_or(0).max(c.len()))
        .collect();
    let line = |values: Vec<String>| {
        let padded: Vec<String> = values.iter().zip(&widths).map(|(v, w)| format!("{v:<w$}")).collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(columns.iter().map(|c| c.to_uppercase()).collect());
    for row in cells {
        out.push_str(&line(row));
    }
    out
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// RFC 3339 in UTC, e.g. `2026-11-30T08:12:10.123Z`.
pub fn timestamp(time: &Option<prost_types::Timestamp>) -> Value {
    let Some(time) = time else { return Value::Null };
    let days = time.seconds.div_euclid(86_400);
    let rest = time.seconds.rem_euclid(86_400);
    // Howard Hinnant's days → civil date.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let millis = time.nanos.clamp(0, 999_999_999) / 1_000_000;
    Value::String(format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    ))
}

pub fn user(user: &pb::User) -> Value {
    json!({
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "age": user.age,
        "create_time": timestamp(&user.create_time),
        "update_time": timestamp(&user.update_time),
    })
}

pub fn payment(payment: &pb::Payment) -> Value {
    let status = pb::PaymentStatus::try_from(payment.status)
        .map(|s| s.as_str_name().to_owned())
        .unwrap_or_else(|_| payment.status.to_string());
    let mut object = Map::new();
    object.insert("id".into(), json!(payment.id));
    object.insert("status".into(), json!(status));
    object.insert("amount_minor".into(), json!(payment.amount_minor));
    object.insert("currency".into(), json!(payment.currency));
    object.insert("customer_id".into(), json!(payment.customer_id));
    object.insert("description".into(), json!(payment.description));
    object.insert("refunded_minor".into(), json!(payment.refunded_minor));
    object.insert("failure_code".into(), json!(payment.failure_code));
    object.insert("failure_message".into(), json!(payment.failure_message));
    object.insert("create_time".into(), timestamp(&payment.create_time));
    object.insert("update_time".into(), timestamp(&payment.update_time));
    Value::Object(object)
}

pub fn refund(refund: &pb::Refund) -> Value {
    json!({
        "id": refund.id,
        "payment_id": refund.payment_id,
        "amount_minor": refund.amount_minor,
        "currency": refund.currency,
        "reason": refund.reason,
        "create_time": timestamp(&refund.create_time),
        "payment": refund.payment.as_ref().map(payment).unwrap_or(Value::Null),
    })
}

pub fn file(info: &pb::FileInfo) -> Value {
    json!({
        "name": info.name,
        "size": info.size,
        "content_type": info.content_type,
        "sha256": info.sha256,
        "create_time": timestamp(&info.create_time),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339() {
        let at = |seconds, nanos| timestamp(&Some(prost_types::Timestamp { seconds, nanos }));
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(951_782_400, 5_000_000), "2000-02-29T00:00:00.005Z");
        assert_eq!(at(1_796_026_330, 0), "2026-11-30T08:12:10.000Z");
    }

    #[test]
    fn lists_become_tables() {
        let value =
            json!({"users": [{"id": 1, "username": "alice"}, {"id": 22, "username": "bo"}], "next_page_token": ""});
        assert_eq!(table(&value), "ID  USERNAME\n1   alice\n22  bo\n");
        assert_eq!(table(&json!({"keys": []})), "(no keys)\n");
    }
}
