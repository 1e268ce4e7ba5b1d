//! `#[azure_mcp_auth(app_id = …, scope = "…", roles = […], tenants = […])]`: the arguments, parsed and
//! checked into an [`AuthSpec`], every independent mistake collected.

use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, Token};

use crate::common::{self, Errors, GUID, Rule, SCOPE_NAME, SCOPE_TOKEN, StrValue};

/// The keys the attribute accepts.
const KEYS: &[&str] = &["app_id", "scope", "scopes", "roles", "tenants"];

/// `key = value`, the value any expression (checked later).
pub(crate) struct Arg {
    pub(crate) key: Ident,
    pub(crate) value: Expr,
}

impl Parse for Arg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let key: Ident = input.call(syn::ext::IdentExt::parse_any)?;
        input.parse::<Token![=]>().map_err(|e| {
            syn::Error::new(e.span(), format!("expected `=` after `{key}`, as in `{key} = \"…\"`"))
        })?;
        let value = input.parse()?;
        Ok(Self { key, value })
    }
}

/// The attribute's comma-separated arguments.
pub(crate) struct Args(pub(crate) Punctuated<Arg, Token![,]>);

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        Punctuated::parse_terminated(input).map(Self)
    }
}

/// A string value and the rule it must follow; literals are already checked.
pub(crate) struct Checked {
    pub(crate) value: StrValue,
    pub(crate) rule: Rule,
}

impl Checked {
    pub(crate) fn expr(&self) -> proc_macro2::TokenStream {
        match &self.value {
            StrValue::Literal(lit) => quote::quote!(#lit),
            StrValue::Const(e) | StrValue::Runtime(e) => quote::quote!(#e),
        }
    }
}

/// What the handler requires, ready to expand.
pub(crate) struct AuthSpec {
    pub(crate) app_id: Checked,
    pub(crate) scopes: Vec<Checked>,
    pub(crate) roles: Vec<Checked>,
    pub(crate) tenants: Vec<Checked>,
}

/// One string value: literals checked now, everything else left to a `const` check (the handler's
/// requirements are `const` items, so a value computed at run time is a type error anyway).
fn string(expr: &Expr, field: &str, rule: Rule, errors: &mut Errors) -> Option<Checked> {
    let value = common::str_value(expr, field, errors)?;
    match &value {
        StrValue::Literal(lit) => {
            if !common::check_literal(lit, field, rule, errors) {
                return None;
            }
        }
        StrValue::Const(_) => {}
        StrValue::Runtime(e) => {
            // Still a `const` check: a run-time value fails to compile there with rustc's own error.
            return Some(Checked { value: StrValue::Const(e.clone()), rule });
        }
    }
    Some(Checked { value, rule })
}

/// A `[a, b, …]` list; `what` names one element in messages, `example` shows one.
fn list(
    key: &Ident,
    expr: &Expr,
    rule: Rule,
    what: &str,
    example: &str,
    errors: &mut Errors,
) -> Vec<Checked> {
    let field = key.to_string();
    let Expr::Array(array) = common::peel(expr) else {
        errors.at(expr, format_args!("`{field}` takes a list such as `{field} = [\"{example}\"]`"));
        return Vec::new();
    };
    if array.elems.is_empty() {
        errors.at(array, format_args!("`{field}` is empty: list at least {what}, or remove `{field}`"));
        return Vec::new();
    }
    array.elems.iter().filter_map(|e| string(e, &field, rule, errors)).collect()
}

impl Args {
    /// Checks every argument; all independent mistakes are reported together.
    pub(crate) fn validate(self) -> syn::Result<AuthSpec> {
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
                "app_id" => app_id = Some(string(&value, "app_id", GUID, &mut errors)),
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
                            scopes =
                                Some(string(&value, "scope", SCOPE_NAME, &mut errors).into_iter().collect());
                        }
                    } else {
                        scopes =
                            Some(list(&key, &value, SCOPE_NAME, "a scope", "access_as_user", &mut errors));
                    }
                }
                "roles" => roles = Some(list(&key, &value, SCOPE_TOKEN, "a role", "Mcp.Invoke", &mut errors)),
                "tenants" => {
                    let example = "11111111-2222-3333-4444-555555555555";
                    tenants = Some(list(&key, &value, GUID, "a tenant GUID", example, &mut errors));
                }
                _ => unreachable!("every key in KEYS is handled"),
            }
        }
        if app_id.is_none() && !hinted.contains(&"app_id") {
            errors.at_span(
                proc_macro2::Span::call_site(),
                "missing `app_id`: name the app whose tokens this handler accepts, e.g. `app_id = env!(\"AZURE_CLIENT_ID\")`",
            );
        }
        if scopes.is_none() && !hinted.iter().any(|h| *h == "scope" || *h == "scopes") {
            errors.at_span(
                proc_macro2::Span::call_site(),
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
            _ => {
                Err(syn::Error::new(proc_macro2::Span::call_site(), "invalid `#[azure_mcp_auth]` arguments"))
            }
        }
    }
}
