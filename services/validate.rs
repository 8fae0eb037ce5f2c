//! Request validation shared by every service: a collector of field violations that becomes
//! one `INVALID_ARGUMENT` status carrying a `google.rpc.BadRequest`, so a client learns about
//! every bad field at once instead of fixing them one round-trip at a time.

use std::fmt;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// Every problem found in one request, by field path (`user.email`, `page_size`, ...).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Violations(Vec<(String, String)>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    /// A request with exactly one bad field.
    pub fn single(field: impl Into<String>, description: impl Into<String>) -> Self {
        let mut violations = Self::new();
        violations.add(field, description);
        violations
    }

    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push((field.into(), description.into()));
    }

    /// Records the error of a check, if any.
    pub fn check(&mut self, field: &str, result: Result<(), String>) {
        if let Err(description) = result {
            self.add(field, description);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when nothing was found, else `Err(self)`.
    pub fn into_result(self) -> Result<(), Self> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(f, d)| (f.as_str(), d.as_str()))
    }
}

impl fmt::Display for Violations {
    /// `field: description; field: description` — the status message, readable in grpcurl
    /// and in the legacy adapter's `ERROR:` lines without decoding the details.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (field, description)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{field}: {description}")?;
        }
        Ok(())
    }
}

impl From<Violations> for Status {
    fn from(violations: Violations) -> Self {
        let message = violations.to_string();
        let details = violations
            .0
            .into_iter()
            .map(|(field, description)| FieldViolation::new(field, description))
            .collect::<Vec<_>>();
        Status::with_error_details(Code::InvalidArgument, message, ErrorDetails::with_bad_request(details))
    }
}

/// A text field's length in characters must lie in `min..=max`, and it must hold no control
/// characters (which would corrupt logs and the line-based legacy protocols).
pub fn text(value: &str, min: usize, max: usize) -> Result<(), String> {
    let len = value.chars().count();
    if len < min {
        return Err(if min == 1 {
            "must not be empty".to_owned()
        } else {
            format!("must be at least {min} characters")
        });
    }
    if len > max {
        return Err(format!("must be at most {max} characters, got {len}"));
    }
    if value.chars().any(char::is_control) {
        return Err("must not contain control characters".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::StatusExt;

    #[test]
    fn violations_become_one_invalid_argument_with_every_field() {
        let mut v = Violations::new();
        v.add("user.email", "must be an e-mail address");
        v.add("user.age", "must be between 0 and 150");
        let status = Status::from(v);
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "user.email: must be an e-mail address; user.age: must be between 0 and 150");
        let bad_request = status.get_details_bad_request().expect("BadRequest detail");
        let fields: Vec<_> = bad_request.field_violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["user.email", "user.age"]);
    }

    #[test]
    fn text_checks_length_in_characters_and_control_characters() {
        assert!(text("héllo", 1, 5).is_ok());
        assert!(text("", 1, 5).is_err());
        assert!(text("toolong", 1, 5).is_err());
        assert!(text("a\nb", 1, 5).is_err());
    }
}
