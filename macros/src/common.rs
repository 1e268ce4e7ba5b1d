//! What both macros share: error collection, "did you mean" hints, and string values checked by the
//! runtime crate's rules (here for literals, in emitted `const` items for constant expressions); the
//! rules themselves are named by the key table ([`crate::keys`]).

use proc_macro2::{Delimiter, Group, Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::{Expr, Ident, Lit, LitStr};

use crate::keys::Rule;

/// Collects independent errors so that one build reports all of them.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    /// Whether nothing was reported.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub(crate) fn at(&mut self, tokens: impl ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    pub(crate) fn at_span(&mut self, span: Span, message: impl std::fmt::Display) {
        self.push(syn::Error::new(span, message));
    }

    /// The value of `result`, or `None` with its error collected.
    pub(crate) fn collect<T>(&mut self, result: syn::Result<T>) -> Option<T> {
        result.map_err(|e| self.push(e)).ok()
    }

    pub(crate) fn finish(self) -> Result<(), syn::Error> {
        self.0.map_or(Ok(()), Err)
    }
}

/// How a string value is known.
pub(crate) enum StrValue {
    /// A string literal: checked by the macro itself, with the error on the literal.
    Literal(LitStr),
    /// A constant expression (`env!(…)`, `concat!(…)`, `include_str!(…)`, `const { … }`, a path to
    /// an `UPPER_CASE` constant): checked by an emitted `const` item, so the build fails on a bad value.
    Const(Expr),
    /// Anything else: a value computed at run time, checked by the configuration builder at startup.
    Runtime(Expr),
}

/// A string value and the rule it must follow; literals are already checked.
pub(crate) struct Checked {
    pub(crate) value: StrValue,
    pub(crate) rule: Rule,
}

