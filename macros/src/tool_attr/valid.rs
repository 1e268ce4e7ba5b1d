//! The `impl` block's tools: each `#[azure_mcp_auth(…)]` on a `#[tool]` method read, checked by
//! the runtime's rules and taken off the method; every independent mistake is collected.

use proc_macro2::{Span, TokenStream};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, Ident, ImplItem, ImplItemFn, ItemImpl, Lit, Meta, Token};

use crate::auth_attr::parse::{Arg, Args};
use crate::common::{self, Checked, Errors, StrValue, list, string};
use crate::keys::{SCOPE_NAME_RULE, SCOPE_TOKEN_RULE};

/// The keys a tool's attribute accepts.
const KEYS: &[&str] = &["scope", "all_scopes", "any_scope", "roles"];

/// What "name the requirement" looks like, for messages.
const EXAMPLE: &str = "`#[azure_mcp_auth(scope = \"Files.ReadWrite\")]`, `all_scopes = [\"…\", \"…\"]`, `any_scope = [\"…\", \"…\"]` or `roles = \"Reports.Admin\"`";

/// The scopes of OpenID Connect: not permissions of this API.
const OPENID_SCOPES: &[&str] = &["openid", "profile", "email", "offline_access"];

/// One tool's requirement.
pub(crate) struct Tool {
    /// The name `tools/call` sends: rmcp's `#[tool(name = "…")]`, else the method's name.
    pub(crate) name: String,
    pub(crate) all_scopes: Vec<Checked>,
    pub(crate) any_scope: Vec<Checked>,
    pub(crate) roles: Vec<Checked>,
}

/// The `impl` block without the tools' attributes, and the tools' requirements.
pub(crate) struct Server {
    pub(crate) item: ItemImpl,
    pub(crate) tools: Vec<Tool>,
}

/// Whether `attr` is `#[azure_mcp_auth…]` (however imported).
fn is_ours(attr: &Attribute) -> bool {
    attr.path().segments.last().is_some_and(|s| s.ident == "azure_mcp_auth")
}

/// Takes every `#[azure_mcp_auth…]` off the block's methods.
pub(crate) fn strip(item: &mut ItemImpl) {
    for method in methods(item) {
        method.attrs.retain(|a| !is_ours(a));
    }
}

fn methods(item: &mut ItemImpl) -> impl Iterator<Item = &mut ImplItemFn> {
    item.items.iter_mut().filter_map(|i| match i {
        ImplItem::Fn(f) => Some(f),
        _ => None,
    })
}

/// Checks the block's arguments (none) and every tool's requirement.
pub(crate) fn validate(args: &TokenStream, mut item: ItemImpl) -> syn::Result<Server> {
    let mut errors = Errors::default();
    if !args.is_empty() {
        errors.at(
            args,
            format_args!(
                "on an `impl` block, `#[azure_mcp_auth]` takes no arguments: give each tool its requirement on its method, as {EXAMPLE}"
            ),
        );
    }
    let mut tools: Vec<Tool> = Vec::new();
    for method in methods(&mut item) {
        let ours: Vec<Attribute> = method.attrs.iter().filter(|a| is_ours(a)).cloned().collect();
        method.attrs.retain(|a| !is_ours(a));
        let Some(attr) = ours.first() else { continue };
        if let Some(again) = ours.get(1) {
            errors.at(
                again,
                "`#[azure_mcp_auth(…)]` is given twice on this tool: give it once, with every scope and role",
            );
        }
        let Some(name) = tool_name(method, attr, &mut errors) else { continue };
        let Some(tool) = requirement(attr, name, &mut errors) else { continue };
        if let Some(first) = tools.iter().find(|t| t.name == tool.name) {
            errors.at(
                attr,
                format_args!(
                    "a second requirement for the tool `{}`: each tool name is listed once; merge them into one `#[azure_mcp_auth(…)]`",
                    first.name
                ),
            );
            continue;
        }
        tools.push(tool);
    }
    if tools.is_empty() && errors.is_empty() {
        errors.at_span(
            Span::call_site(),
            format_args!(
                "no `#[tool]` method of this `impl` block has `#[azure_mcp_auth(…)]`: give the tools that need more than the MCP route their requirement, as {EXAMPLE}, or remove `#[azure_mcp_auth]` from the block"
            ),
        );
    }
    errors.finish()?;
    Ok(Server { item, tools })
}

