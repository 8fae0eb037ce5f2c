//! JSON ⇄ protobuf at the edge: a REST request (path variables, query parameters, JSON body)
//! becomes the rpc's request message, and a response message becomes proto3 JSON.
//!
//! The mapping itself is `prost-reflect`'s proto3 canonical JSON (RFC 3339 timestamps,
//! FieldMask as a string, enums by name, 64-bit integers as strings out and either in). This
//! module only assembles one JSON object from the three places a request carries fields and
//! hands it to that mapping, so every field of every rpc is read the same way.

use prost_reflect::{DeserializeOptions, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, SerializeOptions};
use serde_json::{Map, Value as Json};

use super::routes::{BodyRule, Route};

/// Why a request could not become a message: a 400 with this text.
#[derive(Debug, thiserror::Error)]
pub enum TranscodeError {
    #[error("the request body is not valid JSON: {0}")]
    Syntax(serde_json::Error),
    #[error("the request body must be a JSON object")]
    NotAnObject,
    #[error("unknown query parameter {0:?}")]
    UnknownParameter(String),
    #[error("query parameter {0:?} is not a single value or a list of values")]
    NotAScalar(String),
    #[error("query parameter {0:?} is bound by the path or the body, not the query")]
    Bound(String),
    #[error("query parameter {0:?} is repeated but its field takes one value")]
    Repeated(String),
    #[error("invalid request: {0}")]
    Mapping(serde_json::Error),
}

/// proto3 JSON as clients get it: the proto's field names, every field shown (zero values
/// included, so a client never has to know a field's default), enums by name.
const OUTPUT: SerializeOptions = SerializeOptions::new().use_proto_field_name(true).skip_default_fields(false);

/// The message named by a dotted field path of `message` (`user.id` → the `id` field of `user`).
pub fn resolve_path(message: &MessageDescriptor, path: &str) -> Option<FieldDescriptor> {
    let mut current = message.clone();
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let field = find_field(&current, part)?;
        if parts.peek().is_none() {
            return Some(field);
        }
        current = match field.kind() {
            Kind::Message(inner) if !field.is_list() && !field.is_map() => inner,
            _ => return None,
        };
    }
    None
}

/// A field by its proto name or its JSON name, as proto3 JSON accepts both.
fn find_field(message: &MessageDescriptor, name: &str) -> Option<FieldDescriptor> {
    message.get_field_by_name(name).or_else(|| message.get_field_by_json_name(name))
}

/// Builds the request message of `route` from the bound path variables, the query string and
/// the body (already read, empty for none).
pub fn request_message(
    route: &Route,
    bound: &[(String, String)],
    query: Option<&str>,
    body: &[u8],
) -> Result<DynamicMessage, TranscodeError> {
    let input = route.method.input();
    let mut root = Map::new();

    // The body first: path variables override what it says of the same field, as in
    // grpc-gateway.
    let mut inferred_mask = None;
    if !is_blank(body) {
        let parsed: Json = serde_json::from_slice(body).map_err(TranscodeError::Syntax)?;
        match &route.body {
            BodyRule::None => {}
            BodyRule::Whole => match parsed {
                Json::Object(fields) => root = fields,
                _ => return Err(TranscodeError::NotAnObject),
            },
            BodyRule::Field(field) => {
                if let (Some(descriptor), Json::Object(fields)) = (find_field(&input, field), &parsed)
                    && let Kind::Message(body_type) = descriptor.kind()
                    && has_update_mask(&input)
                {
                    let mut paths = Vec::new();
                    mask_paths(&body_type, fields, "", &mut paths);
                    inferred_mask = Some(paths.join(","));
                }
                root.insert(field.clone(), parsed);
            }
        }
    }

    let bound_fields: Vec<&str> = bound.iter().map(|(field, _)| field.as_str()).collect();
    if let Some(query) = query {
        let mut seen: Vec<String> = Vec::new();
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            let field =
                resolve_path(&input, &name).ok_or_else(|| TranscodeError::UnknownParameter(name.to_string()))?;
            let top = name.split('.').next().unwrap_or_default();
            let in_body = match &route.body {
                BodyRule::Whole => true,
                BodyRule::Field(body) => find_field(&input, top).is_some_and(|f| f.name() == body),
                BodyRule::None => false,
            };
            if in_body || bound_fields.iter().any(|b| same_path(&input, b, &name)) {
                return Err(TranscodeError::Bound(name.to_string()));
            }
            let value = query_value(&field, &value).ok_or_else(|| TranscodeError::NotAScalar(name.to_string()))?;
            let key = canonical_path(&input, &name);
            if field.is_list() {
                match lookup_mut(&mut root, &key) {
                    Some(Json::Array(items)) => items.push(value),
                    _ => insert_path(&mut root, &key, Json::Array(vec![value])),
                }
            } else if seen.contains(&key) {
                return Err(TranscodeError::Repeated(name.to_string()));
            } else {
                insert_path(&mut root, &key, value);
            }
            seen.push(key);
        }
    }
    if let Some(mask) = inferred_mask
        && !root.contains_key("update_mask")
        && !root.contains_key("updateMask")
    {
        root.insert("update_mask".into(), Json::String(mask));
    }
    for (field, value) in bound {
        let descriptor = resolve_path(&input, field).ok_or_else(|| TranscodeError::UnknownParameter(field.clone()))?;
        let value = query_value(&descriptor, value).ok_or_else(|| TranscodeError::NotAScalar(field.clone()))?;
        insert_path(&mut root, &canonical_path(&input, field), value);
    }

    DynamicMessage::deserialize_with_options(input, Json::Object(root), &DeserializeOptions::new())
        .map_err(TranscodeError::Mapping)
}

