//! The router: the `const` checks, then one call of `__private::azure_oauth_routes` with the
//! configuration builder (read from `env`'s lookup first, when given), one builder call per key.

use proc_macro2::TokenStream;
use quote::quote;

use super::valid::Config;
use crate::common;

pub(crate) fn expand(config: &Config) -> TokenStream {
    let checks = config.settings.iter().map(|s| {
        let values: Vec<(&syn::Expr, crate::keys::Rule)> =
            s.const_checks.iter().map(|(e, r)| (e, *r)).collect();
        common::const_checks(&s.key.to_string(), &values)
    });
    let calls = config.settings.iter().map(|s| {
        let key = &s.key;
        let arg = &s.arg;
        quote!(.#key(#arg))
    });
    let builder = quote!(::axum_mcp_azure_oauth::__private::AzureOAuthConfig::builder());
    let builder = match &config.env {
        Some(lookup) => quote!(::axum_mcp_azure_oauth::__private::env(#builder, #lookup)),
        None => builder,
    };
    quote! {
        {
            #(#checks)*
            ::axum_mcp_azure_oauth::__private::azure_oauth_routes(#builder #(#calls)*)
        }
    }
}

/// What is emitted after a mistake: the errors and a router of the right type, so that the code
/// around the macro still type-checks and only the real mistakes are reported.
pub(crate) fn fallback(error: syn::Error) -> TokenStream {
    let error = error.into_compile_error();
    quote! {
        {
            #error
            ::axum_mcp_azure_oauth::__private::Router::new()
        }
    }
}
