//! `#[azure_mcp_auth(…)]`: parse the arguments and the handler ([`parse`]), check both ([`valid`]),
//! expand ([`expand`]).

mod expand;
pub(crate) mod parse;
mod valid;

use proc_macro2::TokenStream;

/// The attribute's arguments and the item it is on.
pub(crate) type Input = (TokenStream, TokenStream);

/// The handler with its auth extractor, or every mistake in the arguments and the handler.
pub(crate) fn try_expand((args, item): &Input) -> syn::Result<TokenStream> {
    let function = parse::handler(item)?;
    if is_tool_method(&function) {
        return Err(syn::Error::new_spanned(
            &function.sig.ident,
            "this is an rmcp tool method: put `#[azure_mcp_auth]` (no arguments) on its `impl` block too, which collects each tool's `#[azure_mcp_auth(scope = \"…\")]` into `Self::tool_policy()` for the configuration's `tool_policy`",
        ));
    }
    let args = syn::parse2::<parse::Args>(args.clone());
    let handler = valid::validate(args, function)?;
    Ok(expand::expand(handler))
}

/// Whether `function` is a method with `self` marked rmcp `#[tool]`: it belongs to a tool block.
fn is_tool_method(function: &syn::ItemFn) -> bool {
    function.sig.receiver().is_some()
        && function.attrs.iter().any(|a| a.path().segments.last().is_some_and(|s| s.ident == "tool"))
}

/// After a mistake: the item unchanged plus every error.
pub(crate) fn fallback((_, item): Input, errors: syn::Error) -> TokenStream {
    expand::fallback(item, errors)
}
