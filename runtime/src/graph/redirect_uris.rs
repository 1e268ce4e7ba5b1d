//! The app registration's redirect URIs as Graph holds them ([`AppRedirectUris`]), the platform each
//! is on ([`RedirectPlatform`]), and how Entra matches them (loopback URIs whatever their port:
//! <https://learn.microsoft.com/entra/identity-platform/reply-url#localhost-exceptions>).

use serde_json::Value;

use crate::config::{AzureOAuthConfig, HttpsPlatform};

/// The platform of the app registration a redirect URI is enrolled on; it decides how Entra lets
/// the code be redeemed
/// (<https://learn.microsoft.com/entra/identity-platform/reply-url>).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RedirectPlatform {
    /// `web`: confidential; the token request must carry the client secret.
    Web,
    /// `spa`: redeemed cross-origin with an `Origin` header and no secret.
    Spa,
    /// `publicClient`: loopback and custom-scheme redirects of native apps; no secret allowed.
    PublicClient,
}

impl RedirectPlatform {
    /// The platform a redirect URI is enrolled on: loopback `http` and custom schemes on
    /// `publicClient`, `https` on `web` or `spa` as configured
    /// ([`AzureOAuthConfig::https_redirect_platform`]).
    ///
    /// ```
    /// use axum_mcp_azure_oauth::AzureOAuthConfig;
    /// use axum_mcp_azure_oauth::graph::RedirectPlatform;
    ///
    /// # let secret = "doc-example-secret";
    /// let config = AzureOAuthConfig::builder()
    ///     .app_id("11111111-2222-3333-4444-555555555555")
    ///     .tenant_id("11111111-2222-3333-4444-555555555555")
    ///     .client_secret(secret)
    ///     .base_url("https://mcp.example.com")
    ///     .build()?;
    /// assert_eq!(RedirectPlatform::for_uri(&config, "http://127.0.0.1:33418/"), RedirectPlatform::PublicClient);
    /// assert_eq!(RedirectPlatform::for_uri(&config, "cursor://anysphere.cursor-mcp/oauth/callback"), RedirectPlatform::PublicClient);
    /// assert_eq!(RedirectPlatform::for_uri(&config, "https://vscode.dev/redirect"), RedirectPlatform::Web);
    /// # Ok::<(), axum_mcp_azure_oauth::ConfigError>(())
    /// ```
    pub fn for_uri(config: &AzureOAuthConfig, uri: &str) -> Self {
        if uri.starts_with("https://") {
            match config.https_redirect_platform() {
                HttpsPlatform::Web => Self::Web,
                HttpsPlatform::Spa => Self::Spa,
            }
        } else {
            Self::PublicClient
        }
    }

    /// The property name on Graph's application object: `web`, `spa` or `publicClient`.
    pub fn graph_name(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::Spa => "spa",
            Self::PublicClient => "publicClient",
        }
    }

    const ALL: [Self; 3] = [Self::Web, Self::Spa, Self::PublicClient];
}

/// `http://localhost` or `http://127.0.0.1` redirect URI without its port (an empty path as `/`),
/// the form Entra compares loopback redirect URIs in; `None` for any other URI.
pub(crate) fn loopback_key(uri: &str) -> Option<String> {
    let rest = uri.strip_prefix("http://")?;
    let (host, after) = if let Some(r) = rest.strip_prefix("localhost") {
        ("localhost", r)
    } else if let Some(r) = rest.strip_prefix("127.0.0.1") {
        ("127.0.0.1", r)
    } else {
        return None;
    };
    let after = match after.strip_prefix(':') {
        Some(port) => {
            let digits = port.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 || digits > 5 {
                return None;
            }
            &port[digits..]
        }
        None => after,
    };
    if after.is_empty() || after.starts_with('?') {
        Some(format!("http://{host}/{after}"))
    } else if after.starts_with('/') {
        Some(format!("http://{host}{after}"))
    } else {
        // `http://localhost.evil.example/…` is not a loopback URI.
        None
    }
}

/// How a redirect URI is remembered as enrolled: loopback URIs without their port (Entra matches
/// them whatever the port, so `:1/cb` … `:65535/cb` are one entry), others as given.
pub(super) fn enrolled_key(uri: &str) -> String {
    loopback_key(uri).unwrap_or_else(|| uri.to_owned())
}

/// Whether a request's redirect URI matches an enrolled one as Entra matches them: exactly, or for
/// loopback `http` URIs with the port ignored.
pub(crate) fn redirect_matches(enrolled: &str, candidate: &str) -> bool {
    enrolled == candidate
        || matches!((loopback_key(enrolled), loopback_key(candidate)), (Some(a), Some(b)) if a == b)
}

/// The redirect URIs of the app registration, per platform, as Graph holds them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppRedirectUris {
    /// `web.redirectUris`.
    pub web: Vec<String>,
    /// `spa.redirectUris`.
    pub spa: Vec<String>,
    /// `publicClient.redirectUris`.
    pub public_client: Vec<String>,
}

impl AppRedirectUris {
    /// The URIs enrolled on `platform`.
    pub fn on(&self, platform: RedirectPlatform) -> &[String] {
        match platform {
            RedirectPlatform::Web => &self.web,
            RedirectPlatform::Spa => &self.spa,
            RedirectPlatform::PublicClient => &self.public_client,
        }
    }

