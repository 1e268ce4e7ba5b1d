//! Client assertions, checked as Entra ID checks them: a JWT the app signed with a certificate
//! registered on it (<https://learn.microsoft.com/entra/identity-platform/certificate-credentials>),
//! or a token of an issuer the app trusts through a federated identity credential
//! (<https://learn.microsoft.com/entra/workload-id/workload-identity-federation>).

use aws_lc_rs::signature::{self, UnparsedPublicKey};
use serde_json::{Map, Value};

use super::errors::{EntraError, unauthorized};
use super::jws::{self, CLOCK_SKEW_SECS, Parsed, str_claim};
use super::state::State;
use super::time::unix_now;
use crate::credential::JWT_BEARER_ASSERTION;

/// Checks `client_assertion` (of type `assertion_type`) sent to the token endpoint at
/// `token_url` for the app.
pub(crate) fn check(
    state: &State,
    assertion_type: Option<&str>,
    assertion: &str,
    token_url: &str,
) -> Result<(), EntraError> {
    if assertion_type != Some(JWT_BEARER_ASSERTION) {
        return Err(invalid(
            700_026,
            format!("Client assertion type is not '{JWT_BEARER_ASSERTION}' or the assertion is missing."),
        ));
    }
    let Parsed { header, claims, signing_input, signature } =
        jws::parse(assertion).ok_or_else(|| invalid(50_027, "JWT token is invalid or malformed.".into()))?;
    let app_id = &state.app.app_id;
    if str_claim(&claims, "iss").eq_ignore_ascii_case(app_id) {
        check_certificate(state, &header, &claims, signing_input.as_bytes(), &signature, token_url)
    } else {
        check_federated(state, assertion, &claims)
    }
}

/// A self-signed assertion: a registered certificate's signature, `iss` = `sub` = the app,
/// `aud` = this token endpoint, within its time.
fn check_certificate(
    state: &State,
    header: &Map<String, Value>,
    claims: &Map<String, Value>,
    message: &[u8],
    sig: &[u8],
    token_url: &str,
) -> Result<(), EntraError> {
    let app_id = &state.app.app_id;
    let s256 = header.get("x5t#S256").and_then(Value::as_str);
    let sha1 = header.get("x5t").and_then(Value::as_str);
    let found = {
        let m = state.lock();
        m.certificates
            .iter()
            // `x5t#S256` when sent (the SHA-1 `x5t` only in its absence).
            .find(|c| match s256 {
                Some(s256) => c.x5t_s256 == s256,
                None => Some(c.x5t.as_str()) == sha1,
            })
            .cloned()
    };
    let thumbprint = s256.or(sha1).unwrap_or_default();
    let Some(cert) = found else {
        return Err(invalid(
            700_027,
            format!(
                "Client assertion failed signature validation. [Reason - The key was not found., Thumbprint of key used by client: '{thumbprint}', Please visit the Microsoft Entra admin center to upload the certificate for app '{app_id}']"
            ),
        ));
    };
    let algorithm: &'static dyn signature::VerificationAlgorithm = match header
        .get("alg")
        .and_then(Value::as_str)
    {
        Some("RS256") => &signature::RSA_PKCS1_2048_8192_SHA256,
        Some("PS256") => &signature::RSA_PSS_2048_8192_SHA256,
        other => {
            return Err(invalid(
                700_027,
                format!(
                    "Client assertion failed signature validation. [Reason - The algorithm {other:?} is not supported.]"
                ),
            ));
        }
    };
    if UnparsedPublicKey::new(algorithm, &cert.public_key).verify(message, sig).is_err() {
        return Err(invalid(
            700_027,
            "Client assertion failed signature validation. [Reason - The provided signature value did not match the expected signature value.]".into(),
        ));
    }
    if cert.not_after < unix_now() {
        return Err(invalid(
            700_027,
            format!(
                "Client assertion failed signature validation. [Reason - The key used is expired., Thumbprint of key used by client: '{thumbprint}']"
            ),
        ));
    }
    if !str_claim(claims, "sub").eq_ignore_ascii_case(app_id) {
        return Err(invalid(
            700_021,
            "Client assertion application identifier doesn't match 'client_id' parameter.".into(),
        ));
    }
    if str_claim(claims, "aud") != token_url {
        return Err(invalid(
            700_027,
            format!("Client assertion audience claim does not match Realm issuer. Expected '{token_url}'."),
        ));
    }
    for claim in ["jti", "nbf", "exp"] {
        if claims.get(claim).is_none() {
            return Err(invalid(
                700_027,
                format!("Client assertion failed validation. [Reason - The claim '{claim}' is required.]"),
            ));
        }
    }
    check_time(claims)
}

/// A federated assertion: a token the emulator issued (a managed identity's, a workload
/// identity's), within its time, whose issuer, subject and audience a federated credential names.
fn check_federated(state: &State, assertion: &str, claims: &Map<String, Value>) -> Result<(), EntraError> {
    if jws::verify(state, assertion).is_err() {
        return Err(invalid(
            700_027,
            "Client assertion failed signature validation: the issuer's keys do not verify it.".into(),
        ));
    }
    check_time(claims)?;
    let (iss, sub) = (str_claim(claims, "iss"), str_claim(claims, "sub"));
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let matched = state
        .lock()
        .federated
        .iter()
        .any(|f| f.issuer == iss && f.subject == sub && audiences.contains(&f.audience.as_str()));
    if !matched {
        return Err(invalid(
            70_021,
            format!(
                "No matching federated identity record found for presented assertion. Assertion Issuer: '{iss}'. Assertion Subject: '{sub}'. Assertion Audience: '{}'.",
                audiences.join(",")
            ),
        ));
    }
    Ok(())
}

fn check_time(claims: &Map<String, Value>) -> Result<(), EntraError> {
    let now = unix_now();
    let exp = claims.get("exp").and_then(Value::as_u64).unwrap_or(0);
    let nbf = claims.get("nbf").and_then(Value::as_u64).unwrap_or(0);
    if exp.saturating_add(CLOCK_SKEW_SECS) < now || nbf > now.saturating_add(CLOCK_SKEW_SECS) {
        return Err(invalid(
            700_024,
            format!(
                "Client assertion is not within its valid time range. Current time: {now}, assertion valid from {nbf}, expiry time of assertion {exp}."
            ),
        ));
    }
    Ok(())
}

fn invalid(code: u32, message: String) -> EntraError {
    unauthorized(code, message)
}
