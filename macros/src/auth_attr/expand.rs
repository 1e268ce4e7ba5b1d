//! The handler rewritten: its `AzureClaims` parameter (or a new one) becomes the first parameter, of
//! type `__private::Authorized<__AzureMcpAuth_{fn}>`, where the marker type carries the handler's
//! requirements as associated `const`s.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, Pat, PatType, Type};

use super::parse::{AuthSpec, Checked};
use crate::common::{self, Errors, StrValue};

/// axum implements `Handler` for functions of up to 16 extractors.
const MAX_EXTRACTORS: usize = 16;

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
pub(crate) fn check_fn(item: &ItemFn) -> syn::Result<Option<usize>> {
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

fn expr_of(checked: &Checked) -> TokenStream {
    checked.expr()
}

/// `const` checks for values that are not literals (literals were checked by the macro).
fn const_checks(field: &str, values: &[Checked]) -> TokenStream {
    let values: Vec<(&syn::Expr, crate::common::Rule)> = values
        .iter()
        .filter_map(|c| match &c.value {
            StrValue::Literal(_) => None,
            StrValue::Const(e) | StrValue::Runtime(e) => Some((e, c.rule)),
        })
        .collect();
    common::const_checks(field, &values)
}

/// The handler with its auth extractor, its marker type and the `const` checks.
pub(crate) fn expand(spec: &AuthSpec, mut item: ItemFn, claims: Option<usize>) -> TokenStream {
    let private = quote!(::axum_mcp_azure_oauth::__private);
    let fn_name = item.sig.ident.unraw();
    let marker = format_ident!("__AzureMcpAuth_{}", fn_name, span = item.sig.ident.span());
    let vis = &item.vis;

    // The user's claims pattern (or `_`), and a check that their `AzureClaims` is ours (it also
    // keeps their `use …::AzureClaims` in use).
    let (pat, type_check) = match claims {
        Some(i) => {
            let Some(FnArg::Typed(PatType { pat, ty, .. })) = item.sig.inputs.iter().nth(i) else {
                unreachable!("check_fn returned the index of a typed parameter")
            };
            let pat: Pat = (**pat).clone();
            let ty_span = ty.span();
            let check = quote_spanned! {ty_span=>
                const _: () = #private::is_azure_claims::<#ty>();
            };
            (quote!(#pat), check)
        }
        None => (quote!(_), TokenStream::new()),
    };
    let mut inputs: Vec<FnArg> = item.sig.inputs.iter().cloned().collect();
    if let Some(i) = claims {
        inputs.remove(i);
    }
    let auth_arg: FnArg = syn::parse_quote_spanned! {Span::call_site()=>
        #private::Authorized { claims: #pat, .. }: #private::Authorized<#marker>
    };
    inputs.insert(0, auth_arg);
    item.sig.inputs = inputs.into_iter().collect();

    let app_id = expr_of(&spec.app_id);
    let scopes = spec.scopes.iter().map(expr_of);
    let roles = spec.roles.iter().map(expr_of);
    let tenants = spec.tenants.iter().map(expr_of);
    let handler = fn_name.to_string();
    let checks = [
        const_checks("app_id", std::slice::from_ref(&spec.app_id)),
        const_checks("scopes", &spec.scopes),
        const_checks("roles", &spec.roles),
        const_checks("tenants", &spec.tenants),
    ];
    let doc = format!("What `{handler}` requires (generated by `#[azure_mcp_auth]`).");
    quote! {
        #[doc = #doc]
        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code, missing_debug_implementations, unreachable_pub)]
        #vis struct #marker;

        impl #private::Requirement for #marker {
            const HANDLER: &'static str = ::core::concat!(::core::module_path!(), "::", #handler);
            const APP_ID: &'static str = #app_id;
            const REQUIREMENTS: #private::Requirements =
                #private::Requirements::new(&[#(#scopes),*]).roles(&[#(#roles),*]).tenants(&[#(#tenants),*]);
        }

        #(#checks)*

        #type_check

        #item
    }
}
