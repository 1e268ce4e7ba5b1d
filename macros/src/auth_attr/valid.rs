//! The arguments (every key known, every value by its rule) and the handler's shape, checked into a
//! [`Handler`] ready to expand; every independent mistake is collected.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Expr, FnArg, Ident, ItemFn, PatType, Type};

use super::parse::{Arg, Args};
use crate::common::{self, Checked, Errors, list, string};
use crate::keys::{GUID_RULE, SCOPE_NAME_RULE, SCOPE_TOKEN_RULE};

/// The keys the attribute accepts.
const KEYS: &[&str] = &["app_id", "scope", "scopes", "roles", "tenants"];

/// axum implements `Handler` for functions of up to 16 extractors.
const MAX_EXTRACTORS: usize = 16;

/// What the handler requires.
pub(crate) struct AuthSpec {
    pub(crate) app_id: Checked,
    pub(crate) scopes: Vec<Checked>,
    pub(crate) roles: Vec<Checked>,
    pub(crate) tenants: Vec<Checked>,
}

/// The checked attribute and handler, ready to expand.
pub(crate) struct Handler {
    pub(crate) spec: AuthSpec,
    pub(crate) function: ItemFn,
    /// The index of the `AzureClaims` parameter, if any.
    pub(crate) claims: Option<usize>,
}

/// Checks the arguments (or reports why they do not parse) and the handler; all independent
/// mistakes of both are reported together, the arguments' first.
pub(crate) fn validate(args: syn::Result<Args>, function: ItemFn) -> syn::Result<Handler> {
    let mut errors = Errors::default();
    let spec = errors.collect(args.and_then(Args::validate));
    let claims = errors.collect(check_fn(&function));
    errors.finish()?;
    match (spec, claims) {
        (Some(spec), Some(claims)) => Ok(Handler { spec, function, claims }),
        // Only reachable with an error already reported.
        _ => Err(syn::Error::new(Span::call_site(), "invalid `#[azure_mcp_auth]` arguments")),
    }
}

impl Args {
    /// Checks every argument; all independent mistakes are reported together.
    fn validate(self) -> syn::Result<AuthSpec> {
        let mut errors = Errors::default();
        let mut app_id = None;
        let mut scopes: Option<Vec<Checked>> = None;
        let mut scope_key: Option<Ident> = None;
        let mut roles = None;
        let mut tenants = None;
        let mut seen: Vec<Ident> = Vec::new();
        let mut hinted: Vec<&str> = Vec::new();
        for Arg { key, value } in self.0 {
            let name = key.to_string();
            if !KEYS.contains(&name.as_str()) {
                let (error, hint) = common::unknown_key("argument", &key, KEYS);
                errors.push(error);
                // A misspelt key is not also reported as missing.
                hinted.extend(hint);
                continue;
            }
            if seen.contains(&key) {
                errors.at(&key, format_args!("duplicate argument `{name}`: give it once"));
                continue;
            }
            seen.push(key.clone());
            match name.as_str() {
                "app_id" => app_id = Some(string(&value, "app_id", GUID_RULE, &mut errors)),
                "scope" | "scopes" => {
                    if let Some(first) = &scope_key {
                        errors.at(
                            &key,
                            format_args!(
                                "`{first}` is already given: use `scope = \"…\"` for one scope or `scopes = [\"…\", \"…\"]` for several (any of)"
                            ),
                        );
                        continue;
                    }
                    scope_key = Some(key.clone());
                    if name == "scope" {
                        if let Expr::Array(_) = common::peel(&value) {
                            errors.at(
                                &value,
                                "`scope` takes one scope: for several (any of) write `scopes = [\"…\", \"…\"]`",
                            );
                            scopes = Some(Vec::new());
                        } else {
                            scopes = Some(
                                string(&value, "scope", SCOPE_NAME_RULE, &mut errors).into_iter().collect(),
                            );
                        }
                    } else {
                        scopes = Some(list(
                            &key,
                            &value,
                            SCOPE_NAME_RULE,
                            "a scope",
                            "access_as_user",
                            &mut errors,
                        ));
                    }
                }
                "roles" => {
                    roles = Some(list(&key, &value, SCOPE_TOKEN_RULE, "a role", "Mcp.Invoke", &mut errors))
                }
                "tenants" => {
                    let example = "11111111-2222-3333-4444-555555555555";
                    tenants = Some(list(&key, &value, GUID_RULE, "a tenant GUID", example, &mut errors));
                }
                _ => unreachable!("every key in KEYS is handled"),
            }
        }
        if app_id.is_none() && !hinted.contains(&"app_id") {
            errors.at_span(
                Span::call_site(),
                "missing `app_id`: name the app whose tokens this handler accepts, e.g. `app_id = env!(\"AZURE_CLIENT_ID\")`",
            );
        }
        if scopes.is_none() && !hinted.iter().any(|h| *h == "scope" || *h == "scopes") {
            errors.at_span(
                Span::call_site(),
                "missing `scope`: name the delegated scope this handler requires, e.g. `scope = \"access_as_user\"` (or `scopes = [\"…\", \"…\"]` for any of several)",
            );
        }
        errors.finish()?;
        match (app_id, scopes) {
            (Some(Some(app_id)), Some(scopes)) if !scopes.is_empty() => Ok(AuthSpec {
                app_id,
                scopes,
                roles: roles.unwrap_or_default(),
                tenants: tenants.unwrap_or_default(),
            }),
            // Only reachable with an error already reported.
            _ => Err(syn::Error::new(Span::call_site(), "invalid `#[azure_mcp_auth]` arguments")),
        }
    }
}

