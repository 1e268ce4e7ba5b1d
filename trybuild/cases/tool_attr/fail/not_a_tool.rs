use axum_mcp_azure_oauth::azure_mcp_auth;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};

struct Server {
    tool_router: ToolRouter<Self>,
}

// The requirement goes on a #[tool] method; the block itself takes no arguments.
#[azure_mcp_auth(scope = "Files.Read")]
#[tool_router]
impl Server {
    #[azure_mcp_auth(scope = "Files.Read")]
    async fn helper(&self) -> CallToolResult {
        CallToolResult::success(vec![])
    }

    #[azure_mcp_auth(scope = "Files.Read")]
    #[tool(description = "A tool")]
    async fn a_tool(&self) -> CallToolResult {
        CallToolResult::success(vec![])
    }
}

fn main() {
    let _ = Server { tool_router: Server::tool_router() };
}
