//! `azure_oauth_routes! { … }`: parse ([`parse`]), check every key against the key table
//! ([`valid`]), expand ([`expand`]).

mod expand;
mod parse;
mod valid;

use proc_macro2::TokenStream;

/// The router, or every mistake in the keys and values.
pub(crate) fn try_expand(input: &TokenStream) -> syn::Result<TokenStream> {
    let input = syn::parse2::<parse::Input>(input.clone())?;
    let config = valid::validate(input)?;
    Ok(expand::expand(&config))
}

/// After a mistake: a router of the right type plus every error.
pub(crate) fn fallback(_input: TokenStream, errors: syn::Error) -> TokenStream {
    expand::fallback(errors)
}
