//! The OpenAPI 3.1 document of the REST routes, generated from the route table and the
//! descriptors (with the proto comments as descriptions), so it can never drift from what is
//! served. `switchboard --print-openapi` prints it; the server serves it at `/openapi.json`.

use std::collections::{BTreeMap, HashMap};

use prost_reflect::{FieldDescriptor, FileDescriptor, Kind, MessageDescriptor};
use serde_json::{Map, Value as Json, json};

use super::routes::{BodyRule, Route, RouteTable};

/// The services whose calls need the `x-api-key` header, and the rpcs that need an
/// `Idempotency-Key`: facts of the services, told to the document by the assembly.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    pub api_key_services: Vec<String>,
    pub idempotency_key_methods: Vec<String>,
}

/// The whole document as JSON text.
pub fn document_bytes(table: &RouteTable, credentials: &Credentials) -> Vec<u8> {
    serde_json::to_vec_pretty(&document(table, credentials)).unwrap_or_default()
}

/// The whole document.
pub fn document(table: &RouteTable, credentials: &Credentials) -> Json {
    let mut schemas = Schemas::default();
    let mut paths: BTreeMap<String, Map<String, Json>> = BTreeMap::new();
    let mut operation_ids: HashMap<String, usize> = HashMap::new();
    // OpenAPI treats `/v1/users/{id}` and `/v1/users/{user.id}` as one path: templates of the
    // same shape share the first one's path and parameter names.
    // The plainest spelling wins: `{id}` over `{user.id}`.
    let mut shapes: HashMap<String, (String, Vec<String>)> = HashMap::new();
    for route in table.routes() {
        let variables: Vec<String> = route.template.variables().map(str::to_owned).collect();
        let dots = |names: &[String]| names.iter().map(|n| n.matches('.').count()).sum::<usize>();
        let entry = shapes
            .entry(shape(&route.template.openapi_path()))
            .or_insert_with(|| (route.template.openapi_path(), variables.clone()));
        if dots(&variables) < dots(&entry.1) {
            *entry = (route.template.openapi_path(), variables);
        }
    }
    for route in table.routes() {
        let variables: Vec<String> = route.template.variables().map(str::to_owned).collect();
        let (path, names) = shapes[&shape(&route.template.openapi_path())].clone();
        let base_id = format!("{}_{}", route.method.parent_service().name(), route.method.name());
        let seen = operation_ids.entry(base_id.clone()).or_default();
        *seen += 1;
        let operation_id = if *seen == 1 { base_id } else { format!("{base_id}{seen}") };
        let renames: Vec<(String, String)> = variables.into_iter().zip(names).collect();
        let operation = operation(route, operation_id, &renames, credentials, &mut schemas);
        paths.entry(path).or_default().insert(route.http_method.as_str().to_ascii_lowercase(), operation);
    }
    schemas.0.insert("google.rpc.Status".into(), status_schema());
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Switchboard",
            "version": "v1",
            "description": "The REST face of Switchboard's gRPC services, transcoded from the \
                `google.api.http` rules in the protos. Every call passes the same layers as a gRPC \
                call. Errors are `google.rpc.Status` JSON. With `--auth-token`, every operation \
                also needs `Authorization: Bearer <token>`.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas.0,
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key",
                    "description": "A payment API key (`--payment-api-keys`)."},
                "bearer": {"type": "http", "scheme": "bearer",
                    "description": "The server's `--auth-token`, when it has one."},
            },
        },
    })
}

/// A templated path with its variables' names left out: `/v1/users/{}`.
fn shape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_variable = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_variable = true;
                out.push_str("{}");
            }
            '}' => in_variable = false,
            _ if in_variable => {}
            _ => out.push(c),
        }
    }
    out
}

