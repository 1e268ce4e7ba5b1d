//! The exchange itself: `POST {authority}/{tid}/oauth2/v2.0/token` with the jwt-bearer grant
//! (<https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-on-behalf-of-flow>),
//! retried within a budget on transport errors, 429 (honouring `Retry-After`) and 5xx, with
//! Entra's errors read into [`OboError`]s.

use std::time::Duration;

use http::StatusCode;
use serde::Deserialize;

use super::error::OboError;
use super::scopes::ScopeSet;
use crate::config::AzureOAuthConfig;
use crate::credential::CredentialError;
use crate::upstream::retry::{Attempt, Backoff};
use crate::upstream::{Answer, excerpt, send};

/// The `grant_type` of the on-behalf-of flow (RFC 7523 §2.1).
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// What a successful exchange answered.
pub(crate) struct Exchanged {
    pub(crate) access_token: String,
    pub(crate) scope: String,
    pub(crate) expires_in: Duration,
}

/// The success body (RFC 6749 §5.1). Entra sends `expires_in` as a number; some proxies and
/// older endpoints as a string.
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    expires_in: Option<NumberOrString>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrString {
    Number(u64),
    String(String),
}

/// The error body (RFC 6749 §5.2 plus Entra's `error_codes` and `claims`).
#[derive(Deserialize)]
struct ErrorResponse {
    error: String,
    #[serde(default)]
    error_description: String,
    #[serde(default)]
    error_codes: Vec<u64>,
    #[serde(default)]
    claims: Option<String>,
}

/// One exchange for the user of `assertion` in tenant `tid`, retried within `budget`.
pub(crate) async fn exchange(
    http: &reqwest::Client,
    config: &AzureOAuthConfig,
    tid: &str,
    assertion: &str,
    scopes: &ScopeSet,
    budget: Duration,
) -> Result<Exchanged, OboError> {
    let credential = config.credential().ok_or(OboError::NoCredential)?;
    let url = format!("{}/{tid}/oauth2/v2.0/token", config.authority_host());
    let mut backoff = Backoff::new(budget);
    loop {
        // Each try proves the app anew: an assertion is for one request.
        let proof = credential.form(config.app_id(), &url).await.map_err(OboError::Credential)?;
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", JWT_BEARER),
            ("client_id", config.app_id()),
            ("assertion", assertion),
            ("scope", scopes.sent.as_str()),
            ("requested_token_use", "on_behalf_of"),
        ];
        form.extend(proof.iter().map(|(k, v)| (*k, v.as_str())));
        let attempt = once(http.post(&url).form(&form), scopes).await;
        if let Some(result) = attempt.settle(&mut backoff).await {
            return result;
        }
    }
}

/// One try, its answer judged.
async fn once(request: reqwest::RequestBuilder, scopes: &ScopeSet) -> Attempt<Exchanged, OboError> {
    let Answer { status, retry_after: wait, body } = match send(request).await {
        Ok(answer) => answer,
        Err(e) => return Attempt::Retry(OboError::Unavailable(e.to_string()), None),
    };
    if status.is_success() {
        return match serde_json::from_slice::<TokenResponse>(&body) {
            Ok(t) => Attempt::Done(Exchanged {
                access_token: t.access_token,
                scope: t.scope,
                expires_in: Duration::from_secs(match t.expires_in {
                    Some(NumberOrString::Number(n)) => n,
                    Some(NumberOrString::String(s)) => s.trim().parse().unwrap_or(0),
                    None => 0,
                }),
            }),
            // A proxy's page instead of Entra's answer: worth another try.
            Err(_) => {
                Attempt::Retry(OboError::Unavailable(format!("HTTP {status}: {}", excerpt(&body))), None)
            }
        };
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Attempt::Retry(OboError::Throttled { retry_after: wait }, wait);
    }
    if status.is_server_error() {
        return Attempt::Retry(
            OboError::Unavailable(format!("HTTP {}: {}", status.as_u16(), describe_body(&body))),
            wait,
        );
    }
    Attempt::Fail(classify(status, &body, scopes))
}

