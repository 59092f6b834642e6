//! The one API error type: every variant is an AWS exception shape (AWS-API.md §2.2), and this is
//! the single place where domain errors ([`paycrypt_core::Error`], [`StoreError`]) become AWS
//! errors.
//!
//! Encoding (works for botocore, the AWS CLI and the Java/Go SDKs): the response carries both the
//! `x-amzn-ErrorType: <Shape>` header (read first by rest-json clients) and a JSON body
//! `{"__type": "<Shape>", "message": "...", "Message": "...", <modeled members>}` (JSON 1.0 clients
//! read only `__type`). Messages never contain key material, PINs, PIN blocks or PANs: they are
//! built from field names, static reasons and identifiers only.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use paycrypt_keystore::StoreError;
use serde_json::{json, Map, Value};

/// The AWS `VerificationFailedReason` enum.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerificationFailedReason {
    /// A MAC did not verify.
    InvalidMac,
    /// A PIN did not verify.
    InvalidPin,
    /// Card validation data did not verify.
    InvalidValidationData,
    /// An ARQC did not verify.
    InvalidAuthRequestCryptogram,
}

impl VerificationFailedReason {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidMac => "INVALID_MAC",
            Self::InvalidPin => "INVALID_PIN",
            Self::InvalidValidationData => "INVALID_VALIDATION_DATA",
            Self::InvalidAuthRequestCryptogram => "INVALID_AUTH_REQUEST_CRYPTOGRAM",
        }
    }
}

/// An error answered to an API caller, one variant per AWS exception shape.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// `ValidationException` (400): bad input.
    Validation {
        /// Human-readable reason (names the member, never its value).
        message: String,
    },
    /// `ValidationException` with status 413: the request body is larger than the limit.
    PayloadTooLarge {
        /// Reason.
        message: String,
    },
    /// `AccessDeniedException` (403).
    AccessDenied {
        /// Reason.
        message: String,
    },
    /// `ResourceNotFoundException` (404).
    ResourceNotFound {
        /// The identifier that was not found (key ARN or alias name).
        resource_id: String,
    },
    /// `ConflictException` (400): resource in a state that forbids the operation.
    Conflict {
        /// Reason.
        message: String,
    },
    /// `ServiceQuotaExceededException` (400).
    ServiceQuotaExceeded {
        /// Reason.
        message: String,
    },
    /// `ThrottlingException` (429).
    Throttling {
        /// Reason.
        message: String,
    },
    /// `InternalServerException` (500). The message is generic; details go to the log.
    Internal {
        /// Generic reason.
        message: String,
    },
    /// `ServiceUnavailableException` (503).
    ServiceUnavailable {
        /// Reason.
        message: String,
    },
    /// `VerificationFailedException` (400) with its `Reason`.
    VerificationFailed {
        /// Which verification failed.
        reason: VerificationFailedReason,
        /// Reason.
        message: String,
    },
    /// `UnknownOperationException` (400): the target names no operation of the API.
    UnknownOperation {
        /// Reason.
        message: String,
    },
    /// `MissingAuthenticationTokenException` (403): no `Authorization` header.
    MissingAuthenticationToken {
        /// Reason.
        message: String,
    },
    /// `IncompleteSignatureException` (403): a malformed `Authorization` header or missing date.
    IncompleteSignature {
        /// Reason.
        message: String,
    },
    /// `InvalidSignatureException` (403): signature mismatch, wrong scope, expired.
    InvalidSignature {
        /// Reason.
        message: String,
    },
    /// `UnrecognizedClientException` (403): unknown access key id.
    UnrecognizedClient {
        /// Reason.
        message: String,
    },
    /// `PublicPolicyException` (400, PutResourcePolicy): the policy grants public access.
    PublicPolicy {
        /// Reason.
        message: String,
    },
}

/// Which wire protocol the error is answered in (content type only; the body is the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Control plane, AWS JSON 1.0.
    Json10,
    /// Data plane, REST-JSON (and plain endpoints).
    RestJson,
}

