use axum_mcp_azure_oauth::azure_mcp_auth;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};

struct Server {
    tool_router: ToolRouter<Self>,
}

// `scope` and `all_scopes` say the same thing; a scope cannot be both needed and one of several.
#[azure_mcp_auth]
#[tool_router]
impl Server {
    #[azure_mcp_auth(scope = "Files.Read", all_scopes = ["Files.ReadWrite"])]
    #[tool(description = "Twice all-of")]
    async fn twice(&self) -> CallToolResult {
        CallToolResult::success(vec![])
    }

    #[azure_mcp_auth(all_scopes = ["Files.Read"], any_scope = ["Files.Read", "Files.Manage"])]
    #[tool(description = "Both")]
    async fn both(&self) -> CallToolResult {
        CallToolResult::success(vec![])
    }

    #[azure_mcp_auth(role = "Reports.Admin")]
    #[tool(description = "role")]
    async fn singular(&self) -> CallToolResult {
        CallToolResult::success(vec![])
    }
}

fn main() {
    let _ = Server { tool_router: Server::tool_router() };
}