/// Entra's error answer as a typed error
/// (<https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes>).
fn classify(status: StatusCode, body: &[u8], scopes: &ScopeSet) -> OboError {
    let Ok(e) = serde_json::from_slice::<ErrorResponse>(body) else {
        return OboError::Refused {
            status: status.as_u16(),
            error: "unexpected_response".into(),
            detail: excerpt(body),
        };
    };
    let detail = e.error_description.lines().next().unwrap_or_default().to_owned();
    if let Some(refused) = CredentialError::refused(&e.error_codes, &detail) {
        return OboError::Credential(refused);
    }
    if e.error == "interaction_required" || e.claims.is_some() {
        // Conditional Access: AADSTS50076, 50079, 53003, … with a claims challenge.
        return OboError::InteractionRequired { claims: e.claims.unwrap_or_default(), detail };
    }
    if e.error_codes.contains(&65_001) || e.error == "consent_required" {
        return OboError::ConsentRequired { scopes: scopes.sent.clone(), detail };
    }
    match e.error.as_str() {
        // AADSTS50013 (assertion invalid), 500133 (expired), 50173/70043 (revoked, session
        // expired): the caller's token is no longer good for this.
        "invalid_grant" => OboError::CallerTokenRejected { detail: format!("{}: {detail}", e.error) },
        _ => OboError::Refused { status: status.as_u16(), error: e.error, detail },
    }
}

/// `error: error_description` of an Entra error body, or an excerpt of another body.
fn describe_body(body: &[u8]) -> String {
    match serde_json::from_slice::<ErrorResponse>(body) {
        Ok(e) => format!("{}: {}", e.error, e.error_description.lines().next().unwrap_or_default()),
        Err(_) => excerpt(body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes() -> ScopeSet {
        ScopeSet::new(["https://graph.microsoft.com/User.Read"]).expect("valid")
    }

    #[test]
    fn entra_errors_become_errors_a_tool_can_act_on() {
        let consent = br#"{"error":"invalid_grant","error_description":"AADSTS65001: The user or administrator has not consented.\r\nTrace ID: x","error_codes":[65001]}"#;
        match classify(StatusCode::BAD_REQUEST, consent, &scopes()) {
            OboError::ConsentRequired { scopes, detail } => {
                assert_eq!(scopes, "https://graph.microsoft.com/User.Read");
                assert!(detail.starts_with("AADSTS65001") && !detail.contains("Trace"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
        let step_up = br#"{"error":"interaction_required","error_description":"AADSTS50079: MFA","error_codes":[50079],"claims":"{\"access_token\":{\"polids\":{\"essential\":true,\"values\":[\"p\"]}}}"}"#;
        let e = classify(StatusCode::BAD_REQUEST, step_up, &scopes());
        assert_eq!(
            e.claims_challenge(),
            Some(r#"{"access_token":{"polids":{"essential":true,"values":["p"]}}}"#)
        );
        let expired = br#"{"error":"invalid_grant","error_description":"AADSTS500133: Assertion is not within its valid time range.","error_codes":[500133]}"#;
        assert!(matches!(
            classify(StatusCode::BAD_REQUEST, expired, &scopes()),
            OboError::CallerTokenRejected { .. }
        ));
        let secret = br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.","error_codes":[7000215]}"#;
        // The app's own credential refused: typed, with what the operator does about it.
        assert!(matches!(
            classify(StatusCode::UNAUTHORIZED, secret, &scopes()),
            OboError::Credential(CredentialError::Refused { code: 7_000_215, .. })
        ));
        assert!(matches!(
            classify(StatusCode::BAD_REQUEST, b"<html>", &scopes()),
            OboError::Refused { ref error, .. } if error == "unexpected_response"
        ));
    }
}
