//! The `impl` block unchanged but for the tools' attributes, and a second `impl` with
//! `tool_policy()`: one call into the runtime with each tool's name and requirement, plus the
//! `const` checks of values that are not literals.

use proc_macro2::TokenStream;
use quote::quote;

use super::valid::Server;
use crate::common::{checked_const_checks, expr_of};

/// `#item` and `impl Self { pub fn tool_policy() -> ToolPolicy }`.
pub(crate) fn expand(server: Server) -> TokenStream {
    let Server { item, tools } = server;
    let private = quote!(::axum_mcp_azure_oauth::__private);
    let (impl_generics, _, where_clause) = item.generics.split_for_impl();
    let self_ty = &item.self_ty;
    let mut checks = Vec::new();
    let entries = tools.iter().map(|tool| {
        checks.push(checked_const_checks("all_scopes", &tool.all_scopes));
        checks.push(checked_const_checks("any_scope", &tool.any_scope));
        checks.push(checked_const_checks("roles", &tool.roles));
        let name = &tool.name;
        let all = tool.all_scopes.iter().map(expr_of);
        let any = tool.any_scope.iter().map(expr_of);
        let roles = tool.roles.iter().map(expr_of);
        quote!((#name, &[#(#all),*], &[#(#any),*], &[#(#roles),*]))
    });
    let entries: Vec<TokenStream> = entries.collect();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    let doc = format!(
        "What this server's tools require of their caller, as their `#[azure_mcp_auth(…)]` says ({}): \
         give it to `AzureOAuthConfigBuilder::tool_policy`, which advertises its scopes and has \
         `AzureOAuth::mcp_layer()` enforce it.",
        names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
    );
    quote! {
        #item

        impl #impl_generics #self_ty #where_clause {
            #[doc = #doc]
            #[allow(dead_code)]
            pub fn tool_policy() -> ::axum_mcp_azure_oauth::config::ToolPolicy {
                #(#checks)*
                #private::tool_policy(&[#(#entries),*])
            }
        }
    }
}
