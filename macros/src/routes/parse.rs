//! `azure_oauth_routes! { key: value, … }`: the syntax only (the keys and values are checked in
//! [`super::valid`]).

use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, Token};

/// `key: value`.
pub(crate) struct Field {
    pub(crate) key: Ident,
    pub(crate) value: Expr,
}

impl Parse for Field {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let key: Ident = input.call(syn::ext::IdentExt::parse_any)?;
        if input.peek(Token![=]) {
            return Err(input.error(format!("expected `:` after `{key}`, as in `{key}: \"…\"`")));
        }
        input.parse::<Token![:]>().map_err(|e| {
            syn::Error::new(e.span(), format!("expected `:` after `{key}`, as in `{key}: \"…\"`"))
        })?;
        let value = input.parse()?;
        Ok(Self { key, value })
    }
}

/// The whole invocation: comma-separated fields, an optional trailing comma.
pub(crate) struct Input(pub(crate) Punctuated<Field, Token![,]>);

impl Parse for Input {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        Punctuated::parse_terminated(input).map(Self)
    }
}
