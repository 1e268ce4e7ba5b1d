//! `azure_oauth_routes! { … }`: parse ([`parse`]), check every key ([`valid`]), expand ([`expand`]).

mod expand;
mod parse;
mod valid;

use proc_macro2::TokenStream;

pub(crate) fn azure_oauth_routes(input: TokenStream) -> TokenStream {
    match syn::parse2::<parse::Input>(input).and_then(parse::Input::validate) {
        Ok(config) => expand::expand(&config),
        Err(error) => expand::fallback(error),
    }
}