fn is_blank(body: &[u8]) -> bool {
    body.iter().all(u8::is_ascii_whitespace)
}

fn has_update_mask(input: &MessageDescriptor) -> bool {
    input
        .get_field_by_name("update_mask")
        .is_some_and(|f| matches!(f.kind(), Kind::Message(m) if m.full_name() == "google.protobuf.FieldMask"))
}

/// The field paths a JSON object sets, as grpc-gateway infers an update mask: nested objects
/// of message fields contribute their own leaves (`a.b`), everything else its field name.
fn mask_paths(message: &MessageDescriptor, fields: &Map<String, Json>, prefix: &str, out: &mut Vec<String>) {
    for (name, value) in fields {
        let Some(field) = find_field(message, name) else {
            // Left for the mapping to refuse as an unknown field.
            continue;
        };
        let path = format!("{prefix}{}", field.name());
        match (field.kind(), value) {
            (Kind::Message(inner), Json::Object(nested))
                if !field.is_list() && !field.is_map() && !inner.full_name().starts_with("google.protobuf.") =>
            {
                mask_paths(&inner, nested, &format!("{path}."), out);
            }
            _ => out.push(path),
        }
    }
}

/// A dotted path spelled with proto names.
fn canonical_path(message: &MessageDescriptor, path: &str) -> String {
    let mut current = Some(message.clone());
    let mut names = Vec::new();
    for part in path.split('.') {
        let field = current.as_ref().and_then(|m| find_field(m, part));
        names.push(field.as_ref().map_or(part.to_owned(), |f| f.name().to_owned()));
        current = field.and_then(|f| match f.kind() {
            Kind::Message(inner) => Some(inner),
            _ => None,
        });
    }
    names.join(".")
}

fn same_path(message: &MessageDescriptor, a: &str, b: &str) -> bool {
    canonical_path(message, a) == canonical_path(message, b)
}

fn lookup_mut<'a>(root: &'a mut Map<String, Json>, path: &str) -> Option<&'a mut Json> {
    let mut parts = path.split('.');
    let mut current = root.get_mut(parts.next()?)?;
    for part in parts {
        current = current.as_object_mut()?.get_mut(part)?;
    }
    Some(current)
}

fn insert_path(root: &mut Map<String, Json>, path: &str, value: Json) {
    match path.split_once('.') {
        None => {
            root.insert(path.to_owned(), value);
        }
        Some((head, tail)) => {
            let entry = root.entry(head.to_owned()).or_insert_with(|| Json::Object(Map::new()));
            if !entry.is_object() {
                *entry = Json::Object(Map::new());
            }
            if let Json::Object(inner) = entry {
                insert_path(inner, tail, value);
            }
        }
    }
}

