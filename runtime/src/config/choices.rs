//! The settings that are one of a few choices: [`TenantPolicy`], [`Mode`], [`HttpsPlatform`].

use std::str::FromStr;

use super::keys::{MODE_CHOICE, PLATFORM_CHOICE};
use super::rules::{self, RuleError};

/// Which tenants' tokens are accepted.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum TenantPolicy {
    /// Only the home tenant (`AZURE_TENANT_ID`). The default.
    #[default]
    Home,
    /// These tenants (lower-case GUIDs).
    List(Vec<String>),
    /// Any Entra tenant (`AZURE_ALLOWED_TENANT_IDS=*`): a multi-tenant app.
    Any,
}

impl TenantPolicy {
    /// Parses `*` or comma-separated GUIDs, by [`rules::tenant_list`].
    ///
    /// ```
    /// use axum_mcp_azure_oauth::config::TenantPolicy;
    ///
    /// assert_eq!(TenantPolicy::parse("*"), Ok(TenantPolicy::Any));
    /// assert!(TenantPolicy::parse("not-a-guid").is_err());
    /// ```
    pub fn parse(list: &str) -> Result<Self, RuleError> {
        rules::tenant_list(list)?;
        if list.trim() == "*" {
            return Ok(Self::Any);
        }
        let mut tenants: Vec<String> = list.split(',').map(|t| t.trim().to_ascii_lowercase()).collect();
        tenants.dedup();
        Ok(Self::List(tenants))
    }
}

/// How MCP clients are pointed at Entra ID: what `/authorize` and `/token` do.
///
/// | | [`Broker`](Self::Broker) (default) | [`Enrol`](Self::Enrol) | [`Direct`](Self::Direct) |
/// | --- | --- | --- | --- |
/// | Entra redirects to | this server's callback | the client's redirect URI | the client's redirect URI |
/// | a new client needs | nothing | its redirect URI allowed and written to the app registration | its redirect URI on the app registration, by hand |
/// | Graph permission | none (optional: registers the callback once) | `Application.ReadWrite.OwnedBy` | none |
/// | consent page | yes | yes | no (Entra's only) |
/// | Client ID Metadata Documents, RFC 9207 `iss` | yes | no | no |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    /// This server is the authorization server clients see and brokers every sign-in: one redirect
    /// URI of its own (`{base_url}/oauth/callback`, `web` platform) is on the app registration;
    /// after its consent page it sends the user to Entra, takes Entra's code at its callback and
    /// sends the client back to the client's own redirect URI with a sealed code of its own (and
    /// `iss`, RFC 9207). Any client registers (RFC 7591, no Graph write) or presents a Client ID
    /// Metadata Document; clients get Entra's own tokens. Nothing is stored: everything in flight is
    /// sealed. Needs the client secret. The default.
    #[default]
    Broker,
    /// This server is the authorization server clients see, and Entra redirects straight to each
    /// client: registration writes the client's redirect URI to the app registration through
    /// Microsoft Graph (operator allow-list, `Application.ReadWrite.OwnedBy`), `/authorize` shows
    /// the consent page and forwards to Entra, `/token` forwards the redemption (adding the secret
    /// for `web` redirect URIs). What fastapi-mcp-azure-oauth does; formerly called `bridge`.
    Enrol,
    /// The metadata points clients straight at Entra: for clients with their own Microsoft sign-in
    /// and a redirect URI on the app registration, such as VS Code.
    Direct,
}

impl Mode {
    /// Whether this server serves `/authorize` and `/token` (and so its consent page).
    pub fn is_authorization_server(self) -> bool {
        matches!(self, Self::Broker | Self::Enrol)
    }

    /// The word `AZURE_OAUTH_MODE` takes for it: `broker`, `enrol` or `direct`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Broker => "broker",
            Self::Enrol => "enrol",
            Self::Direct => "direct",
        }
    }
}

impl FromStr for Mode {
    type Err = &'static str;

    /// `broker`, `enrol` or `direct`, any case; the error lists the choices.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match MODE_CHOICE.variant(s) {
            Some("Broker") => Ok(Self::Broker),
            Some("Enrol") => Ok(Self::Enrol),
            Some("Direct") => Ok(Self::Direct),
            _ => Err(MODE_CHOICE.expected),
        }
    }
}

/// The app registration platform that `https` redirect URIs are enrolled on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HttpsPlatform {
    /// `web`: a confidential redirect; the bridge adds the client secret when the code is redeemed.
    /// The default.
    #[default]
    Web,
    /// `spa`: the code is redeemed by the browser with an `Origin` header and no secret.
    Spa,
}

impl FromStr for HttpsPlatform {
    type Err = &'static str;

    /// `web` or `spa`, any case; the error lists the choices.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match PLATFORM_CHOICE.variant(s) {
            Some("Web") => Ok(Self::Web),
            Some("Spa") => Ok(Self::Spa),
            _ => Err(PLATFORM_CHOICE.expected),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_of_the_key_table_parses_to_its_variant() {
        for (word, variant) in MODE_CHOICE.choices {
            assert_eq!(format!("{:?}", word.parse::<Mode>().expect(word)), *variant);
        }
        for (word, variant) in PLATFORM_CHOICE.choices {
            assert_eq!(
                format!("{:?}", word.to_ascii_uppercase().parse::<HttpsPlatform>().expect(word)),
                *variant
            );
        }
        assert_eq!("bridges".parse::<Mode>(), Err(MODE_CHOICE.expected));
        assert!(MODE_CHOICE.expected.contains("formerly `bridge`"), "the old name points to the new one");
    }
}
