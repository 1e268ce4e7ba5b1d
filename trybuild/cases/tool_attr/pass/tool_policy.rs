//! `#[azure_mcp_auth]` on an rmcp tool `impl` block: every spelling of a requirement, a renamed
//! tool, a constant, either order of the block's attributes; the policy is what the tools declare.

use axum_mcp_azure_oauth::azure_mcp_auth;
use axum_mcp_azure_oauth::config::ToolRequirement;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};

const ADMIN: &str = "Files.Admin";

struct Files {
    tool_router: ToolRouter<Self>,
}

#[azure_mcp_auth]
#[tool_router]
impl Files {
    #[tool(description = "Lists")]
    async fn list(&self) -> CallToolResult {
        CallToolResult::success(vec![])
    }

    #[azure_mcp_auth(scope = "Files.ReadWrite")]
    #[tool(description = "Deletes")]
    async fn delete(&self) -> CallToolResult {
        CallToolResult::success(vec![])
    }

    /// The attribute below `#[tool]` works the same.
    #[tool(name = "export", description = "Exports")]
    #[azure_mcp_auth(all_scopes = ["Files.Read", "Reports.Read"], any_scope = ["Files.Export", "Files.Manage"], roles = [ADMIN, "Files.Exporter"])]
    async fn export_everything(&self) -> CallToolResult {
        CallToolResult::success(vec![])
    }

    #[azure_mcp_auth(roles = ADMIN)]
    #[tool(description = "Purges")]
    async fn purge(&self) -> CallToolResult {
        CallToolResult::success(vec![])
    }
}

struct Reports {
    tool_router: ToolRouter<Self>,
}

// After rmcp's attribute: the block is collected all the same.
#[tool_router]
#[axum_mcp_azure_oauth::azure_mcp_auth]
impl Reports {
    #[axum_mcp_azure_oauth::azure_mcp_auth(any_scope = ["Reports.Read"])]
    #[rmcp::tool(description = "Reads")]
    async fn read(&self) -> CallToolResult {
        CallToolResult::success(vec![])
    }
}

fn main() {
    let _ = Files { tool_router: Files::tool_router() };
    let _ = Reports { tool_router: Reports::tool_router() };
    let files = Files::tool_policy();
    assert_eq!(files.tools().map(|(name, _)| name).collect::<Vec<_>>(), ["delete", "export", "purge"]);
    assert_eq!(files.requirement("delete"), Some(&ToolRequirement::new().all_scopes(["Files.ReadWrite"])));
    assert_eq!(
        files.requirement("export"),
        Some(
            &ToolRequirement::new()
                .all_scopes(["Files.Read", "Reports.Read"])
                .any_scope(["Files.Export", "Files.Manage"])
                .any_role(["Files.Admin", "Files.Exporter"])
        )
    );
    assert_eq!(files.requirement("purge"), Some(&ToolRequirement::new().any_role(["Files.Admin"])));
    assert_eq!(Reports::tool_policy().requirement("read"), Some(&ToolRequirement::new().any_scope(["Reports.Read"])));
}