/// One operation; `renames` pairs each path variable with its name in the shared path.
fn operation(
    route: &Route,
    operation_id: String,
    renames: &[(String, String)],
    credentials: &Credentials,
    schemas: &mut Schemas,
) -> Json {
    let method = &route.method;
    let input = method.input();
    let output = method.output();
    let mut op = Map::new();
    op.insert("operationId".into(), json!(operation_id));
    op.insert("tags".into(), json!([method.parent_service().name()]));
    let description = comments(&method.parent_file(), method.path()).unwrap_or_default();
    op.insert("summary".into(), json!(first_sentence(&description)));
    op.insert("description".into(), json!(description));

    let bound: Vec<&str> = route.template.variables().collect();
    let mut parameters = Vec::new();
    for variable in &bound {
        let field = super::transcode::resolve_path(&input, variable);
        let mut schema = field.as_ref().map_or(json!({"type": "string"}), |f| schemas.single(f));
        if route.template.is_multi_segment(variable) {
            schema["description"] = json!("May contain `/`.");
        }
        let name = renames.iter().find(|(from, _)| from == variable).map_or(*variable, |(_, to)| to.as_str());
        let mut description = field.map(|f| field_comment(&f)).unwrap_or_default();
        if name != *variable {
            description = format!("The request's `{variable}`. {description}");
        }
        parameters.push(json!({
            "name": name, "in": "path", "required": true, "schema": schema, "description": description,
        }));
    }
    if route.body != BodyRule::Whole {
        let body_field = match &route.body {
            BodyRule::Field(name) => Some(name.as_str()),
            _ => None,
        };
        query_parameters(&input, "", &bound, body_field, schemas, &mut parameters, 0);
    }
    let service = method.parent_service().full_name().to_owned();
    if credentials.idempotency_key_methods.iter().any(|m| m == method.full_name()) {
        parameters.push(json!({
            "name": "Idempotency-Key", "in": "header", "required": true,
            "schema": {"type": "string", "minLength": 1, "maxLength": 255},
            "description": "The same key with the same request returns the original result; with a different request, an error.",
        }));
    }
    op.insert("parameters".into(), Json::Array(parameters));

    match &route.body {
        BodyRule::None => {}
        BodyRule::Field(name) if route.is_client_streaming() => {
            let _ = name;
            op.insert(
                "requestBody".into(),
                json!({"required": true, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}),
            );
        }
        BodyRule::Field(name) => {
            let schema = input.get_field_by_name(name).map_or(json!({}), |f| schemas.field(&f));
            op.insert(
                "requestBody".into(),
                json!({"required": true, "content": {"application/json": {"schema": schema}}}),
            );
        }
        BodyRule::Whole => {
            let schema = schemas.message_without(&input, &bound);
            op.insert(
                "requestBody".into(),
                json!({"required": true, "content": {"application/json": {"schema": schema}}}),
            );
        }
    }

    let ok = if route.is_server_streaming() && route.response_body.is_some() {
        json!({"description": "The content, streamed.", "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}})
    } else if route.is_server_streaming() {
        let message = schemas.reference(&output);
        // One schema per event, as OpenAPI tools read an event stream's schema: `data` is the
        // message as JSON, or the closing google.rpc.Status in the `end` event.
        let event = json!({
            "type": "object",
            "required": ["data"],
            "properties": {
                "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": {
                    "anyOf": [message, {"$ref": "#/components/schemas/google.rpc.Status"}],
                }},
                "event": {"type": "string", "enum": ["end"]},
                "id": {"type": "string"},
                "retry": {"type": "integer", "minimum": 0},
            },
        });
        json!({
            "description": format!(
                "Server-Sent Events: one `data:` line of {} JSON per message, `: keep-alive` comments, \
                 and a final `event: end` whose data is the closing google.rpc.Status (code 0 when the stream ended normally).",
                output.name()
            ),
            "content": {"text/event-stream": {"schema": event}},
        })
    } else {
        json!({"description": "OK", "content": {"application/json": {"schema": schemas.reference(&output)}}})
    };
    op.insert(
        "responses".into(),
        json!({
            "200": ok,
            "default": {
                "description": "An error: the HTTP status follows the gRPC code (google.rpc.Code's table).",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/google.rpc.Status"}}},
            },
        }),
    );
    if credentials.api_key_services.contains(&service) {
        op.insert("security".into(), json!([{"apiKey": []}]));
    }
    Json::Object(op)
}

/// Leaf fields not bound by the path or the body, as query parameters (`sub.field` for nested).
fn query_parameters(
    message: &MessageDescriptor,
    prefix: &str,
    bound: &[&str],
    body: Option<&str>,
    schemas: &mut Schemas,
    out: &mut Vec<Json>,
    depth: usize,
) {
    for field in message.fields() {
        let name = format!("{prefix}{}", field.name());
        if bound.contains(&name.as_str()) || (prefix.is_empty() && body == Some(field.name())) || field.is_map() {
            continue;
        }
        match field.kind() {
            Kind::Message(inner) if !has_string_form(&inner) => {
                if depth < 3 && !field.is_list() {
                    query_parameters(&inner, &format!("{name}."), bound, None, schemas, out, depth + 1);
                }
            }
            _ => {
                let schema = if field.is_list() {
                    json!({"type": "array", "items": schemas.single(&field)})
                } else {
                    schemas.single(&field)
                };
                out.push(json!({"name": name, "in": "query", "required": false, "schema": schema, "description": field_comment(&field)}));
            }
        }
    }
}

/// Well-known types written as one JSON string (or scalar).
fn has_string_form(message: &MessageDescriptor) -> bool {
    well_known(message).is_some_and(|schema| schema.get("type").and_then(Json::as_str) != Some("object"))
}

/// The JSON schema of a well-known type, if `message` is one.
fn well_known(message: &MessageDescriptor) -> Option<Json> {
    Some(match message.full_name() {
        "google.protobuf.Timestamp" => json!({"type": "string", "format": "date-time"}),
        "google.protobuf.Duration" => json!({"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?s$"}),
        "google.protobuf.FieldMask" => json!({"type": "string", "description": "Comma-separated field paths."}),
        "google.protobuf.Empty" => json!({"type": "object", "additionalProperties": false}),
        "google.protobuf.Struct" => json!({"type": "object"}),
        "google.protobuf.Value" => json!({}),
        "google.protobuf.StringValue" | "google.protobuf.BytesValue" => json!({"type": "string"}),
        "google.protobuf.BoolValue" => json!({"type": "boolean"}),
        "google.protobuf.Int32Value" | "google.protobuf.UInt32Value" => json!({"type": "integer"}),
        "google.protobuf.Int64Value" | "google.protobuf.UInt64Value" => {
            json!({"type": "string", "pattern": "^-?[0-9]+$"})
        }
        "google.protobuf.FloatValue" | "google.protobuf.DoubleValue" => json!({"type": "number"}),
        _ => return None,
    })
}

#[derive(Default)]
struct Schemas(Map<String, Json>);

impl Schemas {
    /// A `$ref` to `message`'s schema (or the well-known type's inline schema).
    fn reference(&mut self, message: &MessageDescriptor) -> Json {
        if let Some(schema) = well_known(message) {
            return schema;
        }
        let name = message.full_name().to_owned();
        if !self.0.contains_key(&name) {
            // Placeholder first: recursive messages refer to themselves.
            self.0.insert(name.clone(), json!({}));
            let schema = self.message_without(message, &[]);
            self.0.insert(name.clone(), schema);
        }
        json!({"$ref": format!("#/components/schemas/{name}")})
    }

    /// An object schema of `message`'s fields, less the top-level fields in `omit`.
    fn message_without(&mut self, message: &MessageDescriptor, omit: &[&str]) -> Json {
        let mut properties = Map::new();
        for field in message.fields() {
            if omit.contains(&field.name()) {
                continue;
            }
            let mut schema = self.field(&field);
            let comment = field_comment(&field);
            if !comment.is_empty() {
                schema = match schema {
                    Json::Object(mut object) if !object.contains_key("$ref") => {
                        object.insert("description".into(), json!(comment));
                        Json::Object(object)
                    }
                    other => json!({"allOf": [other], "description": comment}),
                };
            }
            properties.insert(field.name().to_owned(), schema);
        }
        let mut schema = json!({"type": "object", "properties": properties, "additionalProperties": false});
        if let Some(description) = comments(&message.parent_file(), message.path()) {
            schema["description"] = json!(description);
        }
        schema
    }

    /// A field's schema: repeated as an array, a map as an object, else its kind.
    fn field(&mut self, field: &FieldDescriptor) -> Json {
        if field.is_map() {
            let value = match field.kind() {
                Kind::Message(entry) => entry.map_entry_value_field(),
                _ => return json!({"type": "object"}),
            };
            return json!({"type": "object", "additionalProperties": self.single(&value)});
        }
        let single = self.single(field);
        if field.is_list() { json!({"type": "array", "items": single}) } else { single }
    }

    fn single(&mut self, field: &FieldDescriptor) -> Json {
        match field.kind() {
            Kind::Double | Kind::Float => json!({"type": "number"}),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
                json!({"type": "integer", "format": "int32", "minimum": i32::MIN, "maximum": i32::MAX})
            }
            Kind::Uint32 | Kind::Fixed32 => {
                json!({"type": "integer", "format": "int64", "minimum": 0, "maximum": u32::MAX})
            }
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
                json!({"type": "string", "format": "int64", "pattern": "^-?[0-9]{1,18}$"})
            }
            Kind::Uint64 | Kind::Fixed64 => json!({"type": "string", "format": "uint64", "pattern": "^[0-9]{1,19}$"}),
            Kind::Bool => json!({"type": "boolean"}),
            Kind::String => json!({"type": "string"}),
            Kind::Bytes => json!({"type": "string", "contentEncoding": "base64"}),
            Kind::Enum(enumeration) => {
                json!({"type": "string", "enum": enumeration.values().map(|v| v.name().to_owned()).collect::<Vec<_>>()})
            }
            Kind::Message(message) => self.reference(&message),
        }
    }
}

