use axum_mcp_azure_oauth::azure_mcp_auth;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};

struct Server {
    tool_router: ToolRouter<Self>,
}

// `#[azure_mcp_auth]` on a block whose tools declare nothing is a leftover.
#[azure_mcp_auth]
#[tool_router]
impl Server {
    #[tool(description = "Reads")]
    async fn read(&self) -> CallToolResult {
        CallToolResult::success(vec![])
    }
}

fn main() {
    let _ = Server { tool_router: Server::tool_router() };
}
