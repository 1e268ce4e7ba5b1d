//! `#[azure_mcp_auth(…)]`: parse the arguments and the handler ([`parse`]), check both ([`valid`]),
//! expand ([`expand`]).

mod expand;
mod parse;
mod valid;

use proc_macro2::TokenStream;

/// The attribute's arguments and the item it is on.
pub(crate) type Input = (TokenStream, TokenStream);

/// The handler with its auth extractor, or every mistake in the arguments and the handler.
pub(crate) fn try_expand((args, item): &Input) -> syn::Result<TokenStream> {
    let function = parse::handler(item)?;
    let args = syn::parse2::<parse::Args>(args.clone());
    let handler = valid::validate(args, function)?;
    Ok(expand::expand(handler))
}

/// After a mistake: the item unchanged plus every error.
pub(crate) fn fallback((_, item): Input, errors: syn::Error) -> TokenStream {
    expand::fallback(item, errors)
}
