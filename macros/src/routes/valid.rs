//! The keys of `azure_oauth_routes!` (one per `AzureOAuthConfigBuilder` method) and what each value
//! may be; every independent mistake is collected.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Expr, Ident, Lit};

use super::parse::{Field, Input};
use crate::common::{
    self, APP_ID_URI, BASE_URL, Errors, GUID, REDIRECT_PREFIX, REDIRECT_URI, RESOURCE_PATH, Rule, SCOPE_NAME,
    SCOPE_TOKEN, StrValue, TENANT_LIST,
};

/// A value that must be one of a few names: `mode: bridge`, `https_redirect_platform: spa`.
pub(crate) struct Choice {
    /// The runtime type, re-exported by `__private`.
    ty: &'static str,
    /// (what users write, the variant).
    choices: &'static [(&'static str, &'static str)],
}

const MODE: Choice = Choice { ty: "Mode", choices: &[("bridge", "Bridge"), ("direct", "Direct")] };
const PLATFORM: Choice = Choice { ty: "HttpsPlatform", choices: &[("web", "Web"), ("spa", "Spa")] };

/// What a key's value is.
enum Kind {
    /// One string, checked by a rule.
    Str(Rule),
    /// A list of strings, each checked by a rule.
    List(Rule),
    /// The tenant list: each entry by [`TENANT_LIST`], and the whole list too (`*` stands alone).
    Tenants,
    /// The client secret: a run-time value only.
    Secret,
    Choice(&'static Choice),
    /// A `Duration`; an integer literal is seconds.
    Duration,
    Bool,
    /// A `usize`.
    Count,
    /// `env`: a lookup `Fn(&str) -> Option<String>` the environment variables are read through.
    Env,
}

struct Key {
    name: &'static str,
    kind: Kind,
    /// For the "missing key" message of required keys.
    required: Option<&'static str>,
}

const fn key(name: &'static str, kind: Kind) -> Key {
    Key { name, kind, required: None }
}

/// The key that reads the environment variables (before the other keys, which win).
const ENV: &str = "env";

/// Every `AzureOAuthConfigBuilder` method, by the same name, and `env`.
const KEYS: &[Key] = &[
    Key {
        name: "app_id",
        kind: Kind::Str(GUID),
        required: Some(
            "the Application (client) ID GUID of the app registration, e.g. `app_id: env!(\"AZURE_CLIENT_ID\")`",
        ),
    },
    Key {
        name: "tenant_id",
        kind: Kind::Str(GUID),
        required: Some(
            "the Directory (tenant) ID GUID of the app registration, e.g. `tenant_id: env!(\"AZURE_TENANT_ID\")`",
        ),
    },
    key("client_secret", Kind::Secret),
    key("authority_host", Kind::Str(BASE_URL)),
    key("graph_endpoint", Kind::Str(BASE_URL)),
    key("base_url", Kind::Str(BASE_URL)),
    key("allowed_redirect_uris", Kind::List(REDIRECT_URI)),
    key("allowed_redirect_uri_prefixes", Kind::List(REDIRECT_PREFIX)),
    key("allowed_tenant_ids", Kind::Tenants),
    key("api_scope", Kind::Str(SCOPE_NAME)),
    key("resource_path", Kind::Str(RESOURCE_PATH)),
    key("mode", Kind::Choice(&MODE)),
    key("https_redirect_platform", Kind::Choice(&PLATFORM)),
    key("required_scopes", Kind::List(SCOPE_NAME)),
    key("required_roles", Kind::List(SCOPE_TOKEN)),
    key("app_id_uris", Kind::List(APP_ID_URI)),
    key("clock_skew", Kind::Duration),
    key("custom_signing_keys", Kind::Bool),
    key("require_pkce", Kind::Bool),
    key("key_cache_tenants", Kind::Count),
    key("new_tenant_burst", Kind::Count),
    key("new_tenant_refill_per_sec", Kind::Count),
    key("token_cache_capacity", Kind::Count),
    key("key_refresh_interval", Kind::Duration),
    key("http_timeout", Kind::Duration),
    key(ENV, Kind::Env),
];

/// Names people reach for (the environment variables' words, the Python library's) and the key
/// they mean, when edit distance alone would not find it.
const ALIASES: &[(&str, &str)] = &[
    ("from_env", ENV),
    ("environment", ENV),
    ("client_id", "app_id"),
    ("azure_client_id", "app_id"),
    ("tenant", "tenant_id"),
    ("azure_tenant_id", "tenant_id"),
    ("secret", "client_secret"),
    ("azure_client_secret", "client_secret"),
    ("redirect_uris", "allowed_redirect_uris"),
    ("redirect_uri_prefixes", "allowed_redirect_uri_prefixes"),
    ("tenants", "allowed_tenant_ids"),
    ("allowed_tenants", "allowed_tenant_ids"),
    ("scope", "api_scope"),
    ("public_base_url", "base_url"),
    ("path", "resource_path"),
    ("platform", "https_redirect_platform"),
    ("scopes", "required_scopes"),
    ("roles", "required_roles"),
];

/// One checked key, ready to become a builder call.
pub(crate) struct Setting {
    pub(crate) key: Ident,
    /// The builder method's argument.
    pub(crate) arg: TokenStream,
    /// Constant expressions and their rules, for `const` checks (literals were checked by the macro).
    pub(crate) const_checks: Vec<(Expr, Rule)>,
}

/// Every key, checked.
pub(crate) struct Config {
    /// `env`'s lookup, applied first.
    pub(crate) env: Option<TokenStream>,
    /// The other keys, in the order written.
    pub(crate) settings: Vec<Setting>,
}

impl Input {
    pub(crate) fn validate(self) -> syn::Result<Config> {
        let mut errors = Errors::default();
        let mut seen: Vec<Ident> = Vec::new();
        let mut settings = Vec::new();
        for Field { key: ident, value } in self.0 {
            let name = ident.to_string();
            let Some(key) = KEYS.iter().find(|k| k.name == name) else {
                let (error, hint) = unknown(&ident);
                errors.push(error);
                // A misspelt key is not also reported as missing.
                seen.extend(hint.map(|h| Ident::new(h, ident.span())));
                continue;
            };
            if seen.contains(&ident) {
                errors.at(&ident, format_args!("duplicate key `{name}`: give it once"));
                continue;
            }
            seen.push(ident.clone());
            if let Some((arg, const_checks)) = value_of(key, &value, &mut errors) {
                settings.push(Setting { key: ident, arg, const_checks });
            }
        }
        // With `env`, the app and tenant ids may come from `AZURE_CLIENT_ID` and `AZURE_TENANT_ID`.
        let from_env = seen.iter().any(|s| s == ENV);
        let missing: Vec<&Key> = KEYS
            .iter()
            .filter(|k| k.required.is_some() && !from_env && !seen.iter().any(|s| s == k.name))
            .collect();
        for key in missing {
            errors.at_span(
                Span::call_site(),
                format_args!("missing `{}`: {}", key.name, key.required.unwrap_or_default()),
            );
        }
        errors.finish()?;
        let env = settings.iter().position(|s| s.key == ENV).map(|i| settings.remove(i).arg);
        Ok(Config { env, settings })
    }
}

fn unknown(ident: &Ident) -> (syn::Error, Option<&'static str>) {
    let name = ident.to_string();
    if let Some((_, meant)) = ALIASES.iter().find(|(alias, _)| name.eq_ignore_ascii_case(alias)) {
        let error = syn::Error::new(ident.span(), format!("unknown key `{name}`: did you mean `{meant}`?"));
        return (error, Some(meant));
    }
    let names: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
    common::unknown_key("key", ident, &names)
}

fn string_arg(value: &StrValue) -> TokenStream {
    match value {
        StrValue::Literal(lit) => lit.to_token_stream(),
        StrValue::Const(e) | StrValue::Runtime(e) => e.to_token_stream(),
    }
}

/// A string checked by `rule`: literals now, constant expressions by a `const` check, run-time
/// values by the builder at startup.
fn checked_string(
    expr: &Expr,
    field: &str,
    rule: Rule,
    errors: &mut Errors,
    checks: &mut Vec<(Expr, Rule)>,
) -> Option<StrValue> {
    let value = common::str_value(expr, field, errors)?;
    match &value {
        StrValue::Literal(lit) => {
            if !common::check_literal(lit, field, rule, errors) {
                return None;
            }
        }
        StrValue::Const(e) => checks.push((e.clone(), rule)),
        StrValue::Runtime(_) => {}
    }
    Some(value)
}

/// The builder argument for `key` and its `const` checks; `None` after reporting a mistake.
fn value_of(key: &Key, value: &Expr, errors: &mut Errors) -> Option<(TokenStream, Vec<(Expr, Rule)>)> {
    let field = key.name;
    let mut checks = Vec::new();
    let arg = match &key.kind {
        Kind::Str(rule) => {
            if let Expr::Array(a) = common::peel(value) {
                errors.at(a, format_args!("`{field}` takes one value, not a list"));
                return None;
            }
            string_arg(&checked_string(value, field, *rule, errors, &mut checks)?)
        }
        Kind::List(rule) => list(value, field, *rule, errors, &mut checks)?.0,
        Kind::Tenants => {
            let (arg, literals) = list(value, field, TENANT_LIST, errors, &mut checks)?;
            tenant_mix(&literals, errors);
            arg
        }
        Kind::Secret => secret(value, errors)?,
        Kind::Env => match common::peel(value) {
            Expr::Lit(l) => {
                errors.at(
                    l,
                    format_args!(
                        "`env` takes a lookup function, such as `env: |name| std::env::var(name).ok()`, not a literal"
                    ),
                );
                return None;
            }
            _ => value.to_token_stream(),
        },
        Kind::Choice(choice) => choice_of(choice, value, field, errors)?,
        Kind::Duration => match common::peel(value) {
            Expr::Lit(l) => match &l.lit {
                Lit::Int(i) => match i.base10_parse::<u64>() {
                    Ok(_) => quote_spanned!(i.span()=> ::core::time::Duration::from_secs(#i)),
                    Err(e) => {
                        errors.push(e);
                        return None;
                    }
                },
                other => {
                    errors.at(
                        other,
                        format_args!(
                            "`{field}` takes whole seconds such as 300, or a Duration such as std::time::Duration::from_secs(300)"
                        ),
                    );
                    return None;
                }
            },
            _ => value.to_token_stream(),
        },
        Kind::Bool => match common::peel(value) {
            Expr::Lit(l) if !matches!(l.lit, Lit::Bool(_)) => {
                errors.at(l, format_args!("`{field}` takes `true` or `false`"));
                return None;
            }
            _ => value.to_token_stream(),
        },
        Kind::Count => match common::peel(value) {
            Expr::Lit(l) => match &l.lit {
                Lit::Int(i) => match i.base10_parse::<usize>() {
                    Ok(_) => i.to_token_stream(),
                    Err(e) => {
                        errors.push(e);
                        return None;
                    }
                },
                other => {
                    errors.at(other, format_args!("`{field}` takes a whole number such as 100"));
                    return None;
                }
            },
            _ => value.to_token_stream(),
        },
    };
    Some((arg, checks))
}

/// `[a, b, …]` (each checked by `rule`), or any run-time iterable of strings. Returns the builder
/// argument and the literal entries.
fn list(
    value: &Expr,
    field: &str,
    rule: Rule,
    errors: &mut Errors,
    checks: &mut Vec<(Expr, Rule)>,
) -> Option<(TokenStream, Vec<syn::LitStr>)> {
    match common::peel(value) {
        Expr::Array(array) => {
            if array.elems.is_empty() {
                errors.at(
                    array,
                    format_args!("`{field}` is empty: list at least one value, or remove `{field}`"),
                );
                return None;
            }
            let mut ok = true;
            let mut items = Vec::new();
            let mut literals = Vec::new();
            for elem in &array.elems {
                if let Some(v) = checked_string(elem, field, rule, errors, checks) {
                    if let StrValue::Literal(lit) = &v {
                        literals.push(lit.clone());
                    }
                    let arg = string_arg(&v);
                    let span = elem.span();
                    items.push(quote_spanned!(span=> ::std::string::String::from(#arg)));
                } else {
                    ok = false;
                }
            }
            if !ok {
                return None;
            }
            Some((quote!([#(#items),*]), literals))
        }
        Expr::Lit(l) => {
            errors.at(l, format_args!("`{field}` takes a list such as [\"…\"]"));
            None
        }
        _ if common::is_const_expr(value) => {
            errors.at(value, format_args!("`{field}` takes a list: write [{}]", value.to_token_stream()));
            None
        }
        _ => Some((value.to_token_stream(), Vec::new())),
    }
}

/// `*` (any tenant) cannot be listed with tenant GUIDs: the whole list goes through the same rule
/// as the builder applies, and a failure is reported on the `*`.
fn tenant_mix(literals: &[syn::LitStr], errors: &mut Errors) {
    if literals.len() < 2 {
        return;
    }
    let joined: Vec<String> = literals.iter().map(syn::LitStr::value).collect();
    if let Err(e) = crate::rules::tenant_list(&joined.join(",")) {
        let star = literals.iter().find(|l| l.value().trim() == "*").unwrap_or(&literals[0]);
        errors.at(star, format_args!("invalid `allowed_tenant_ids`: {} (`*` stands alone)", e.message()));
    }
}

/// The standard macros that read a value at build time.
const BUILD_TIME_MACROS: &[&str] =
    &["env", "option_env", "include_str", "include_bytes", "concat", "stringify"];

/// Whether the tokens call one of [`BUILD_TIME_MACROS`].
fn reads_at_build_time(tokens: TokenStream) -> bool {
    let mut previous: Option<Ident> = None;
    for tree in tokens {
        match tree {
            TokenTree::Punct(p) if p.as_char() == '!' => {
                if previous.as_ref().is_some_and(|ident| BUILD_TIME_MACROS.iter().any(|m| ident == m)) {
                    return true;
                }
                previous = None;
            }
            TokenTree::Ident(i) => previous = Some(i),
            TokenTree::Group(g) => {
                if reads_at_build_time(g.stream()) {
                    return true;
                }
                previous = None;
            }
            _ => previous = None,
        }
    }
    false
}

/// The expression a conversion wraps: `"…".to_string()`, `String::from("…")`, `"…".into()`.
fn unwrap_conversions(expr: &Expr) -> &Expr {
    match common::peel(expr) {
        Expr::MethodCall(m)
            if m.args.is_empty() && ["to_string", "to_owned", "into"].iter().any(|n| m.method == n) =>
        {
            unwrap_conversions(&m.receiver)
        }
        Expr::Call(c) if c.args.len() == 1 => match &*c.func {
            Expr::Path(p)
                if p.path.segments.last().is_some_and(|s| s.ident == "from" || s.ident == "new") =>
            {
                unwrap_conversions(&c.args[0])
            }
            _ => common::peel(expr),
        },
        other => other,
    }
}

const SECRET_HINT: &str =
    "read it at run time instead, e.g. `client_secret: std::env::var(\"AZURE_CLIENT_SECRET\")?`";

/// The client secret must be read at run time: written in the source or read with `env!` it is
/// baked into the binary, where anyone with the binary can read it.
fn secret(value: &Expr, errors: &mut Errors) -> Option<TokenStream> {
    if reads_at_build_time(value.to_token_stream()) {
        errors.at(
            value,
            format_args!(
                "`client_secret` must not be read at build time: this macro bakes the value into the binary, where anyone with the binary can read it; {SECRET_HINT}"
            ),
        );
        return None;
    }
    let inner = unwrap_conversions(value);
    if matches!(inner, Expr::Lit(_)) || common::is_const_expr(inner) {
        errors.at(
            inner,
            format_args!(
                "`client_secret` must not be written in the source: it would be baked into the binary and kept in version control; {SECRET_HINT}"
            ),
        );
        return None;
    }
    Some(value.to_token_stream())
}

/// `bridge`, or a path ending in the variant (`Mode::Bridge`), or any other expression as a
/// run-time value (`{ mode }`).
fn choice_of(choice: &Choice, value: &Expr, field: &str, errors: &mut Errors) -> Option<TokenStream> {
    let names: Vec<String> = choice.choices.iter().map(|(n, _)| format!("`{n}`")).collect();
    let expected = names.join(" or ");
    match common::peel(value) {
        Expr::Path(p)
            if p.qself.is_none() && p.path.segments.len() == 1 && p.path.leading_colon.is_none() =>
        {
            let ident = &p.path.segments[0].ident;
            let written = ident.to_string();
            match choice.choices.iter().find(|(n, v)| *n == written || *v == written) {
                Some((_, variant)) => {
                    let ty = Ident::new(choice.ty, Span::call_site());
                    let variant = Ident::new(variant, ident.span());
                    Some(quote!(::axum_mcp_azure_oauth::__private::#ty::#variant))
                }
                None => {
                    let lower: Vec<&str> = choice.choices.iter().map(|(n, _)| *n).collect();
                    let hint = common::did_you_mean(&written, &lower)
                        .map(|h| format!("did you mean `{h}`? "))
                        .unwrap_or_default();
                    errors.at(
                        ident,
                        format_args!(
                            "unknown `{field}` `{written}`: {hint}expected {expected} (a value computed at run time goes in braces: `{field}: {{ value }}`)"
                        ),
                    );
                    None
                }
            }
        }
        Expr::Path(p) if p.qself.is_none() => {
            let last = p.path.segments.last().map(|s| s.ident.to_string()).unwrap_or_default();
            if choice.choices.iter().any(|(_, v)| *v == last) {
                Some(value.to_token_stream())
            } else {
                let variants: Vec<String> =
                    choice.choices.iter().map(|(_, v)| format!("`{}::{v}`", choice.ty)).collect();
                errors.at(
                    value,
                    format_args!("unknown `{field}`: expected {expected} (or {})", variants.join(" or ")),
                );
                None
            }
        }
        Expr::Lit(l) => {
            errors.at(l, format_args!("`{field}` takes {expected} without quotes"));
            None
        }
        // `{ value }`: the braces only mark a run-time value; emitting them would trip `unused_braces`.
        Expr::Block(b) if b.attrs.is_empty() && b.label.is_none() && b.block.stmts.len() == 1 => {
            match &b.block.stmts[0] {
                syn::Stmt::Expr(inner, None) => Some(inner.to_token_stream()),
                _ => Some(value.to_token_stream()),
            }
        }
        _ => Some(value.to_token_stream()),
    }
}
