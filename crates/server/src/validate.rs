//! Collecting field errors of a request body, so that one answer lists every problem.

use crate::error::{ApiError, FieldError};

#[derive(Debug, Default)]
pub struct Checks {
    errors: Vec<FieldError>,
}

impl Checks {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    /// Text of at most `max` characters; with `required`, also not blank.
    pub fn text(&mut self, field: &str, value: Option<&str>, max: usize, required: bool) {
        match value {
            None if required => self.fail(field, "is required"),
            Some(v) if required && v.trim().is_empty() => self.fail(field, "must not be blank"),
            Some(v) if v.chars().count() > max => {
                self.fail(field, format!("must be at most {max} characters"))
            }
            _ => {}
        }
    }

    /// A value from a closed set.
    pub fn one_of(&mut self, field: &str, value: Option<&str>, allowed: &[&str]) {
        if let Some(v) = value
            && !allowed.contains(&v)
        {
            self.fail(field, format!("must be one of: {}", allowed.join(", ")));
        }
    }

    /// A non-negative number.
    pub fn non_negative(&mut self, field: &str, value: Option<i64>) {
        if value.is_some_and(|v| v < 0) {
            self.fail(field, "must not be negative");
        }
    }

    /// A JSON object (not an array or scalar).
    pub fn object(&mut self, field: &str, value: Option<&serde_json::Value>) {
        if value.is_some_and(|v| !v.is_object()) {
            self.fail(field, "must be a JSON object");
        }
    }

    /// Applies a domain validator, keeping its message.
    pub fn with<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(message) => {
                self.fail(field, message);
                None
            }
        }
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(self.errors))
        }
    }
}
