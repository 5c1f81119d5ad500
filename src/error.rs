//! The component's error type, one-to-one with the contract's `integration-error`.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Humaans,
    Scim,
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Service::Humaans => "Humaans",
            Service::Scim => "Leapsome SCIM",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub service: Service,
    pub status: Option<u16>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppError {
    NotConnected,
    InvalidInput { field: String, message: String },
    UnknownPerson(String),
    Unauthorized(Failure),
    Upstream(Failure),
    Transport(Failure),
    Storage(String),
}

impl AppError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        AppError::InvalidInput { field: field.to_owned(), message: message.into() }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            AppError::Unauthorized(f) | AppError::Upstream(f) | AppError::Transport(f) => f.status,
            _ => None,
        }
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppError::NotConnected => f.write_str("not connected: run connect first"),
            AppError::InvalidInput { field, message } => write!(f, "invalid {field}: {message}"),
            AppError::UnknownPerson(id) => write!(f, "Humaans has no person with id `{id}`"),
            AppError::Unauthorized(x) => {
                write!(f, "{} refused the token{}: {}", x.service, status(x.status), x.message)
            }
            AppError::Upstream(x) => write!(f, "{} answered{}: {}", x.service, status(x.status), x.message),
            AppError::Transport(x) => write!(f, "{} could not be reached: {}", x.service, x.message),
            AppError::Storage(m) => write!(f, "storage failed: {m}"),
        }
    }
}

fn status(s: Option<u16>) -> String {
    s.map(|s| format!(" (HTTP {s})")).unwrap_or_default()
}
