//! [`AzureClaims`] as an axum extractor (and `Option<AzureClaims>`): the claims an
//! [`AuthLayer`](super::AuthLayer) verified, or a validation of its own with a [`TokenValidator`]
//! found in the request extensions.

use std::collections::HashSet;
use std::sync::Mutex;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::request::Parts;

use super::bearer;
use super::claims::AzureClaims;
use super::error::AuthError;
use super::requirements::Requirements;
use super::validator::TokenValidator;
use crate::oauth_error::OAuthError;
use crate::primitives::lock::lock;

impl<S: Send + Sync> FromRequestParts<S> for AzureClaims {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(claims) = parts.extensions.get::<AzureClaims>() {
            return Ok(claims.clone());
        }
        let Some(validator) = parts.extensions.get::<TokenValidator>().cloned() else {
            return Err(not_set_up(
                "AzureClaims",
                "a handler extracts AzureClaims but the request carries neither claims nor a TokenValidator: \
                 add `.layer(AuthLayer::new(validator))` or `.layer(Extension(validator))` to the router",
                "authentication is not set up on this server: add AuthLayer::new(validator) or \
                 Extension(validator) to the router",
            ));
        };
        let claims = validator.authenticate(&parts.headers, &parts.uri, &Requirements::CONFIG).await?;
        parts.extensions.insert(claims.clone());
        Ok(claims)
    }
}

/// `Option<AzureClaims>`: `None` when the request carries no bearer token at all (no
/// `Authorization` header, or one of another scheme such as `Basic`); a request with a bad bearer
/// token is still refused.
impl<S: Send + Sync> OptionalFromRequestParts<S> for AzureClaims {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Option<Self>, Self::Rejection> {
        if parts.extensions.get::<AzureClaims>().is_none()
            && parts.extensions.get::<TokenValidator>().is_some()
            && bearer::credentials(&parts.headers, &parts.uri) == Err(AuthError::MissingToken)
        {
            return Ok(None);
        }
        <Self as FromRequestParts<S>>::from_request_parts(parts, state).await.map(Some)
    }
}

/// The 500 for a server that extracts claims but validates nothing: it fails closed, says how to
/// fix the server, and logs the mistake (`log`) once per `what` (a type or an app id).
pub(crate) fn not_set_up(what: &str, log: &str, description: impl Into<String>) -> Response {
    static LOGGED: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let first = lock(&LOGGED).get_or_insert_with(HashSet::new).insert(what.to_ascii_lowercase());
    if first {
        tracing::error!("{log}; every request to it gets a 500 until then");
    }
    OAuthError::server_error(description).into_response()
}
