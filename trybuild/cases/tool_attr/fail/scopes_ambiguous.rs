use axum_mcp_azure_oauth::azure_mcp_auth;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};

struct Server {
    tool_router: ToolRouter<Self>,
}

// On a tool, `scopes` would not say whether every scope is needed or one of them.
#[azure_mcp_auth]
#[tool_router]
impl Server {
    #[azure_mcp_auth(scopes = ["Files.Read", "Files.ReadWrite"])]
    #[tool(description = "Reads or writes")]
    async fn edit(&self) -> CallToolResult {
        CallToolResult::success(vec![])
    }
}

fn main() {
    let _ = Server { tool_router: Server::tool_router() };
}