impl Protocol {
    /// The `Content-Type` of responses.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json10 => "application/x-amz-json-1.0",
            Self::RestJson => "application/json",
        }
    }
}

impl ApiError {
    /// A `ValidationException` with this message.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::Validation {
            message: message.into(),
        }
    }

    /// A `ValidationException` saying that `what` is not supported by this server yet.
    pub fn unsupported(what: &str) -> Self {
        Self::validation(format!("{what} is not supported by this server yet"))
    }

    /// An `InternalServerException` with a generic message (log the details separately).
    pub fn internal() -> Self {
        Self::Internal {
            message: "The server encountered an internal error".to_owned(),
        }
    }

    /// The AWS shape name (`__type`, `x-amzn-ErrorType`, botocore's error code).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation { .. } | Self::PayloadTooLarge { .. } => "ValidationException",
            Self::AccessDenied { .. } => "AccessDeniedException",
            Self::ResourceNotFound { .. } => "ResourceNotFoundException",
            Self::Conflict { .. } => "ConflictException",
            Self::ServiceQuotaExceeded { .. } => "ServiceQuotaExceededException",
            Self::Throttling { .. } => "ThrottlingException",
            Self::Internal { .. } => "InternalServerException",
            Self::ServiceUnavailable { .. } => "ServiceUnavailableException",
            Self::VerificationFailed { .. } => "VerificationFailedException",
            Self::UnknownOperation { .. } => "UnknownOperationException",
            Self::MissingAuthenticationToken { .. } => "MissingAuthenticationTokenException",
            Self::IncompleteSignature { .. } => "IncompleteSignatureException",
            Self::InvalidSignature { .. } => "InvalidSignatureException",
            Self::UnrecognizedClient { .. } => "UnrecognizedClientException",
            Self::PublicPolicy { .. } => "PublicPolicyException",
        }
    }

    /// The HTTP status (the data plane's modeled statuses, used for both planes).
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation { .. }
            | Self::Conflict { .. }
            | Self::ServiceQuotaExceeded { .. }
            | Self::VerificationFailed { .. }
            | Self::UnknownOperation { .. }
            | Self::PublicPolicy { .. } => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::AccessDenied { .. }
            | Self::MissingAuthenticationToken { .. }
            | Self::IncompleteSignature { .. }
            | Self::InvalidSignature { .. }
            | Self::UnrecognizedClient { .. } => StatusCode::FORBIDDEN,
            Self::ResourceNotFound { .. } => StatusCode::NOT_FOUND,
            Self::Throttling { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            Self::ServiceUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The human-readable message.
    pub fn message(&self) -> String {
        match self {
            Self::ResourceNotFound { resource_id } => {
                format!("Resource {resource_id} was not found")
            }
            Self::Validation { message }
            | Self::PayloadTooLarge { message }
            | Self::AccessDenied { message }
            | Self::Conflict { message }
            | Self::ServiceQuotaExceeded { message }
            | Self::Throttling { message }
            | Self::Internal { message }
            | Self::ServiceUnavailable { message }
            | Self::VerificationFailed { message, .. }
            | Self::UnknownOperation { message }
            | Self::MissingAuthenticationToken { message }
            | Self::IncompleteSignature { message }
            | Self::InvalidSignature { message }
            | Self::UnrecognizedClient { message }
            | Self::PublicPolicy { message } => message.clone(),
        }
    }

    /// The JSON body: `__type`, `message`, `Message` and the shape's modeled members.
    pub fn body(&self) -> Value {
        let message = self.message();
        let mut m = Map::new();
        m.insert("__type".into(), Value::String(self.code().into()));
        m.insert("message".into(), Value::String(message.clone()));
        m.insert("Message".into(), Value::String(message));
        match self {
            Self::ResourceNotFound { resource_id } => {
                m.insert("ResourceId".into(), Value::String(resource_id.clone()));
            }
            Self::VerificationFailed { reason, .. } => {
                m.insert("Reason".into(), Value::String(reason.as_str().into()));
            }
            _ => {}
        }
        Value::Object(m)
    }

    /// The complete HTTP response (status, `x-amzn-ErrorType`, content type, JSON body).
    /// `x-amzn-RequestId` is added by the request pipeline.
    pub fn to_response(&self, protocol: Protocol) -> Response {
        let body = self.body().to_string();
        let mut resp = (self.status(), body).into_response();
        let h = resp.headers_mut();
        h.insert(
            "content-type",
            HeaderValue::from_static(protocol.content_type()),
        );
        h.insert("x-amzn-errortype", HeaderValue::from_static(self.code()));
        resp
    }
}