/// A query parameter or path variable as the JSON value its field takes. Numbers and booleans
/// that do not parse stay strings, so the mapping refuses them with its own message; `None`
/// for a field that cannot come from a query string (a message other than the well-known
/// types that have a string form, or a map).
fn query_value(field: &FieldDescriptor, text: &str) -> Option<Json> {
    if field.is_map() {
        return None;
    }
    let string = || Json::String(text.to_owned());
    Some(match field.kind() {
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 | Kind::Uint32 | Kind::Fixed32 => {
            text.parse::<i64>().map_or_else(|_| string(), Json::from)
        }
        Kind::Float | Kind::Double => {
            text.parse::<f64>().ok().and_then(serde_json::Number::from_f64).map_or_else(string, Json::Number)
        }
        Kind::Bool => match text {
            "true" => Json::Bool(true),
            "false" => Json::Bool(false),
            _ => string(),
        },
        Kind::Enum(_) => text.parse::<i64>().map_or_else(|_| string(), Json::from),
        Kind::Message(message) => match message.full_name() {
            "google.protobuf.Timestamp" | "google.protobuf.Duration" | "google.protobuf.FieldMask" => string(),
            "google.protobuf.StringValue"
            | "google.protobuf.BytesValue"
            | "google.protobuf.Int64Value"
            | "google.protobuf.UInt64Value" => string(),
            "google.protobuf.BoolValue" => match text {
                "true" => Json::Bool(true),
                "false" => Json::Bool(false),
                _ => string(),
            },
            "google.protobuf.Int32Value" | "google.protobuf.UInt32Value" => {
                text.parse::<i64>().map_or_else(|_| string(), Json::from)
            }
            "google.protobuf.FloatValue" | "google.protobuf.DoubleValue" => {
                text.parse::<f64>().ok().and_then(serde_json::Number::from_f64).map_or_else(string, Json::Number)
            }
            _ => return None,
        },
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 | Kind::Uint64 | Kind::Fixed64 | Kind::String | Kind::Bytes => {
            string()
        }
    })
}

/// A response message as proto3 JSON, appended to `out`.
pub fn write_json(message: &DynamicMessage, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
    let mut serializer = serde_json::Serializer::new(out);
    message.serialize_with_options(&mut serializer, &OUTPUT)
}

/// A message as a `serde_json::Value`, as clients get it (for the property tests).
#[cfg(test)]
pub fn to_json(message: &DynamicMessage) -> Result<Json, serde_json::Error> {
    message.serialize_with_options(serde_json::value::Serializer, &OUTPUT)
}

#[cfg(test)]
mod tests {
    use prost_reflect::DescriptorPool;
    use tonic::codegen::http;

    use super::*;
    use crate::rest::routes::{Matched, RouteTable};

    fn build(method: http::Method, path_and_query: &str, body: &str) -> Result<DynamicMessage, TranscodeError> {
        let pool = DescriptorPool::decode(crate::pb::FILE_DESCRIPTOR_SET).unwrap();
        let table = RouteTable::from_pool(&pool, &crate::server::SERVICE_NAMES).unwrap();
        let (path, query) = path_and_query.split_once('?').map_or((path_and_query, None), |(p, q)| (p, Some(q)));
        let Matched::Route(route, bound) = table.find(&method, path) else { panic!("no route for {path}") };
        request_message(route, &bound, query, body.as_bytes())
    }

