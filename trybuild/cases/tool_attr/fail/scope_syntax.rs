use axum_mcp_azure_oauth::azure_mcp_auth;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};

struct Server {
    tool_router: ToolRouter<Self>,
}

// Scope names are strings, bare (not api://…) and never OpenID scopes; `scope` is one scope.
#[azure_mcp_auth]
#[tool_router]
impl Server {
    #[azure_mcp_auth(scope = Files.ReadWrite)]
    #[tool(description = "Unquoted")]
    async fn unquoted(&self) -> CallToolResult {
        CallToolResult::success(vec![])
    }

    #[azure_mcp_auth(scope = "api://11111111-2222-3333-4444-555555555555/Files.Read")]
    #[tool(description = "Qualified")]
    async fn qualified(&self) -> CallToolResult {
        CallToolResult::success(vec![])
    }

    #[azure_mcp_auth(scope = ["Files.Read", "Files.ReadWrite"])]
    #[tool(description = "A list")]
    async fn listed(&self) -> CallToolResult {
        CallToolResult::success(vec![])
    }

    #[azure_mcp_auth(any_scope = ["offline_access", "Files.Read"])]
    #[tool(description = "OpenID")]
    async fn openid(&self) -> CallToolResult {
        CallToolResult::success(vec![])
    }
}

fn main() {
    let _ = Server { tool_router: Server::tool_router() };
}
