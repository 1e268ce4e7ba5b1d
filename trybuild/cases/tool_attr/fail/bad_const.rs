use axum_mcp_azure_oauth::azure_mcp_auth;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};

struct Server {
    tool_router: ToolRouter<Self>,
}

// A constant is checked by the same rules, in a `const` item the build evaluates.
const QUALIFIED: &str = "api://11111111-2222-3333-4444-555555555555/Files.Read";

#[azure_mcp_auth]
#[tool_router]
impl Server {
    #[azure_mcp_auth(scope = QUALIFIED)]
    #[tool(description = "Reads")]
    async fn read(&self) -> CallToolResult {
        CallToolResult::success(vec![])
    }
}

fn main() {
    let _ = Server { tool_router: Server::tool_router() };
}
