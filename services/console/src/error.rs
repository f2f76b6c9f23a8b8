//! A refused or failed call as a page: the services' verdicts keep their
//! meaning (a read key refused a replay is 403, not 500), and an expired
//! or revoked credential sends the browser back to the sign-in page.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use tonic::Code;

use crate::pages::layout;

#[derive(Debug)]
pub struct ConsoleError {
    pub status: StatusCode,
    pub message: String,
}

impl ConsoleError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
}

impl From<tonic::Status> for ConsoleError {
    fn from(status: tonic::Status) -> Self {
        let http = match status.code() {
            Code::Unauthenticated => StatusCode::UNAUTHORIZED,
            Code::PermissionDenied => StatusCode::FORBIDDEN,
            Code::NotFound => StatusCode::NOT_FOUND,
            Code::InvalidArgument | Code::OutOfRange => StatusCode::BAD_REQUEST,
            Code::FailedPrecondition | Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
            Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
            Code::Unavailable | Code::DeadlineExceeded => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_GATEWAY,
        };
        if http == StatusCode::BAD_GATEWAY {
            tracing::warn!(code = ?status.code(), message = status.message(), "service call failed");
        }
        Self::new(http, status.message())
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        if self.status == StatusCode::UNAUTHORIZED {
            return Redirect::to("/signin?expired=1").into_response();
        }
        let title = self.status.canonical_reason().unwrap_or("Error");
        let body = layout::bare(
            title,
            html! {
                h1 { (self.status.as_u16()) " " (title) }
                p.error #error-message { (self.message) }
                p { a href="/" { "Back to the overview" } }
            },
        );
        (self.status, body).into_response()
    }
}