    fn json(message: &DynamicMessage) -> String {
        let mut out = Vec::new();
        write_json(message, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn path_query_and_body_fill_one_message() {
        let get = build(http::Method::GET, "/v1/users/42", "").unwrap();
        assert_eq!(json(&get), r#"{"id":"42"}"#);
        let list = build(http::Method::GET, "/v1/users?page_size=5&pageToken=abc&query=al", "").unwrap();
        assert_eq!(json(&list), r#"{"page_size":5,"page_token":"abc","query":"al"}"#);
        let set = build(http::Method::PUT, "/v1/kv/a/b", r#"{"value":"v"}"#).unwrap();
        assert_eq!(json(&set), r#"{"key":"a/b","value":"v"}"#);
        // 64-bit integers are accepted as numbers or strings; the path wins over the body.
        let create = build(http::Method::POST, "/v1/payments", r#"{"amountMinor":"150","currency":"EUR"}"#).unwrap();
        assert!(json(&create).contains(r#""amount_minor":"150""#));
        let update = build(http::Method::PATCH, "/v1/users/7", r#"{"id":9,"age":31}"#).unwrap();
        assert!(json(&update).starts_with(r#"{"user":{"id":"7","#), "{}", json(&update));
    }

    #[test]
    fn the_update_mask_comes_from_the_query_or_else_the_body() {
        let inferred = build(http::Method::PATCH, "/v1/users/7", r#"{"age":31,"email":"a@b.c"}"#).unwrap();
        assert!(json(&inferred).ends_with(r#""update_mask":"age,email"}"#), "{}", json(&inferred));
        let explicit =
            build(http::Method::PATCH, "/v1/users/7?update_mask=age", r#"{"age":31,"email":"a@b.c"}"#).unwrap();
        assert!(json(&explicit).ends_with(r#""update_mask":"age"}"#), "{}", json(&explicit));
    }

    #[test]
    fn bad_requests_say_what_is_wrong() {
        let error = |m, p, b| build(m, p, b).unwrap_err().to_string();
        assert!(error(http::Method::GET, "/v1/users?colour=red", "").contains("unknown query parameter \"colour\""));
        assert!(error(http::Method::GET, "/v1/users/abc", "").contains("invalid request"));
        assert!(error(http::Method::POST, "/v1/users", "{").contains("not valid JSON"));
        assert!(error(http::Method::POST, "/v1/users", r#"{"username":"a","colour":1}"#).contains("colour"));
        assert!(error(http::Method::POST, "/v1/echo", "[1]").contains("JSON object"));
        assert!(error(http::Method::GET, "/v1/users?page_size=1&page_size=2", "").contains("repeated"));
        assert!(error(http::Method::GET, "/v1/users/1?id=2", "").contains("bound by the path"));
        assert!(error(http::Method::PUT, "/v1/kv/k?value=x", "").contains("bound by the path or the body"));
    }
}

/// Property tests (proptest) of REST transcoding: random path values, query strings and JSON
/// bodies on every route. Cases: 256 by default (`PROPTEST_CASES` for longer runs); failures
/// are kept in `proptest-regressions/rest/transcode.txt` and replayed first.
#[cfg(test)]
mod fuzz {
    use std::sync::OnceLock;

    use proptest::prelude::*;
    use prost::Message as _;
    use prost_reflect::{DescriptorPool, ReflectMessage as _, Value};

    use super::*;
    use crate::rest::routes::RouteTable;

    fn table() -> &'static RouteTable {
        static TABLE: OnceLock<RouteTable> = OnceLock::new();
        TABLE.get_or_init(|| {
            let pool = DescriptorPool::decode(crate::pb::FILE_DESCRIPTOR_SET).unwrap();
            RouteTable::from_pool(&pool, &crate::server::SERVICE_NAMES).unwrap()
        })
    }

    /// Every field name (proto and JSON spelling) of every request message, and dotted paths
    /// into their message fields: names a client might really send.
    fn field_names() -> &'static Vec<String> {
        static NAMES: OnceLock<Vec<String>> = OnceLock::new();
        NAMES.get_or_init(|| {
            let mut names = Vec::new();
            for route in table().routes() {
                for field in route.method.input().fields() {
                    names.push(field.name().to_owned());
                    names.push(field.json_name().to_owned());
                    if let Kind::Message(inner) = field.kind() {
                        for nested in inner.fields() {
                            names.push(format!("{}.{}", field.name(), nested.name()));
                            names.push(format!("{}.{}", field.json_name(), nested.json_name()));
                        }
                    }
                }
            }
            names.sort();
            names.dedup();
            names
        })
    }

    fn name() -> impl Strategy<Value = String> {
        prop_oneof![4 => prop::sample::select(field_names().clone()), 1 => "[a-zA-Z_.]{1,10}"]
    }

    /// Text a field might be given: numbers of every size, booleans, enum names, timestamps,
    /// durations, base64, and anything.
    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<i64>().prop_map(|n| n.to_string()),
            any::<u64>().prop_map(|n| n.to_string()),
            any::<f64>().prop_map(|n| n.to_string()),
            prop::sample::select(vec![
                "true",
                "false",
                "NaN",
                "Infinity",
                "-0",
                "1e400",
                "SET",
                "DELETED",
                "SUCCEEDED",
                "0x10",
                "2024-02-29T12:00:00Z",
                "2024-13-01T00:00:00Z",
                "1.5s",
                "age,email",
                "aGVsbG8=",
                "",
            ])
            .prop_map(str::to_owned),
            any::<String>(),
        ]
    }

    /// JSON of any shape, with keys that are mostly real field names.
    fn json() -> impl Strategy<Value = Json> {
        let leaf = prop_oneof![
            Just(Json::Null),
            any::<bool>().prop_map(Json::Bool),
            any::<i64>().prop_map(Json::from),
            any::<u64>().prop_map(Json::from),
            any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number)),
            text().prop_map(Json::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
                prop::collection::vec((name(), inner), 0..6)
                    .prop_map(|entries| Json::Object(entries.into_iter().collect())),
            ]
        })
    }

    fn body() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            6 => json().prop_map(|j| serde_json::to_vec(&j).unwrap()),
            1 => Just(Vec::new()),
            1 => prop::collection::vec(any::<u8>(), 0..32),
            1 => "[{}\\[\\]\":, a-z0-9]{0,24}".prop_map(String::into_bytes),
        ]
    }

    fn query() -> impl Strategy<Value = Option<String>> {
        prop_oneof![
            1 => Just(None),
            4 => prop::collection::vec((name(), text()), 0..5).prop_map(|pairs| {
                let mut query = form_urlencoded::Serializer::new(String::new());
                for (name, value) in pairs {
                    query.append_pair(&name, &value);
                }
                Some(query.finish())
            }),
            1 => any::<String>().prop_map(Some),
        ]
    }

    /// The value of a dotted field path in `message`, if it is set.
    fn value_at(message: &DynamicMessage, path: &str) -> Option<Value> {
        let (head, tail) = match path.split_once('.') {
            Some((head, tail)) => (head, Some(tail)),
            None => (path, None),
        };
        let value = message.get_field_by_name(head)?.into_owned();
        match tail {
            None => Some(value),
            Some(tail) => value_at(value.as_message()?, tail),
        }
    }

    proptest! {
        /// Any path values, query and body on any route: a message or an error that says what
        /// is wrong, never a panic. A message has each path variable's value in its field (the
        /// path wins over the body), and for `body: "*"` routes its own JSON transcodes back
        /// to the same message.
        #[test]
        fn any_request_is_a_message_or_a_clear_error(
            route in any::<prop::sample::Index>(),
            values in prop::collection::vec(text(), 2),
            query in query(),
            body in body(),
        ) {
            let route = &table().routes()[route.index(table().routes().len())];
            let bound: Vec<(String, String)> =
                route.template.variables().zip(&values).map(|(field, value)| (field.to_owned(), value.clone())).collect();
            let message = match request_message(route, &bound, query.as_deref(), &body) {
                Ok(message) => message,
                Err(error) => {
                    prop_assert!(!error.to_string().is_empty());
                    return Ok(());
                }
            };
            prop_assert_eq!(message.descriptor(), route.method.input());
            for (field, value) in &bound {
                let descriptor = resolve_path(&route.method.input(), field).unwrap();
                let set = value_at(&message, &canonical_path(&route.method.input(), field));
                match descriptor.kind() {
                    Kind::String => prop_assert_eq!(set, Some(Value::String(value.clone()))),
                    Kind::Int64 => prop_assert_eq!(set, Some(Value::I64(value.parse().unwrap()))),
                    _ => {}
                }
            }
            if route.body == BodyRule::Whole {
                let json = serde_json::to_vec(&to_json(&message).unwrap()).unwrap();
                let again = request_message(route, &bound, None, &json).map(|m| m.encode_to_vec());
                // Compared encoded: a field set to its default and an unset one are the same message.
                prop_assert_eq!(again.ok(), Some(message.encode_to_vec()), "{}", String::from_utf8_lossy(&json));
            }
        }
    }
}
