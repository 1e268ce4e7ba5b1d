//! The value of every setting that has one, when the configuration does not set it.

use std::time::Duration;

/// The public Entra ID authority host.
pub const DEFAULT_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";
/// The public Microsoft Graph endpoint.
pub const DEFAULT_GRAPH_ENDPOINT: &str = "https://graph.microsoft.com";
/// The scope name the app exposes under `api://{app_id}/` unless configured otherwise.
pub const DEFAULT_API_SCOPE: &str = "access_as_user";
/// The path of the protected MCP endpoint unless configured otherwise.
pub const DEFAULT_RESOURCE_PATH: &str = "/mcp";
/// The path of the server's own OAuth callback (`GET /oauth/callback`).
pub const DEFAULT_CALLBACK_PATH: &str = "/oauth/callback";
/// Clock skew tolerated on `exp` and `nbf`: 5 minutes, as Microsoft.Identity.Web.
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::from_secs(300);
/// Tenants whose metadata and keys are cached at once (FIFO eviction beyond).
pub const DEFAULT_KEY_CACHE_TENANTS: usize = 50;
/// Lookups of tenants the key cache does not hold, allowed in a burst (all tenants together). A
/// token naming a new tenant beyond the bucket is refused with 401 `invalid_token` ("try again
/// later") rather than fetched: the token is not known to be valid (so not 503), and every such
/// fetch happens before any signature check, so forged tokens must not be able to trigger them at
/// will.
pub const DEFAULT_NEW_TENANT_BURST: u32 = 20;
/// The new-tenant bucket's refill rate, in lookups per second (see [`DEFAULT_NEW_TENANT_BURST`]).
pub const DEFAULT_NEW_TENANT_REFILL_PER_SEC: u32 = 2;
/// Verified tokens remembered so that repeat requests skip the RSA check (0 turns it off).
pub const DEFAULT_TOKEN_CACHE_CAPACITY: usize = 10_000;
/// On-behalf-of tokens remembered, one per caller and scope set (0 turns the cache off).
pub const DEFAULT_OBO_CACHE_CAPACITY: usize = 10_000;
/// How often signing keys are refreshed in the background (Identity.Web: 12 hours).
pub const DEFAULT_KEY_REFRESH_INTERVAL: Duration = Duration::from_secs(12 * 3600);
/// Timeout of every outgoing HTTP request (metadata, keys, token bridge, Graph).
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one Graph enrolment batch may spend retrying throttled (429) or failing (5xx,
/// timeouts) Graph and token requests, `Retry-After` waits included, before it reports the failure.
pub const DEFAULT_GRAPH_RETRY_BUDGET: Duration = Duration::from_secs(30);
/// How long the consent page's "remember" keeps a browser's approval of one client: 30 days.
pub const DEFAULT_CONSENT_REMEMBER: Duration = Duration::from_secs(30 * 86_400);
/// How long a refresh token the broker hands out stays usable without being used: 14 days. Each
/// refresh hands out a new one for as long again, so a client in use never signs in again, while a
/// copy that leaked (a log, a backup, a laptop) stops working after two weeks instead of lasting as
/// long as Entra's own refresh token (up to 90 days of inactivity).
pub const DEFAULT_REFRESH_LIFETIME: Duration = Duration::from_secs(14 * 86_400);
/// Enrol mode: how many redirect URIs under one `ALLOWED_REDIRECT_URI_PREFIXES` entry `POST
/// /register` may have on the app registration. Registration is unauthenticated, so without a cap
/// anyone could fill the registration under an allowed prefix.
pub const DEFAULT_ENROL_MAX_PER_PREFIX: usize = 50;
/// Enrol mode: how many redirect URIs the app registration may hold before `POST /register` writes
/// no more (Entra holds at most 256; the rest stays for the operator).
pub const DEFAULT_ENROL_MAX_TOTAL: usize = 200;
