//! The keys of `azure_oauth_routes!`: every key of the configuration's key table ([`crate::keys`],
//! the runtime's own file: one builder method and one environment variable each), plus `env`; each
//! value checked by what the table says it is. Every independent mistake is collected.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Expr, Ident, Lit};

use super::parse::{Field, Input};
use crate::common::{self, Errors, StrValue};
use crate::keys::{self, Choice, KEYS, Key, Kind, Rule, TENANT_LIST_RULE};

/// The key that reads the environment variables (before the other keys, which win); the only key
/// that is not in the key table, since it is not a setting.
const ENV: &str = "env";

/// A key the macro accepts.
#[derive(Clone, Copy)]
enum Accepted {
    /// A key of the table.
    Key(&'static Key),
    /// `env`: a lookup `Fn(&str) -> Option<String>` the environment variables are read through.
    Env,
}

fn accepted(name: &str) -> Option<Accepted> {
    if name == ENV { Some(Accepted::Env) } else { keys::find(name).map(Accepted::Key) }
}

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

/// Checks every key and value.
pub(crate) fn validate(input: Input) -> syn::Result<Config> {
    let mut errors = Errors::default();
    let mut seen: Vec<Ident> = Vec::new();
    let mut settings = Vec::new();
    let mut env = None;
    for Field { key: ident, value } in input.0 {
        let name = ident.to_string();
        let Some(accepted) = accepted(&name) else {
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
        match accepted {
            Accepted::Env => env = lookup(&value, &mut errors),
            Accepted::Key(key) => {
                if let Some((arg, const_checks)) = value_of(key, &value, &mut errors) {
                    settings.push(Setting { key: ident, arg, const_checks });
                }
            }
        }
    }
    // With `env`, the app and tenant ids may come from `AZURE_CLIENT_ID` and `AZURE_TENANT_ID`.
    let from_env = seen.iter().any(|s| s == ENV);
    for key in KEYS.iter().filter(|k| !from_env && !seen.iter().any(|s| s == k.name)) {
        if let Some(what) = key.required {
            errors.at_span(
                Span::call_site(),
                format_args!(
                    "missing `{name}`: {what}, e.g. `{name}: env!(\"{var}\")`",
                    name = key.name,
                    var = key.env
                ),
            );
        }
    }
    // Reported when nothing else is wrong: a mistyped key or mode says more.
    if errors.is_empty() && !from_env && !seen.iter().any(|s| s == keys::BASE_URL.name) {
        let mode = settings.iter().find(|s| s.key == keys::MODE.name).map(|s| s.arg.to_string());
        // The default mode, or one written as `broker`/`enrol` (a run-time mode is checked at startup).
        let authorization_server = mode.is_none_or(|m| m.ends_with("Broker") || m.ends_with("Enrol"));
        if authorization_server {
            errors.at_span(
                Span::call_site(),
                "missing `base_url`: the broker and enrol modes take their issuer and the callback they put on \
                 the app registration from the public base URL, never from a request's `Host` header; give \
                 `base_url: env!(\"PUBLIC_BASE_URL\")` (or a value read at run time), read it with `env`, or choose \
                 `mode: direct`",
            );
        }
    }
    // The app proves itself with one credential: two kinds written is a mistake the builder would
    // report at startup.
    let kinds: Vec<&str> =
        keys::CREDENTIAL_KEYS.iter().map(|k| k.name).filter(|name| seen.iter().any(|s| s == name)).collect();
    if let [first, second, ..] = kinds[..] {
        let span = seen.iter().find(|s| *s == second).map_or_else(Span::call_site, Ident::span);
        errors.at_span(
            span,
            format_args!(
                "`{first}` and `{second}` each choose how the app proves itself to Entra ID, and it has one \
                 credential: keep the one its app registration trusts (`client_secret`, `client_certificate_path`, \
                 `federated_token_file` or `managed_identity_client_id`)"
            ),
        );
    }
    errors.finish()?;
    Ok(Config { env, settings })
}

/// `env`'s lookup: any expression but a literal.
fn lookup(value: &Expr, errors: &mut Errors) -> Option<TokenStream> {
    if let Expr::Lit(l) = common::peel(value) {
        errors.at(
            l,
            "`env` takes a lookup function, such as `env: |name| std::env::var(name).ok()`, not a literal",
        );
        return None;
    }
    Some(value.to_token_stream())
}

fn unknown(ident: &Ident) -> (syn::Error, Option<&'static str>) {
    let name = ident.to_string();
    if let Some((_, meant)) = ALIASES.iter().find(|(alias, _)| name.eq_ignore_ascii_case(alias)) {
        let error = syn::Error::new(ident.span(), format!("unknown key `{name}`: did you mean `{meant}`?"));
        return (error, Some(meant));
    }
    let names: Vec<&str> = KEYS.iter().map(|k| k.name).chain([ENV]).collect();
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
            let (arg, literals) = list(value, field, TENANT_LIST_RULE, errors, &mut checks)?;
            tenant_mix(&literals, errors);
            arg
        }
        Kind::Secret => secret(key, value, errors)?,
        Kind::Choice(choice) => choice_of(choice, value, field, errors)?,
        Kind::Seconds { min, max, expected } => {
            let takes = format!(
                "{expected}, or a Duration such as std::time::Duration::from_secs({example})",
                example = example(expected)
            );
            match whole_number(value, field, &takes, errors)? {
                Some(lit) => {
                    within(&lit, *min, Some(*max), field, expected, errors)?;
                    quote_spanned!(lit.span()=> ::core::time::Duration::from_secs(#lit))
                }
                None => value.to_token_stream(),
            }
        }
        Kind::Bool => match common::peel(value) {
            Expr::Lit(l) if !matches!(l.lit, Lit::Bool(_)) => {
                errors.at(l, format_args!("`{field}` takes `true` or `false`"));
                return None;
            }
            _ => value.to_token_stream(),
        },
        Kind::Count { min, expected } => match whole_number(value, field, expected, errors)? {
            Some(lit) => {
                within(&lit, *min, None, field, expected, errors)?;
                lit.to_token_stream()
            }
            None => value.to_token_stream(),
        },
    };
    Some((arg, checks))
}

/// An integer literal (`Some`), or any other expression, of the right type at run time (`None`);
/// another literal is a mistake: the key takes what `takes` says.
fn whole_number(value: &Expr, field: &str, takes: &str, errors: &mut Errors) -> Option<Option<syn::LitInt>> {
    match common::peel(value) {
        Expr::Lit(l) => match &l.lit {
            Lit::Int(i) => Some(Some(i.clone())),
            other => {
                errors.at(other, format_args!("`{field}` takes {takes}"));
                None
            }
        },
        _ => Some(None),
    }
}

/// The example of an `expected` text ("…, such as 300"), else 300.
fn example(expected: &str) -> &str {
    expected.rsplit_once("such as ").map_or("300", |(_, e)| e.split([' ', ')']).next().unwrap_or(e))
}

/// The value of an integer literal from `min` to `max`, as the key table's `expected` says.
fn within(
    lit: &syn::LitInt,
    min: u64,
    max: Option<u64>,
    field: &str,
    expected: &str,
    errors: &mut Errors,
) -> Option<u64> {
    match lit.base10_parse::<u64>() {
        Ok(n) if n >= min && max.is_none_or(|max| n <= max) => Some(n),
        _ => {
            errors.at(lit, format_args!("invalid `{field}`: expected {expected}"));
            None
        }
    }
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

/// A secret (`client_secret`, `state_keys`) must be read at run time: written in the source or read
/// with `env!` it is baked into the binary, where anyone with the binary can read it.
fn secret(key: &Key, value: &Expr, errors: &mut Errors) -> Option<TokenStream> {
    let (name, var) = (key.name, key.env);
    let hint = format!("read it at run time instead, e.g. `{name}: std::env::var(\"{var}\")?`");
    if reads_at_build_time(value.to_token_stream()) {
        errors.at(
            value,
            format_args!(
                "`{name}` must not be read at build time: this macro bakes the value into the binary, where anyone with the binary can read it; {hint}"
            ),
        );
        return None;
    }
    let inner = unwrap_conversions(value);
    if matches!(inner, Expr::Lit(_)) || common::is_const_expr(inner) {
        errors.at(
            inner,
            format_args!(
                "`{name}` must not be written in the source: it would be baked into the binary and kept in version control; {hint}"
            ),
        );
        return None;
    }
    Some(value.to_token_stream())
}

/// Words people reach for that are not a choice (an old name), and the choice they mean.
const CHOICE_ALIASES: &[(&str, &str)] = &[("bridge", "enrol")];

/// A choice's word (`broker`), or a path ending in its variant (`Mode::Broker`), or any other
/// expression as a run-time value (`{ mode }`).
fn choice_of(choice: &Choice, value: &Expr, field: &str, errors: &mut Errors) -> Option<TokenStream> {
    let words: Vec<&str> = choice.choices.iter().map(|(w, _)| *w).collect();
    let expected = choice.expected;
    match common::peel(value) {
        Expr::Path(p)
            if p.qself.is_none() && p.path.segments.len() == 1 && p.path.leading_colon.is_none() =>
        {
            let ident = &p.path.segments[0].ident;
            let written = ident.to_string();
            match choice.variant(&written) {
                Some(variant) => {
                    let ty = Ident::new(choice.ty, Span::call_site());
                    let variant = Ident::new(variant, ident.span());
                    Some(quote!(::axum_mcp_azure_oauth::__private::#ty::#variant))
                }
                None => {
                    let alias = CHOICE_ALIASES.iter().find(|(old, _)| written.eq_ignore_ascii_case(old));
                    let hint = alias
                        .map(|(_, meant)| *meant)
                        .filter(|meant| words.contains(meant))
                        .or_else(|| common::did_you_mean(&written, &words))
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
                    choice.choices.iter().map(|(_, v)| format!("{}::{v}", choice.ty)).collect();
                errors.at(
                    value,
                    format_args!(
                        "unknown `{field}`: expected {expected}, or a path ending in {}",
                        common::one_of(&variants)
                    ),
                );
                None
            }
        }
        Expr::Lit(l) => {
            errors.at(l, format_args!("`{field}` takes {} without quotes", common::one_of(&words)));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hint_names_what_the_macro_accepts() {
        for (alias, meant) in ALIASES {
            assert!(accepted(alias).is_none(), "{alias} is a key itself");
            assert!(accepted(meant).is_some(), "{alias} points to {meant}, which is not a key");
        }
        for (old, meant) in CHOICE_ALIASES {
            assert_eq!(keys::MODE_CHOICE.variant(old), None, "{old} is a word itself");
            assert!(
                keys::MODE_CHOICE.variant(meant).is_some(),
                "{old} points to {meant}, which is not a word"
            );
        }
    }

    #[test]
    fn the_example_of_a_duration_is_the_tables() {
        assert_eq!(example("a whole number of seconds from 0 to 3600, such as 300"), "300");
        assert_eq!(
            example(match keys::HTTP_TIMEOUT.kind {
                Kind::Seconds { expected, .. } => expected,
                _ => unreachable!("http_timeout is in seconds"),
            }),
            "10"
        );
        assert_eq!(example("no example"), "300");
    }
}
