//! `#[azure_mcp_auth]` on an rmcp `#[tool_router]` `impl` block: the `#[azure_mcp_auth(…)]` of its
//! `#[tool]` methods, checked ([`valid`]) and collected into `Self::tool_policy()` ([`expand`]).

mod expand;
mod valid;

use proc_macro2::TokenStream;
use syn::ItemImpl;

/// The `impl` block with its tools' requirements collected, or every mistake in them.
pub(crate) fn try_expand(args: &TokenStream, item: ItemImpl) -> syn::Result<TokenStream> {
    let server = valid::validate(args, item)?;
    Ok(expand::expand(server))
}

/// After a mistake: the `impl` block without the tools' `#[azure_mcp_auth(…)]` (so that the rest
/// of the crate, rmcp's expansion included, still compiles) plus every error.
pub(crate) fn fallback(mut item: ItemImpl, errors: syn::Error) -> TokenStream {
    valid::strip(&mut item);
    let errors = errors.into_compile_error();
    quote::quote!(#errors #item)
}