/// The name rmcp lists the tool under: `#[tool(name = "…")]`, else the method's name (rmcp's own
/// rule). A method without `#[tool]` is a mistake.
fn tool_name(method: &ImplItemFn, attr: &Attribute, errors: &mut Errors) -> Option<String> {
    let Some(tool) =
        method.attrs.iter().find(|a| a.path().segments.last().is_some_and(|s| s.ident == "tool"))
    else {
        errors.at(
            attr,
            format_args!(
                "`{}` is not an rmcp tool: `#[azure_mcp_auth(…)]` inside a tool `impl` block goes on a `#[tool]` method (an axum handler takes `#[azure_mcp_auth(app_id = …, scope = …)]` as a free function)",
                method.sig.ident
            ),
        );
        return None;
    };
    let fallback = method.sig.ident.to_string();
    let Meta::List(list) = &tool.meta else { return Some(fallback) };
    let Ok(items) = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(list.tokens.clone()) else {
        // rmcp reports its own attribute's syntax.
        return Some(fallback);
    };
    for meta in items {
        let Meta::NameValue(nv) = meta else { continue };
        if !nv.path.is_ident("name") {
            continue;
        }
        return match common::peel(&nv.value) {
            Expr::Lit(syn::ExprLit { lit: Lit::Str(s), .. }) => Some(s.value()),
            other => {
                errors.at(
                    other,
                    "the tool's `name` must be a string literal for `#[azure_mcp_auth(…)]` to know which tool it guards",
                );
                None
            }
        };
    }
    Some(fallback)
}

/// The requirement `#[azure_mcp_auth(…)]` gives the tool `name`.
fn requirement(attr: &Attribute, name: String, errors: &mut Errors) -> Option<Tool> {
    let Meta::List(meta) = &attr.meta else {
        errors.at(attr, format_args!("name what the tool `{name}` requires, as {EXAMPLE}"));
        return None;
    };
    let args = match syn::parse2::<Args>(meta.tokens.clone()) {
        Ok(args) => args,
        Err(e) => {
            errors.push(e);
            return None;
        }
    };
    let before = errors.is_empty();
    let mut tool = Tool { name, all_scopes: Vec::new(), any_scope: Vec::new(), roles: Vec::new() };
    let mut seen: Vec<Ident> = Vec::new();
    for Arg { key, value } in args.0 {
        let key_name = key.to_string();
        if let Some(message) = refused_key(&key_name) {
            errors.at(&key, message);
            continue;
        }
        if !KEYS.contains(&key_name.as_str()) {
            errors.push(common::unknown_key("argument", &key, KEYS).0);
            continue;
        }
        if seen.contains(&key) {
            errors.at(&key, format_args!("duplicate argument `{key_name}`: give it once"));
            continue;
        }
        if let Some(other) = seen.iter().find(|k| conflict(k, &key_name)) {
            errors.at(
                &key,
                format_args!(
                    "`{other}` and `{key_name}` both name scopes the caller needs every one of: put them all in `all_scopes = [\"…\", \"…\"]`"
                ),
            );
            continue;
        }
        seen.push(key.clone());
        if let Some(text) = unquoted(&value) {
            errors.at(
                &value,
                format_args!(
                    "write the value as a string: `{key_name} = \"{text}\"` (a scope or role name, in quotes)"
                ),
            );
            continue;
        }
        match key_name.as_str() {
            "scope" => {
                if let Expr::Array(_) = common::peel(&value) {
                    errors.at(
                        &value,
                        "`scope` takes one scope: for several write `all_scopes = [\"…\", \"…\"]` (every one) or `any_scope = [\"…\", \"…\"]` (one of them)",
                    );
                    continue;
                }
                tool.all_scopes.extend(string(&value, "scope", SCOPE_NAME_RULE, errors));
            }
            "all_scopes" => tool.all_scopes.extend(list(
                &key,
                &value,
                SCOPE_NAME_RULE,
                "a scope",
                "Files.ReadWrite",
                errors,
            )),
            "any_scope" => {
                tool.any_scope = list(&key, &value, SCOPE_NAME_RULE, "a scope", "Files.Read", errors)
            }
            "roles" => {
                if empty_role(&value, errors) {
                    continue;
                }
                tool.roles = if let Expr::Array(_) = common::peel(&value) {
                    list(&key, &value, SCOPE_TOKEN_RULE, "an app role", "Reports.Admin", errors)
                } else {
                    string(&value, "roles", SCOPE_TOKEN_RULE, errors).into_iter().collect()
                }
            }
            _ => unreachable!("every key in KEYS is handled"),
        }
    }
    check_literals(&tool, errors);
    if before
        && errors.is_empty()
        && tool.all_scopes.is_empty()
        && tool.any_scope.is_empty()
        && tool.roles.is_empty()
    {
        errors.at(attr, format_args!("name what the tool `{}` requires, as {EXAMPLE}", tool.name));
    }
    (before && errors.is_empty()).then_some(tool)
}

