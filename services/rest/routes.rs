//! The route table: every `google.api.http` rule of the served protos, read from their
//! descriptors at start-up, and the matching of a request's method and path against it.
//!
//! Path templates follow `google/api/http.proto`: literal segments, `*` (one segment), `**`
//! (the rest of the path), variables `{field.path}` (one segment) and `{field.path=**}` (one
//! or more segments, `/` kept), and a trailing `:verb`. Matched variables are percent-decoded.

use prost_reflect::{DescriptorPool, DynamicMessage, MethodDescriptor, Value};
use tonic::codegen::http;

/// The full name of the `google.api.http` extension of `MethodOptions`.
const HTTP_RULE_EXTENSION: &str = "google.api.http";

#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("{method}: invalid path template {template:?}: {problem}")]
    Template { method: String, template: String, problem: String },
    #[error("{method}: `body: {body:?}` names no field of {message}")]
    Body { method: String, body: String, message: String },
    #[error("{method}: path variable {field:?} names no field of {message}")]
    Variable { method: String, field: String, message: String },
}

/// What the HTTP body carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyRule {
    /// No body: every field not bound by the path comes from the query string.
    None,
    /// `*`: every field not bound by the path.
    Whole,
    /// One top-level field of the request.
    Field(String),
}

/// One segment of a path template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// `*` or a one-segment variable.
    One(Option<String>),
    /// `**` or a many-segment variable: one or more segments, always the last.
    Rest(Option<String>),
}

/// A parsed path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathTemplate {
    text: String,
    segments: Vec<Segment>,
    verb: Option<String>,
}

impl PathTemplate {
    pub fn parse(text: &str) -> Result<Self, String> {
        let rest = text.strip_prefix('/').ok_or("must start with '/'")?;
        // The verb is after the last ':' that is outside braces.
        let (path, verb) = match rest.rfind(':') {
            Some(colon) if !rest[colon..].contains('}') && !rest[colon..].contains('/') => {
                (&rest[..colon], Some(rest[colon + 1..].to_owned()))
            }
            _ => (rest, None),
        };
        if verb.as_deref() == Some("") {
            return Err("empty verb".into());
        }
        let mut segments = Vec::new();
        let mut parts = split_outside_braces(path).into_iter().peekable();
        while let Some(part) = parts.next() {
            let last = parts.peek().is_none();
            let segment = if let Some(inner) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                let (field, pattern) = inner.split_once('=').unwrap_or((inner, "*"));
                if field.is_empty() || !field.split('.').all(is_ident) {
                    return Err(format!("bad variable {part:?}"));
                }
                match pattern {
                    "*" => Segment::One(Some(field.to_owned())),
                    "**" if last => Segment::Rest(Some(field.to_owned())),
                    _ => return Err(format!("unsupported variable pattern {pattern:?} (use * or a final **)")),
                }
            } else {
                match part {
                    "*" => Segment::One(None),
                    "**" if last => Segment::Rest(None),
                    "" => return Err("empty segment".into()),
                    literal if literal.contains(['{', '}', '*']) => return Err(format!("bad segment {literal:?}")),
                    literal => Segment::Literal(literal.to_owned()),
                }
            };
            segments.push(segment);
        }
        Ok(Self { text: text.to_owned(), segments, verb })
    }

    /// The template as written in the proto.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The field paths bound by the template's variables, in order.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|segment| match segment {
            Segment::One(Some(field)) | Segment::Rest(Some(field)) => Some(field.as_str()),
            _ => None,
        })
    }

    /// The template in OpenAPI form: `/v1/users/{id}`, `/v1/kv/{key}`, `/v1/payments/{payment_id}:refund`.
    pub fn openapi_path(&self) -> String {
        let mut out = String::new();
        for segment in &self.segments {
            out.push('/');
            match segment {
                Segment::Literal(literal) => out.push_str(literal),
                Segment::One(Some(field)) | Segment::Rest(Some(field)) => {
                    out.push('{');
                    out.push_str(field);
                    out.push('}');
                }
                Segment::One(None) => out.push('*'),
                Segment::Rest(None) => out.push_str("**"),
            }
        }
        if let Some(verb) = &self.verb {
            out.push(':');
            out.push_str(verb);
        }
        out
    }

    /// Whether the template's variable `field` takes several segments (`/` allowed).
    pub fn is_multi_segment(&self, field: &str) -> bool {
        self.segments.iter().any(|s| matches!(s, Segment::Rest(Some(f)) if f == field))
    }

    /// Matches a request path (without the query); the bound variables, percent-decoded.
    fn matches(&self, path: &str) -> Option<Vec<(String, String)>> {
        let rest = path.strip_prefix('/')?;
        let rest = match &self.verb {
            Some(verb) => rest.strip_suffix(verb.as_str())?.strip_suffix(':')?,
            None => rest,
        };
        let parts: Vec<&str> = rest.split('/').collect();
        let mut bound = Vec::new();
        for (index, segment) in self.segments.iter().enumerate() {
            match segment {
                Segment::Literal(literal) => {
                    if parts.get(index) != Some(&literal.as_str()) {
                        return None;
                    }
                }
                Segment::One(field) => {
                    let part = parts.get(index).filter(|p| !p.is_empty())?;
                    if let Some(field) = field {
                        bound.push((field.clone(), decode(part)?));
                    }
                }
                Segment::Rest(field) => {
                    let tail = parts.get(index..).filter(|t| !t.is_empty() && t.iter().all(|p| !p.is_empty()))?;
                    if let Some(field) = field {
                        bound.push((field.clone(), decode(&tail.join("/"))?));
                    }
                    return Some(bound);
                }
            }
        }
        (parts.len() == self.segments.len()).then_some(bound)
    }

    /// More specific templates are tried first: more literal segments, then a verb, then no `**`.
    fn specificity(&self) -> (usize, bool, bool) {
        let literals = self.segments.iter().filter(|s| matches!(s, Segment::Literal(_))).count();
        let rest = self.segments.iter().any(|s| matches!(s, Segment::Rest(_)));
        (literals, self.verb.is_some(), !rest)
    }
}

