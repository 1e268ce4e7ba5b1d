use axum_mcp_azure_oauth::azure_mcp_auth;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};

struct Server {
    tool_router: ToolRouter<Self>,
}

// An app role is its value in the app registration, never empty.
#[azure_mcp_auth]
#[tool_router]
impl Server {
    #[azure_mcp_auth(roles = "")]
    #[tool(description = "Empty")]
    async fn empty(&self) -> CallToolResult {
        CallToolResult::success(vec![])
    }

    #[azure_mcp_auth(roles = ["Reports.Admin", ""])]
    #[tool(description = "One empty")]
    async fn one_empty(&self) -> CallToolResult {
        CallToolResult::success(vec![])
    }

    #[azure_mcp_auth(roles = [])]
    #[tool(description = "No role")]
    async fn none(&self) -> CallToolResult {
        CallToolResult::success(vec![])
    }
}

fn main() {
    let _ = Server { tool_router: Server::tool_router() };
}
