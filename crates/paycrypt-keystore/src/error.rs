//! The store's error type. Messages name identifiers and reasons, never key material.

use core::fmt;

/// What went wrong in a store operation. Each variant maps onto one AWS control-plane
/// exception: `NotFound` → `ResourceNotFoundException`, `Validation` → `ValidationException`,
/// `Conflict` → `ConflictException`, `QuotaExceeded` → `ServiceQuotaExceededException`,
/// `Internal` → `InternalServerException`.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The key or alias does not exist (or, for data-plane use, its material was destroyed).
    NotFound {
        /// The identifier as the caller gave it.
        resource_id: String,
    },
    /// The request is malformed or asks for something AWS refuses.
    Validation(String),
    /// The resource is in a state that does not allow the operation (e.g. alias exists).
    Conflict(String),
    /// A count limit (keys, aliases, tags) would be exceeded.
    QuotaExceeded(String),
    /// Storage, sealing or integrity failure.
    Internal(String),
}

impl StoreError {
    pub(crate) fn not_found(id: &str) -> Self {
        Self::NotFound {
            resource_id: id.to_owned(),
        }
    }

    pub(crate) fn validation(msg: impl Into<String>) -> Self {
        Self::Validation(msg.into())
    }

    pub(crate) fn conflict(msg: impl Into<String>) -> Self {
        Self::Conflict(msg.into())
    }

    pub(crate) fn internal(msg: impl Into<String>) -> Self {
        Self::Internal(msg.into())
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound { resource_id } => write!(f, "resource not found: {resource_id}"),
            Self::Validation(m) => write!(f, "validation error: {m}"),
            Self::Conflict(m) => write!(f, "conflict: {m}"),
            Self::QuotaExceeded(m) => write!(f, "service quota exceeded: {m}"),
            Self::Internal(m) => write!(f, "internal error: {m}"),
        }
    }
}

impl std::error::Error for StoreError {}