/// One string value: literals checked now, everything else left to a `const` check (the handler's
/// requirements are `const` items, so a value computed at run time is a type error anyway).
pub(crate) fn string(expr: &Expr, field: &str, rule: Rule, errors: &mut Errors) -> Option<Checked> {
    let value = str_value(expr, field, errors)?;
    match &value {
        StrValue::Literal(lit) => {
            if !check_literal(lit, field, rule, errors) {
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
pub(crate) fn list(
    key: &Ident,
    expr: &Expr,
    rule: Rule,
    what: &str,
    example: &str,
    errors: &mut Errors,
) -> Vec<Checked> {
    let field = key.to_string();
    let Expr::Array(array) = peel(expr) else {
        errors.at(expr, format_args!("`{field}` takes a list such as `{field} = [\"{example}\"]`"));
        return Vec::new();
    };
    if array.elems.is_empty() {
        errors.at(array, format_args!("`{field}` is empty: list at least {what}, or remove `{field}`"));
        return Vec::new();
    }
    array.elems.iter().filter_map(|e| string(e, &field, rule, errors)).collect()
}

/// The value as written (a literal or a constant expression), to emit.
pub(crate) fn expr_of(checked: &Checked) -> TokenStream {
    match &checked.value {
        StrValue::Literal(lit) => lit.to_token_stream(),
        StrValue::Const(e) | StrValue::Runtime(e) => e.to_token_stream(),
    }
}

/// `const` checks for values that are not literals (literals were checked by the macro).
pub(crate) fn checked_const_checks(field: &str, values: &[Checked]) -> TokenStream {
    let values: Vec<(&syn::Expr, Rule)> = values
        .iter()
        .filter_map(|c| match &c.value {
            StrValue::Literal(_) => None,
            StrValue::Const(e) | StrValue::Runtime(e) => Some((e, c.rule)),
        })
        .collect();
    const_checks(field, &values)
}

/// Strips the invisible groups `macro_rules!` wraps around `$e:expr` fragments, and parentheses.
pub(crate) fn peel(expr: &Expr) -> &Expr {
    match expr {
        Expr::Group(g) => peel(&g.expr),
        Expr::Paren(p) => peel(&p.expr),
        other => other,
    }
}

/// The standard macros whose expansion is a `&'static str` known at compile time.
const CONST_STR_MACROS: &[&str] = &["env", "concat", "include_str", "stringify"];

/// Whether `expr` is a constant expression by its shape (see [`StrValue::Const`]).
pub(crate) fn is_const_expr(expr: &Expr) -> bool {
    match peel(expr) {
        Expr::Macro(m) => m.mac.path.segments.last().is_some_and(|s| {
            CONST_STR_MACROS.iter().any(|name| s.ident == name) && m.mac.path.segments.len() <= 2
        }),
        Expr::Const(_) => true,
        Expr::Path(p) => p.qself.is_none() && p.path.segments.last().is_some_and(|s| is_upper_case(&s.ident)),
        _ => false,
    }
}

fn is_upper_case(ident: &syn::Ident) -> bool {
    let name = ident.to_string();
    name.chars().any(|c| c.is_ascii_uppercase())
        && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// Classifies a string value; a literal of another kind (a number, a byte string) is an error.
pub(crate) fn str_value(expr: &Expr, field: &str, errors: &mut Errors) -> Option<StrValue> {
    match peel(expr) {
        Expr::Lit(lit) => match &lit.lit {
            Lit::Str(s) => Some(StrValue::Literal(s.clone())),
            other => {
                errors
                    .at(other, format_args!("expected a string for `{field}`, such as \"…\" or env!(\"…\")"));
                None
            }
        },
        e if is_const_expr(e) => Some(StrValue::Const(expr.clone())),
        _ => Some(StrValue::Runtime(expr.clone())),
    }
}

/// Checks a literal by `rule`, reporting a broken rule on the literal.
pub(crate) fn check_literal(lit: &LitStr, field: &str, rule: Rule, errors: &mut Errors) -> bool {
    match (rule.check)(&lit.value()) {
        Ok(()) => true,
        Err(e) => {
            errors.at(lit, format_args!("invalid `{field}`: {}", e.message()));
            false
        }
    }
}

/// The first and last token spans of `expr`: spans that rustc joins, so that an error covers the
/// whole expression (a `Span::join` that works on stable).
fn span_range(expr: &Expr) -> (Span, Span) {
    let mut tokens = expr.to_token_stream().into_iter();
    let first = tokens.next().map_or_else(Span::call_site, |t| t.span());
    let last = tokens.last().map_or(first, |t| t.span());
    (first, last)
}

/// A `const` item named after the field whose evaluation fails, on the offending value, when one
/// of `values` breaks its rule: rustc then reports "evaluation panicked: {rule message}" on the
/// value and "evaluation of `_::{field}` failed here". Nothing when there are no values.
///
/// The values are evaluated in an outer `const` and checked in a nested block, so that the
/// field-named `const` never shadows an item the user's expression names.
pub(crate) fn const_checks(field: &str, values: &[(&Expr, Rule)]) -> TokenStream {
    if values.is_empty() {
        return TokenStream::new();
    }
    let count = values.len();
    let exprs = values.iter().map(|(e, _)| e);
    let checks = values.iter().enumerate().map(|(i, (expr, rule))| {
        let (first, last) = span_range(expr);
        let rule = Ident::new(rule.name, Span::call_site());
        let panic = quote_spanned!(first=> ::core::panic!);
        let mut args = Group::new(Delimiter::Parenthesis, quote!("{}", __azure_mcp_error.message()));
        args.set_span(last);
        quote! {
            match ::axum_mcp_azure_oauth::__private::rules::#rule(__AZURE_MCP_VALUES[#i]) {
                ::core::result::Result::Ok(()) => (),
                ::core::result::Result::Err(__azure_mcp_error) => #panic #args,
            }
        }
    });
    let name = Ident::new(field, Span::call_site());
    quote! {
        const _: () = {
            const __AZURE_MCP_VALUES: [&::core::primitive::str; #count] = [#(#exprs),*];
            {
                #[allow(non_upper_case_globals, dead_code)]
                const #name: () = { #(#checks;)* };
            }
        };
    }
}

/// "`a`", "`a` or `b`", "`a`, `b` or `c`".
pub(crate) fn one_of(words: &[impl std::fmt::Display]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("`{w}`")).collect();
    match quoted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// Levenshtein distance, for "did you mean" hints.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == cb { prev } else { 1 + prev.min(cur).min(row[j]) };
            prev = cur;
        }
    }
    row[b.len()]
}

/// The closest of `known` to `key`, if it is close enough to be a likely typo.
pub(crate) fn did_you_mean<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    let key = key.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (distance(&key, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4) || (key.len() >= 4 && k.contains(key.as_str())))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// "unknown key `x`: did you mean `y`?" or "unknown key `x`: expected one of `a`, `b`".
pub(crate) fn unknown_key<'a>(
    what: &str,
    key: &syn::Ident,
    known: &[&'a str],
) -> (syn::Error, Option<&'a str>) {
    let name = key.to_string();
    let hint = did_you_mean(&name, known);
    let message = match hint {
        Some(hint) => format!("unknown {what} `{name}`: did you mean `{hint}`?"),
        None => {
            let list: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
            format!("unknown {what} `{name}`: expected one of {}", list.join(", "))
        }
    };
    (syn::Error::new(key.span(), message), hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("tenant_id", "tenant_id"), 0);
        assert_eq!(distance("tenantid", "tenant_id"), 1);
        assert_eq!(distance("scop", "scope"), 1);
        assert_eq!(distance("", "abc"), 3);
    }

    #[test]
    fn hints_pick_the_closest_key_and_only_close_ones() {
        let known = ["app_id", "tenant_id", "allowed_tenant_ids", "base_url"];
        assert_eq!(did_you_mean("tenantid", &known), Some("tenant_id"));
        assert_eq!(did_you_mean("allowed_tenants", &known), Some("allowed_tenant_ids"));
        assert_eq!(did_you_mean("baseurl", &known), Some("base_url"));
        assert_eq!(did_you_mean("client_id", &known), None);
        assert_eq!(did_you_mean("zzz", &known), None);
    }

    #[test]
    fn const_shapes_are_recognised() {
        let yes = [
            "env!(\"X\")",
            "std::env!(\"X\")",
            "concat!(\"a\", \"b\")",
            "APP_ID",
            "crate::config::APP_ID",
            "const { X }",
        ];
        for src in yes {
            let e: Expr = syn::parse_str(src).expect("expression");
            assert!(is_const_expr(&e), "{src}");
        }
        let no = ["std::env::var(\"X\")?", "app_id", "format!(\"x\")", "secret.clone()", "Config::app_id()"];
        for src in no {
            let e: Expr = syn::parse_str(src).expect("expression");
            assert!(!is_const_expr(&e), "{src}");
        }
    }
}
