//! `#[azure_mcp_auth(app_id = …, scope = "…", roles = […], tenants = […])]` on an `async fn`: the
//! syntax only (the arguments and the handler's shape are checked in [`super::valid`]).

use proc_macro2::TokenStream;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, ItemFn, Token};

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

/// The item the attribute is on: a function (its shape is checked in [`super::valid`]).
pub(crate) fn handler(item: &TokenStream) -> syn::Result<ItemFn> {
    syn::parse2(item.clone())
        .map_err(|_| syn::Error::new_spanned(item, "`#[azure_mcp_auth]` goes on an `async fn` axum handler"))
}
