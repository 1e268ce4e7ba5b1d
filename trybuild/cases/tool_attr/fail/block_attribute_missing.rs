use axum_mcp_azure_oauth::azure_mcp_auth;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};

struct Server {
    tool_router: ToolRouter<Self>,
}

// Without `#[azure_mcp_auth]` on the block, nothing would collect the tool's requirement.
#[tool_router]
impl Server {
    #[azure_mcp_auth(scope = "Files.Read")]
    #[tool(description = "Reads")]
    async fn read(&self) -> CallToolResult {
        CallToolResult::success(vec![])
    }
}

fn main() {
    let _ = Server { tool_router: Server::tool_router() };
}