impl core::fmt::Display for ApiError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

impl std::error::Error for ApiError {}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { resource_id } => Self::ResourceNotFound { resource_id },
            StoreError::Validation(message) => Self::Validation { message },
            StoreError::Conflict(message) => Self::Conflict { message },
            StoreError::QuotaExceeded(message) => Self::ServiceQuotaExceeded { message },
            StoreError::Internal(detail) => {
                tracing::error!(error = %detail, "key store internal error");
                Self::internal()
            }
            other => {
                tracing::error!(error = %other, "unexpected key store error");
                Self::internal()
            }
        }
    }
}

impl From<paycrypt_core::Error> for ApiError {
    fn from(e: paycrypt_core::Error) -> Self {
        use paycrypt_core::error::VerificationFailure as V;
        use paycrypt_core::Error as E;
        match e {
            E::VerificationFailed(v) => {
                let reason = match v {
                    V::InvalidMac => VerificationFailedReason::InvalidMac,
                    V::InvalidPin => VerificationFailedReason::InvalidPin,
                    V::InvalidValidationData => VerificationFailedReason::InvalidValidationData,
                    V::InvalidAuthRequestCryptogram => {
                        VerificationFailedReason::InvalidAuthRequestCryptogram
                    }
                    _ => VerificationFailedReason::InvalidValidationData,
                };
                Self::VerificationFailed {
                    reason,
                    message: format!("Verification failed: {}", reason.as_str()),
                }
            }
            // The core's messages carry only field names, static reasons and lengths.
            E::InvalidHex { .. }
            | E::InvalidLength { .. }
            | E::InvalidInput { .. }
            | E::InvalidKey(_)
            | E::PinBlock(_)
            | E::KeyBlock(_)
            | E::Unsupported { .. } => Self::validation(e.to_string()),
            other => {
                tracing::error!(error = %other, "cryptographic failure");
                Self::internal()
            }
        }
    }
}

/// `{"ok": true}`-style JSON helper for handlers returning an empty output.
pub fn empty_output() -> Value {
    json!({})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_both_message_members_and_modeled_members() {
        let e = ApiError::ResourceNotFound {
            resource_id: "alias/x".into(),
        };
        let b = e.body();
        assert_eq!(b["__type"], "ResourceNotFoundException");
        assert_eq!(b["ResourceId"], "alias/x");
        assert_eq!(b["message"], b["Message"]);
        assert_eq!(e.status(), StatusCode::NOT_FOUND);
        let v = ApiError::from(paycrypt_core::Error::VerificationFailed(
            paycrypt_core::error::VerificationFailure::InvalidMac,
        ));
        assert_eq!(v.body()["Reason"], "INVALID_MAC");
        assert_eq!(v.code(), "VerificationFailedException");
        let r = v.to_response(Protocol::RestJson);
        assert_eq!(
            r.headers()["x-amzn-errortype"],
            "VerificationFailedException"
        );
    }

    #[test]
    fn store_errors_map_to_shapes() {
        assert_eq!(
            ApiError::from(StoreError::Conflict("alias exists".into())).code(),
            "ConflictException"
        );
        assert_eq!(
            ApiError::from(StoreError::QuotaExceeded("q".into())).code(),
            "ServiceQuotaExceededException"
        );
        let i = ApiError::from(StoreError::Internal("/secret/path".into()));
        assert!(!i.message().contains("/secret/path"));
    }
}