/// The claims parameter's type is recognised by name: `AzureClaims`, however qualified.
fn is_claims_type(ty: &Type) -> bool {
    match ty {
        Type::Path(p) => {
            p.qself.is_none()
                && p.path.segments.last().is_some_and(|s| s.ident == "AzureClaims" && s.arguments.is_empty())
        }
        Type::Group(g) => is_claims_type(&g.elem),
        Type::Paren(p) => is_claims_type(&p.elem),
        _ => false,
    }
}

/// Checks the handler's shape: an `async fn` without `self`, at most one `AzureClaims`
/// parameter, at most 16 extractors once the auth extractor is counted.
/// Returns the index of the `AzureClaims` parameter, if any.
fn check_fn(item: &ItemFn) -> syn::Result<Option<usize>> {
    let mut errors = Errors::default();
    let sig = &item.sig;
    if sig.asyncness.is_none() {
        errors.at(
            sig.fn_token,
            "`#[azure_mcp_auth]` goes on an `async fn` axum handler: add `async` before `fn`",
        );
    }
    if let Some(again) =
        item.attrs.iter().find(|a| a.path().segments.last().is_some_and(|s| s.ident == "azure_mcp_auth"))
    {
        errors.at(
            again,
            "`#[azure_mcp_auth]` is given twice: give it once, with every scope, role and tenant the handler accepts",
        );
    }
    let mut claims = None;
    for (i, arg) in sig.inputs.iter().enumerate() {
        match arg {
            FnArg::Receiver(r) => errors.at(
                r,
                "`#[azure_mcp_auth]` handlers cannot take `self`: axum calls handlers as free functions; move the handler out of the `impl` block",
            ),
            FnArg::Typed(PatType { ty, .. }) if is_claims_type(ty) => {
                if claims.is_some() {
                    errors.at(ty, "a second `AzureClaims` parameter: the verified claims are given once; remove this one");
                } else {
                    claims = Some(i);
                }
            }
            FnArg::Typed(_) => {}
        }
    }
    let added = usize::from(claims.is_none());
    let total = sig.inputs.len() + added;
    if total > MAX_EXTRACTORS {
        let first_excess = MAX_EXTRACTORS - added;
        let span =
            sig.inputs.iter().skip(first_excess).map(Spanned::span).next().unwrap_or_else(|| sig.span());
        errors.at_span(
            span,
            format_args!(
                "too many extractors: axum handlers take at most {MAX_EXTRACTORS} arguments and this one would take {total}{}; group some into one extractor (a struct implementing FromRequestParts)",
                if added == 1 { " with the auth extractor that `#[azure_mcp_auth]` puts first" } else { "" }
            ),
        );
    }
    errors.finish()?;
    Ok(claims)
}