    pub(super) fn on_mut(&mut self, platform: RedirectPlatform) -> &mut Vec<String> {
        match platform {
            RedirectPlatform::Web => &mut self.web,
            RedirectPlatform::Spa => &mut self.spa,
            RedirectPlatform::PublicClient => &mut self.public_client,
        }
    }

    /// The platform `uri` is enrolled on, matched as Entra matches (exactly first, then loopback
    /// URIs with the port ignored); `None` when it is not enrolled.
    pub fn platform_of(&self, uri: &str) -> Option<RedirectPlatform> {
        let exact = RedirectPlatform::ALL.into_iter().find(|p| self.on(*p).iter().any(|u| u == uri));
        exact.or_else(|| {
            RedirectPlatform::ALL.into_iter().find(|p| self.on(*p).iter().any(|u| redirect_matches(u, uri)))
        })
    }

    /// Whether `uri` is enrolled on `platform` (loopback URIs matched without their port).
    pub fn contains(&self, platform: RedirectPlatform, uri: &str) -> bool {
        self.on(platform).iter().any(|u| redirect_matches(u, uri))
    }

    /// Every redirect URI of the app registration, over all platforms.
    pub(crate) fn all(&self) -> impl Iterator<Item = &String> {
        self.web.iter().chain(&self.spa).chain(&self.public_client)
    }

    /// How many redirect URIs the app registration holds over all platforms.
    pub fn total(&self) -> usize {
        self.web.len() + self.spa.len() + self.public_client.len()
    }

    /// Reads Graph's application object: its object id and redirect URIs.
    pub(super) fn from_application(app: &Value) -> Option<(String, Self)> {
        let id = app.get("id")?.as_str()?.to_owned();
        let list = |platform: &str| -> Option<Vec<String>> {
            match app.get(platform) {
                None | Some(Value::Null) => Some(Vec::new()),
                Some(p) => match p.get("redirectUris") {
                    None | Some(Value::Null) => Some(Vec::new()),
                    Some(Value::Array(a)) => a.iter().map(|u| u.as_str().map(str::to_owned)).collect(),
                    Some(_) => None,
                },
            }
        };
        Some((id, Self { web: list("web")?, spa: list("spa")?, public_client: list("publicClient")? }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_uris_compare_without_their_port() {
        assert!(redirect_matches("http://127.0.0.1:33418/", "http://127.0.0.1:5555/"));
        assert!(redirect_matches("http://127.0.0.1/", "http://127.0.0.1:5555/"));
        assert!(redirect_matches("http://127.0.0.1:33418", "http://127.0.0.1:5555/"));
        assert!(redirect_matches("http://localhost:6274/oauth/callback", "http://localhost/oauth/callback"));
        assert!(!redirect_matches(
            "http://localhost:6274/oauth/callback",
            "http://127.0.0.1:6274/oauth/callback"
        ));
        assert!(!redirect_matches("http://127.0.0.1:33418/", "http://127.0.0.1:33418/other"));
        assert!(!redirect_matches("http://localhost:1/cb", "http://localhost.evil.example/cb"));
        assert!(!redirect_matches("https://localhost:1/cb", "https://localhost:2/cb"));
        assert!(redirect_matches("https://vscode.dev/redirect", "https://vscode.dev/redirect"));
        assert!(!redirect_matches("https://vscode.dev/redirect", "https://vscode.dev/redirect/"));
        assert_eq!(loopback_key("http://127.0.0.1:abc/"), None);
    }

    #[test]
    fn app_registration_reads_graph_shape_and_finds_platforms() {
        let app = serde_json::json!({
            "id": "obj",
            "web": { "redirectUris": ["https://a.example/cb"] },
            "spa": { "redirectUris": [] },
            "publicClient": { "redirectUris": ["http://127.0.0.1:33418/"] },
        });
        let (id, uris) = AppRedirectUris::from_application(&app).expect("graph shape");
        assert_eq!(id, "obj");
        assert_eq!(uris.platform_of("https://a.example/cb"), Some(RedirectPlatform::Web));
        assert_eq!(uris.platform_of("http://127.0.0.1:1234/"), Some(RedirectPlatform::PublicClient));
        assert_eq!(uris.platform_of("https://b.example/cb"), None);
        assert_eq!(uris.total(), 2);
        let sparse = serde_json::json!({ "id": "obj", "web": null });
        assert_eq!(AppRedirectUris::from_application(&sparse).map(|x| x.1), Some(AppRedirectUris::default()));
        let bad = serde_json::json!({ "id": "obj", "web": { "redirectUris": "x" } });
        assert_eq!(AppRedirectUris::from_application(&bad), None);
    }

    #[test]
    fn enrolment_remembers_loopback_uris_without_their_port() {
        assert_eq!(enrolled_key("http://127.0.0.1:65535/cb"), "http://127.0.0.1/cb");
        assert_eq!(enrolled_key("http://localhost:1"), "http://localhost/");
        assert_eq!(enrolled_key("https://vscode.dev/redirect"), "https://vscode.dev/redirect");
    }
}
