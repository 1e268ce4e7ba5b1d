//! `#[azure_mcp_auth(…)]`: parse the arguments ([`parse`]), check the handler and expand ([`expand`]).

mod expand;
mod parse;

use proc_macro2::TokenStream;
use quote::quote;

/// The attribute's expansion; on any mistake, the handler unchanged plus every error, so that the
/// rest of the crate still type-checks and only the real mistakes are reported.
pub(crate) fn azure_mcp_auth(args: TokenStream, item: TokenStream) -> TokenStream {
    let function = match syn::parse2::<syn::ItemFn>(item.clone()) {
        Ok(f) => f,
        Err(_) => {
            let error =
                syn::Error::new_spanned(&item, "`#[azure_mcp_auth]` goes on an `async fn` axum handler")
                    .into_compile_error();
            return quote!(#error #item);
        }
    };
    let spec = syn::parse2::<parse::Args>(args).and_then(parse::Args::validate);
    let claims = expand::check_fn(&function);
    match (spec, claims) {
        (Ok(spec), Ok(claims)) => expand::expand(&spec, function, claims),
        (spec, claims) => {
            let mut errors = crate::common::Errors::default();
            if let Err(e) = spec {
                errors.push(e);
            }
            if let Err(e) = claims {
                errors.push(e);
            }
            let errors = errors.finish().err().map(|e| e.into_compile_error());
            quote!(#errors #function)
        }
    }
}