fn status_schema() -> Json {
    json!({
        "type": "object",
        "description": "google.rpc.Status: the gRPC code, a message for developers, and typed details \
            (google.rpc.BadRequest names each invalid field).",
        "properties": {
            "code": {"type": "integer", "description": "The google.rpc.Code."},
            "message": {"type": "string"},
            "details": {"type": "array", "items": {
                "type": "object",
                "properties": {"@type": {"type": "string"}},
                "required": ["@type"],
            }},
        },
        "required": ["code"],
    })
}

fn field_comment(field: &FieldDescriptor) -> String {
    comments(&field.parent_file(), field.path()).unwrap_or_default()
}

/// The leading comment of the element at `path` in `file`, trimmed.
fn comments(file: &FileDescriptor, path: &[i32]) -> Option<String> {
    let info = file.file_descriptor_proto().source_code_info.as_ref()?;
    let location = info.location.iter().find(|location| location.path == path)?;
    let text = location.leading_comments.as_deref()?;
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let joined = lines.join("\n").trim().to_owned();
    (!joined.is_empty()).then_some(joined)
}

fn first_sentence(text: &str) -> String {
    let flat = text.replace('\n', " ");
    match flat.find(". ") {
        Some(end) => flat[..=end].trim().to_owned(),
        None => flat.trim().to_owned(),
    }
}
