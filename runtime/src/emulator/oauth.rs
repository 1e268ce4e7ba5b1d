//! `/oauth2/v2.0/authorize` and `/oauth2/v2.0/token`.

use axum::response::Response;
use http::StatusCode;

use super::State;
use super::entra::{TenantRef, error};
use super::server::Req;

pub(crate) fn authorize(state: &State, _req: &Req, _tenant: &TenantRef) -> Response {
    error(state, StatusCode::NOT_IMPLEMENTED, "server_error", 90_035, "Not implemented yet.")
}

pub(crate) fn token(state: &State, _req: &Req, _tenant: &TenantRef) -> Response {
    error(state, StatusCode::NOT_IMPLEMENTED, "server_error", 90_035, "Not implemented yet.")
}