/// Reports an empty role literal (alone or in a list) with what to write instead.
fn empty_role(value: &Expr, errors: &mut Errors) -> bool {
    let elems: Vec<&Expr> = match common::peel(value) {
        Expr::Array(a) => a.elems.iter().collect(),
        other => vec![other],
    };
    let mut found = false;
    for e in elems {
        if let Expr::Lit(syn::ExprLit { lit: Lit::Str(s), .. }) = common::peel(e)
            && s.value().is_empty()
        {
            errors.at(
                s,
                "an app role is empty: give the role's value as the app registration defines it under App roles, such as `roles = \"Reports.Admin\"`",
            );
            found = true;
        }
    }
    found
}

/// The text of a scope or role name written without quotes (`Files.ReadWrite` parses as a field
/// access, `Files` as a path), if `value` is one; an `UPPER_CASE` constant is not.
fn unquoted(value: &Expr) -> Option<String> {
    match common::peel(value) {
        Expr::Field(f) => {
            let base = unquoted(&f.base).or_else(|| match common::peel(&f.base) {
                Expr::Path(p) => p.path.get_ident().map(ToString::to_string),
                _ => None,
            })?;
            let member = match &f.member {
                syn::Member::Named(i) => i.to_string(),
                syn::Member::Unnamed(i) => i.index.to_string(),
            };
            Some(format!("{base}.{member}"))
        }
        Expr::Path(p) if !common::is_const_expr(value) => p
            .path
            .get_ident()
            .map(ToString::to_string)
            .filter(|i| i.chars().next().is_some_and(char::is_uppercase)),
        _ => None,
    }
}

/// Keys of the handler attribute that a tool does not take, and what to write instead.
fn refused_key(key: &str) -> Option<&'static str> {
    Some(match key {
        "scopes" => {
            "on a tool, `scopes` does not say whether every scope is needed or one of them: write `all_scopes = [\"…\", \"…\"]` (every one) or `any_scope = [\"…\", \"…\"]` (one of them)"
        }
        "role" => "write `roles = \"…\"` (one app role) or `roles = [\"…\", \"…\"]` (any one of them)",
        "app_id" => {
            "a tool's requirement is checked against the server's configuration, whose app id it uses: remove `app_id` here"
        }
        "tenants" => {
            "tenants are the configuration's (`allowed_tenant_ids`) for every tool: remove `tenants` here, or protect a separate route"
        }
        _ => return None,
    })
}

/// Whether keys `a` and `b` say the same thing two ways (`scope` and `all_scopes`).
fn conflict(a: &Ident, b: &str) -> bool {
    matches!((a.to_string().as_str(), b), ("scope", "all_scopes") | ("all_scopes", "scope"))
}

/// The checks the rules do not make: no OpenID scope, no empty role, no scope both needed and one
/// of several.
fn check_literals(tool: &Tool, errors: &mut Errors) {
    let literal = |c: &Checked| match &c.value {
        StrValue::Literal(lit) => Some(lit.clone()),
        _ => None,
    };
    for lit in tool.all_scopes.iter().chain(&tool.any_scope).filter_map(literal) {
        if OPENID_SCOPES.contains(&lit.value().as_str()) {
            errors.at(
                &lit,
                "an OpenID scope is not a permission of this API: name a scope the app exposes (Expose an API), such as \"Files.Read\"",
            );
        }
    }
    for lit in tool.any_scope.iter().filter_map(literal) {
        let both = tool.all_scopes.iter().filter_map(literal).any(|a| a.value() == lit.value());
        if both {
            errors.at(
                &lit,
                format_args!(
                    "\"{}\" is both needed (`scope`/`all_scopes`) and one of `any_scope`: keep it in one of them",
                    lit.value()
                ),
            );
        }
    }
}
