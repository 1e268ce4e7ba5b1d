use axum_mcp_azure_oauth::azure_mcp_auth;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};

struct Server {
    tool_router: ToolRouter<Self>,
}

// A tool is checked against the server configuration: no app id or tenants of its own.
#[azure_mcp_auth]
#[tool_router]
impl Server {
    #[azure_mcp_auth(app_id = "11111111-2222-3333-4444-555555555555", scope = "Files.Read")]
    #[tool(description = "App id")]
    async fn with_app_id(&self) -> CallToolResult {
        CallToolResult::success(vec![])
    }

    #[azure_mcp_auth(scope = "Files.Read", tenants = ["aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"])]
    #[tool(description = "Tenants")]
    async fn with_tenants(&self) -> CallToolResult {
        CallToolResult::success(vec![])
    }

    #[azure_mcp_auth]
    #[tool(description = "Nothing named")]
    async fn bare(&self) -> CallToolResult {
        CallToolResult::success(vec![])
    }
}

fn main() {
    let _ = Server { tool_router: Server::tool_router() };
}