fn split_outside_braces(path: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (index, byte) in path.bytes().enumerate() {
        match byte {
            b'{' => depth += 1,
            b'}' => depth = depth.saturating_sub(1),
            b'/' if depth == 0 => {
                parts.push(&path[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    parts.push(&path[start..]);
    parts
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn decode(part: &str) -> Option<String> {
    percent_encoding::percent_decode_str(part).decode_utf8().ok().map(|s| s.into_owned())
}

/// One HTTP binding of one rpc.
#[derive(Debug, Clone)]
pub struct Route {
    pub http_method: http::Method,
    pub template: PathTemplate,
    pub body: BodyRule,
    /// The response field sent as the body (`response_body`); `None` for the whole message.
    pub response_body: Option<String>,
    pub method: MethodDescriptor,
    /// `/package.Service/Method`, as the gRPC stack routes it.
    pub grpc_path: String,
}

impl Route {
    pub fn is_server_streaming(&self) -> bool {
        self.method.is_server_streaming()
    }

    pub fn is_client_streaming(&self) -> bool {
        self.method.is_client_streaming()
    }
}

/// What a request's method and path lead to.
pub enum Matched<'a> {
    Route(&'a Route, Vec<(String, String)>),
    /// The path exists, but not for this method: these are the methods it takes.
    WrongMethod(Vec<http::Method>),
    NotFound,
}

/// Every HTTP binding of the served services.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
}

impl RouteTable {
    /// The rules of every method of the services named in `services` (full names).
    pub fn from_pool(pool: &DescriptorPool, services: &[&str]) -> Result<Self, RouteError> {
        let mut routes = Vec::new();
        let Some(extension) = pool.get_extension_by_name(HTTP_RULE_EXTENSION) else {
            return Ok(Self { routes });
        };
        for service in pool.services().filter(|s| services.contains(&s.full_name())) {
            for method in service.methods() {
                let options = method.options();
                if !options.has_extension(&extension) {
                    continue;
                }
                let Value::Message(rule) = options.get_extension(&extension).into_owned() else { continue };
                let grpc_path = format!("/{}/{}", service.full_name(), method.name());
                let mut rules = vec![rule.clone()];
                if let Some(Value::List(more)) = rule.get_field_by_name("additional_bindings").map(|v| v.into_owned()) {
                    rules.extend(more.into_iter().filter_map(|v| match v {
                        Value::Message(m) => Some(m),
                        _ => None,
                    }));
                }
                for rule in rules {
                    routes.push(route_of(&rule, &method, &grpc_path)?);
                }
            }
        }
        routes.sort_by_key(|route| std::cmp::Reverse(route.template.specificity()));
        Ok(Self { routes })
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The route for `method` and `path`.
    pub fn find(&self, method: &http::Method, path: &str) -> Matched<'_> {
        let mut allowed = Vec::new();
        for route in &self.routes {
            if let Some(bound) = route.template.matches(path) {
                if route.http_method == *method
                    || (*method == http::Method::HEAD && route.http_method == http::Method::GET)
                {
                    return Matched::Route(route, bound);
                }
                if !allowed.contains(&route.http_method) {
                    allowed.push(route.http_method.clone());
                }
            }
        }
        if allowed.is_empty() {
            return Matched::NotFound;
        }
        let order =
            [http::Method::GET, http::Method::POST, http::Method::PUT, http::Method::PATCH, http::Method::DELETE];
        allowed.sort_by_key(|method| order.iter().position(|m| m == method).unwrap_or(order.len()));
        Matched::WrongMethod(allowed)
    }
}

fn string_field(message: &DynamicMessage, name: &str) -> Option<String> {
    message
        .has_field_by_name(name)
        .then(|| message.get_field_by_name(name))
        .flatten()
        .and_then(|v| v.as_str().map(str::to_owned))
}

fn route_of(rule: &DynamicMessage, method: &MethodDescriptor, grpc_path: &str) -> Result<Route, RouteError> {
    let name = method.full_name().to_owned();
    let pattern = [
        ("get", http::Method::GET),
        ("put", http::Method::PUT),
        ("post", http::Method::POST),
        ("delete", http::Method::DELETE),
        ("patch", http::Method::PATCH),
    ]
    .into_iter()
    .find_map(|(field, verb)| string_field(rule, field).map(|path| (verb, path)));
    let (http_method, text) = match pattern {
        Some(pattern) => pattern,
        None => {
            let custom = rule.get_field_by_name("custom").and_then(|v| v.as_message().cloned());
            let kind = custom.as_ref().and_then(|c| string_field(c, "kind")).unwrap_or_default();
            let path = custom.as_ref().and_then(|c| string_field(c, "path")).unwrap_or_default();
            let verb = http::Method::from_bytes(kind.as_bytes()).map_err(|_| RouteError::Template {
                method: name.clone(),
                template: path.clone(),
                problem: format!("bad custom method {kind:?}"),
            })?;
            (verb, path)
        }
    };
    let template = PathTemplate::parse(&text).map_err(|problem| RouteError::Template {
        method: name.clone(),
        template: text.to_string(),
        problem,
    })?;
    let input = method.input();
    for variable in template.variables() {
        if crate::rest::transcode::resolve_path(&input, variable).is_none() {
            return Err(RouteError::Variable {
                method: name,
                field: variable.to_owned(),
                message: input.full_name().into(),
            });
        }
    }
    let body = match string_field(rule, "body").as_deref() {
        None | Some("") => BodyRule::None,
        Some("*") => BodyRule::Whole,
        Some(field) => {
            if input.get_field_by_name(field).is_none() {
                return Err(RouteError::Body { method: name, body: field.into(), message: input.full_name().into() });
            }
            BodyRule::Field(field.to_owned())
        }
    };
    let response_body = string_field(rule, "response_body").filter(|s| !s.is_empty());
    Ok(Route { http_method, template, body, response_body, method: method.clone(), grpc_path: grpc_path.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bound(template: &str, path: &str) -> Option<Vec<(String, String)>> {
        PathTemplate::parse(template).unwrap().matches(path)
    }

    #[test]
    fn templates_match_segments_variables_and_verbs() {
        assert_eq!(bound("/v1/users/{id}", "/v1/users/42"), Some(vec![("id".into(), "42".into())]));
        assert_eq!(bound("/v1/users/{id}", "/v1/users/"), None);
        assert_eq!(bound("/v1/users/{id}", "/v1/users/4/2"), None);
        assert_eq!(bound("/v1/users", "/v1/users"), Some(vec![]));
        assert_eq!(bound("/v1/kv/{key=**}", "/v1/kv/a/b%20c"), Some(vec![("key".into(), "a/b c".into())]));
        assert_eq!(bound("/v1/kv/{key=**}", "/v1/kv"), None);
        assert_eq!(bound("/v1/kv/{key=**}", "/v1/kv/a//b"), None);
        assert_eq!(
            bound("/v1/payments/{payment_id}:refund", "/v1/payments/pay_1:refund"),
            Some(vec![("payment_id".into(), "pay_1".into())])
        );
        assert_eq!(bound("/v1/payments/{payment_id}:refund", "/v1/payments/pay_1"), None);
        assert_eq!(bound("/v1/kv:watch", "/v1/kv:watch"), Some(vec![]));
        assert_eq!(bound("/v1/users/{user.id}", "/v1/users/7"), Some(vec![("user.id".into(), "7".into())]));
        // Invalid UTF-8 after decoding matches nothing.
        assert_eq!(bound("/v1/users/{id}", "/v1/users/%FF"), None);
    }

    #[test]
    fn bad_templates_are_refused() {
        for bad in ["v1/x", "/v1//x", "/v1/{}", "/v1/{a=**}/x", "/v1/{a=foo/*}", "/v1/x:", "/v1/{1a}"] {
            assert!(PathTemplate::parse(bad).is_err(), "{bad} parsed");
        }
        assert_eq!(PathTemplate::parse("/v1/kv/{key=**}").unwrap().openapi_path(), "/v1/kv/{key}");
    }

    #[test]
    fn the_table_comes_from_the_descriptors() {
        let pool = DescriptorPool::decode(crate::pb::FILE_DESCRIPTOR_SET).unwrap();
        let table = RouteTable::from_pool(&pool, &crate::server::SERVICE_NAMES).unwrap();
        let path = |method: http::Method, path: &str| match table.find(&method, path) {
            Matched::Route(route, _) => route.grpc_path.clone(),
            Matched::WrongMethod(allowed) => format!("405 {allowed:?}"),
            Matched::NotFound => "404".into(),
        };
        assert_eq!(path(http::Method::GET, "/v1/users/1"), "/switchboard.v1.UserService/GetUser");
        assert_eq!(path(http::Method::PATCH, "/v1/users/1"), "/switchboard.v1.UserService/UpdateUser");
        assert_eq!(path(http::Method::GET, "/v1/kv"), "/switchboard.v1.KvService/ListKeys");
        assert_eq!(path(http::Method::GET, "/v1/kv:watch"), "/switchboard.v1.KvService/Watch");
        assert_eq!(path(http::Method::GET, "/v1/kv/a:b"), "/switchboard.v1.KvService/Get");
        assert_eq!(path(http::Method::POST, "/v1/payments/p:refund"), "/switchboard.v1.PaymentService/RefundPayment");
        assert_eq!(path(http::Method::POST, "/v1/users/1"), r#"405 [GET, PATCH, DELETE]"#);
        assert_eq!(path(http::Method::GET, "/v2/nothing"), "404");
        // Every unary rpc of every service has a rule.
        for service in pool.services().filter(|s| crate::server::SERVICE_NAMES.contains(&s.full_name())) {
            for method in service.methods() {
                let covered = table.routes().iter().any(|r| r.method == method);
                let bidi = method.is_client_streaming() && method.is_server_streaming();
                assert!(covered || bidi, "{} has no google.api.http rule", method.full_name());
            }
        }
    }
}

/// Property tests (proptest) of path templates and their matching. Cases: 256 by default
/// (`PROPTEST_CASES` for longer runs); failures are kept in
/// `proptest-regressions/rest/routes.txt` and replayed first.
#[cfg(test)]
mod fuzz {
    use percent_encoding::{AsciiSet, CONTROLS, NON_ALPHANUMERIC, utf8_percent_encode};
    use proptest::prelude::*;

    use super::*;

    /// What a client must escape in a path segment, at the least.
    const MINIMAL: &AsciiSet = &CONTROLS.add(b' ').add(b'%').add(b'/').add(b'?').add(b'#');

    /// One segment of a generated template.
    #[derive(Debug, Clone)]
    enum Part {
        Literal(String),
        /// `{field}`, or `*` without a field.
        One(Option<String>),
    }

    fn field() -> impl Strategy<Value = String> {
        prop_oneof![3 => "[a-z_][a-z0-9_]{0,5}", 1 => "[a-z][a-z0-9]{0,3}\\.[a-z_][a-z0-9_]{0,3}"]
    }

    fn part() -> impl Strategy<Value = Part> {
        prop_oneof![
            2 => "[a-z0-9_.~-]{1,6}".prop_map(Part::Literal),
            2 => field().prop_map(|f| Part::One(Some(f))),
            1 => Just(Part::One(None)),
        ]
    }

    /// A template: its parts, an optional final `{field=**}` (or `**`), an optional verb.
    fn template() -> impl Strategy<Value = (Vec<Part>, Option<Option<String>>, Option<String>)> {
        (
            prop::collection::vec(part(), 0..5),
            prop::option::of(prop::option::of(field())),
            prop::option::of("[a-z]{1,6}"),
        )
            .prop_filter("at least one segment", |(parts, rest, _)| !parts.is_empty() || rest.is_some())
    }

    fn template_text(parts: &[Part], rest: &Option<Option<String>>, verb: &Option<String>) -> String {
        let mut text = String::new();
        for part in parts {
            text.push('/');
            match part {
                Part::Literal(literal) => text.push_str(literal),
                Part::One(Some(field)) => text.push_str(&format!("{{{field}}}")),
                Part::One(None) => text.push('*'),
            }
        }
        match rest {
            Some(Some(field)) => text.push_str(&format!("/{{{field}=**}}")),
            Some(None) => text.push_str("/**"),
            None => {}
        }
        if let Some(verb) = verb {
            text.push(':');
            text.push_str(verb);
        }
        text
    }

    fn value() -> impl Strategy<Value = String> {
        any::<String>().prop_filter("a segment is not empty", |s| !s.is_empty())
    }

    proptest! {
        /// A path made from a template (any values, escaped strictly or minimally) matches it
        /// and binds each variable to its value, decoded; a `**` variable binds its segments
        /// joined by `/`.
        #[test]
        fn templates_match_their_paths_and_bind_the_values(
            (parts, rest, verb) in template(),
            values in prop::collection::vec(value(), 5),
            rest_values in prop::collection::vec(value(), 1..4),
            strict in any::<bool>(),
        ) {
            let text = template_text(&parts, &rest, &verb);
            let template = PathTemplate::parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
            let set = if strict { NON_ALPHANUMERIC } else { MINIMAL };
            let encode = |value: &str| utf8_percent_encode(value, set).to_string();
            let mut path = String::new();
            let mut expected = Vec::new();
            for (part, value) in parts.iter().zip(&values) {
                path.push('/');
                match part {
                    Part::Literal(literal) => path.push_str(literal),
                    Part::One(field) => {
                        path.push_str(&encode(value));
                        if let Some(field) = field {
                            expected.push((field.clone(), value.clone()));
                        }
                    }
                }
            }
            if let Some(field) = &rest {
                for value in &rest_values {
                    path.push('/');
                    path.push_str(&encode(value));
                }
                if let Some(field) = field {
                    expected.push((field.clone(), rest_values.join("/")));
                }
            }
            if let Some(verb) = &verb {
                path.push(':');
                path.push_str(verb);
            }
            prop_assert_eq!(template.matches(&path), Some(expected), "{} against {}", path, text);
            prop_assert_eq!(template.variables().count(), template.matches(&path).unwrap().len());
        }

        /// A path with a literal changed, or a segment more or less (without `**`), does not match.
        #[test]
        fn other_paths_do_not_match(
            (parts, verb) in (prop::collection::vec(part(), 1..5), prop::option::of("[a-z]{1,6}")),
            change in any::<prop::sample::Index>(),
            how in 0..3,
        ) {
            let text = template_text(&parts, &None, &verb);
            let template = PathTemplate::parse(&text).unwrap();
            let mut segments: Vec<String> = parts
                .iter()
                .map(|part| match part {
                    Part::Literal(literal) => literal.clone(),
                    Part::One(_) => "v".to_owned(),
                })
                .collect();
            let at = change.index(segments.len());
            let literals: Vec<usize> = (0..parts.len()).filter(|&i| matches!(parts[i], Part::Literal(_))).collect();
            match how {
                0 if !literals.is_empty() => segments[literals[change.index(literals.len())]].push('x'),
                0 | 1 => segments.insert(at, "extra".to_owned()),
                _ => {
                    segments.remove(at);
                }
            }
            let mut path = format!("/{}", segments.join("/"));
            if let Some(verb) = &verb {
                path.push(':');
                path.push_str(verb);
            }
            prop_assert_eq!(template.matches(&path), None, "{} against {}", path, text);
        }

        /// Any template text: parsed or refused, never a panic; a parsed one binds only
        /// identifier paths and matches any path without panicking.
        #[test]
        fn any_template_parses_or_is_refused(
            text in prop_oneof![any::<String>(), "/[a-z{}=*:./]{0,24}"],
            path in prop_oneof![any::<String>(), "/[a-z%0-9:/]{0,24}"],
        ) {
            if let Ok(template) = PathTemplate::parse(&text) {
                prop_assert_eq!(template.as_str(), text.as_str());
                for variable in template.variables() {
                    prop_assert!(variable.split('.').all(is_ident), "{variable:?}");
                }
                if let Some(bound) = template.matches(&path) {
                    prop_assert_eq!(bound.len(), template.variables().count());
                }
            }
        }

        /// Any method and path against the real route table: a route, 405 or 404, never a
        /// panic; a route's bound variables are the fields its template names.
        #[test]
        fn any_request_path_finds_a_route_or_not(
            method in prop::sample::select(vec!["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]),
            path in prop_oneof![
                any::<String>(),
                "/v1/(users|kv|payments|files|echo|ping|chat)(/[a-z0-9%:._-]{0,8}){0,4}(:[a-z]{1,6})?",
            ],
        ) {
            static TABLE: std::sync::OnceLock<RouteTable> = std::sync::OnceLock::new();
            let table = TABLE.get_or_init(|| {
                let pool = DescriptorPool::decode(crate::pb::FILE_DESCRIPTOR_SET).unwrap();
                RouteTable::from_pool(&pool, &crate::server::SERVICE_NAMES).unwrap()
            });
            let method = http::Method::from_bytes(method.as_bytes()).unwrap();
            match table.find(&method, &path) {
                Matched::Route(route, bound) => {
                    let fields: Vec<&str> = bound.iter().map(|(field, _)| field.as_str()).collect();
                    prop_assert_eq!(fields, route.template.variables().collect::<Vec<_>>());
                }
                Matched::WrongMethod(allowed) => prop_assert!(!allowed.is_empty() && !allowed.contains(&method)),
                Matched::NotFound => {}
            }
        }
    }
}
