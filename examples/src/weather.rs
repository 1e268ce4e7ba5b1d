//! US weather from the National Weather Service API (`api.weather.gov`, no key needed), as the
//! Python original's demo does, plus the NWS heat index, which needs no network.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Deserialize;

/// The public National Weather Service API.
pub const DEFAULT_NWS_API_BASE: &str = "https://api.weather.gov";

/// How many forecast periods a forecast lists (12-hour periods: two and a half days).
const FORECAST_PERIODS: usize = 5;

/// Why a weather look-up failed. Each message says what to do next; tools return it as a tool
/// error (`isError: true`) so the model can tell the user.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WeatherError {
    /// The API could not be reached at all (no network, DNS, TLS, time-out).
    #[error(
        "the National Weather Service API at {base} could not be reached ({reason}); this tool needs outbound HTTPS access to it — try again later, or use a tool that works offline such as heat_index"
    )]
    Unreachable {
        /// The API base URL.
        base: String,
        /// What failed, without any URL query.
        reason: String,
    },
    /// The API has no data for the point (outside the US and its territories).
    #[error(
        "the National Weather Service has no forecast for ({latitude}, {longitude}): it covers only the United States and its territories; try a US location such as 38.8894, -77.0352"
    )]
    NotCovered {
        /// Latitude asked for.
        latitude: f64,
        /// Longitude asked for.
        longitude: f64,
    },
    /// The API answered with an error status.
    #[error("the National Weather Service API answered {status} for {what}; try again in a minute")]
    Status {
        /// The HTTP status.
        status: u16,
        /// What was asked for.
        what: String,
    },
    /// The API answered with a document this client does not understand.
    #[error(
        "the National Weather Service API sent an unexpected {what} document ({reason}); try again later"
    )]
    Malformed {
        /// Which document.
        what: &'static str,
        /// The parse error.
        reason: String,
    },
    /// The arguments are out of range.
    #[error("{0}")]
    InvalidInput(String),
}

/// A client of the National Weather Service API.
///
/// ```
/// let nws = examples::weather::NwsClient::new(examples::weather::DEFAULT_NWS_API_BASE);
/// assert_eq!(nws.base(), "https://api.weather.gov");
/// ```
#[derive(Debug, Clone)]
pub struct NwsClient {
    http: reqwest::Client,
    base: String,
}

#[derive(Deserialize)]
struct Points {
    properties: PointsProperties,
}

#[derive(Deserialize)]
struct PointsProperties {
    forecast: Option<String>,
}

#[derive(Deserialize)]
struct Forecast {
    properties: ForecastProperties,
}

#[derive(Deserialize)]
struct ForecastProperties {
    periods: Vec<Period>,
}

#[derive(Deserialize)]
struct Period {
    name: String,
    #[serde(rename = "detailedForecast")]
    detailed_forecast: String,
}

#[derive(Deserialize)]
struct Alerts {
    features: Vec<Alert>,
}

#[derive(Deserialize)]
struct Alert {
    properties: AlertProperties,
}

#[derive(Deserialize)]
struct AlertProperties {
    headline: Option<String>,
    severity: Option<String>,
    description: Option<String>,
}

impl NwsClient {
    /// A client of the API at `base` (such as [`DEFAULT_NWS_API_BASE`]); requests time out after
    /// 10 seconds and send the `User-Agent` the NWS asks for.
    pub fn new(base: impl Into<String>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("axum-mcp-azure-oauth-weather-example/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Self { http, base: base.into().trim_end_matches('/').to_owned() }
    }

    /// The API base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    async fn get_json<T: for<'de> Deserialize<'de>>(
        &self,
        url: &str,
        what: &'static str,
        not_found: impl FnOnce() -> WeatherError,
    ) -> Result<T, WeatherError> {
        let response =
            self.http
                .get(url)
                .header(http::header::ACCEPT, "application/geo+json")
                .send()
                .await
                .map_err(|e| WeatherError::Unreachable { base: self.base.clone(), reason: describe(&e) })?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(not_found());
        }
        if !status.is_success() {
            return Err(WeatherError::Status { status: status.as_u16(), what: what.to_owned() });
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| WeatherError::Unreachable { base: self.base.clone(), reason: describe(&e) })?;
        serde_json::from_slice(&body).map_err(|e| WeatherError::Malformed { what, reason: e.to_string() })
    }

    /// A multi-period forecast for a US latitude/longitude.
    pub async fn forecast(&self, latitude: f64, longitude: f64) -> Result<String, WeatherError> {
        if !(-90.0..=90.0).contains(&latitude) {
            return Err(WeatherError::InvalidInput(format!(
                "latitude {latitude} is out of range: give a number from -90 to 90"
            )));
        }
        if !(-180.0..=180.0).contains(&longitude) {
            return Err(WeatherError::InvalidInput(format!(
                "longitude {longitude} is out of range: give a number from -180 to 180"
            )));
        }
        // The NWS redirects requests with more than four decimals; round as it asks.
        let url = format!("{}/points/{latitude:.4},{longitude:.4}", self.base);
        let points: Points =
            self.get_json(&url, "points", || WeatherError::NotCovered { latitude, longitude }).await?;
        let forecast_url =
            points.properties.forecast.ok_or(WeatherError::NotCovered { latitude, longitude })?;
        let forecast: Forecast = self
            .get_json(&forecast_url, "forecast", || WeatherError::NotCovered { latitude, longitude })
            .await?;
        let mut out = format!("Forecast for ({latitude}, {longitude}):");
        for period in forecast.properties.periods.iter().take(FORECAST_PERIODS) {
            let _ = write!(out, "\n\n{}: {}", period.name, period.detailed_forecast);
        }
        Ok(out)
    }

    /// Active weather alerts for a two-letter US state or territory code.
    pub async fn alerts(&self, state: &str) -> Result<String, WeatherError> {
        let state = state.trim().to_ascii_uppercase();
        if state.len() != 2 || !state.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(WeatherError::InvalidInput(format!(
                "{state:?} is not a two-letter US state code: give one such as CA, TX or NY"
            )));
        }
        let url = format!("{}/alerts/active?area={state}", self.base);
        let alerts: Alerts = self
            .get_json(&url, "alerts", || {
                WeatherError::InvalidInput(format!(
                    "the National Weather Service does not know the area {state}"
                ))
            })
            .await?;
        if alerts.features.is_empty() {
            return Ok(format!("No active weather alerts for {state}."));
        }
        let mut out = format!("Active weather alerts for {state}:");
        for alert in alerts.features {
            let p = alert.properties;
            if let Some(headline) = p.headline.filter(|h| !h.is_empty()) {
                let severity = p.severity.as_deref().unwrap_or("Unknown");
                let _ = write!(out, "\n• {headline} (severity: {severity})");
            }
            if let Some(description) = p.description.filter(|d| !d.is_empty()) {
                let _ = write!(out, "\n  {}", description.replace('\n', " "));
            }
        }
        Ok(out)
    }
}

/// The error's chain without the URL (which carries no secret here, but keeps messages short).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() { kind.to_owned() } else { format!("{kind}: {detail}") }
}

/// The heat index (°F) for an air temperature (°F) and relative humidity (%), by the National
/// Weather Service's method: Steadman's simple formula, and the Rothfusz regression with its two
/// adjustments when that gives 80 °F or more.
///
/// ```
/// use examples::weather::heat_index_f;
///
/// assert_eq!(heat_index_f(90.0, 60.0).round(), 100.0);
/// assert_eq!(heat_index_f(70.0, 50.0).round(), 69.0);
/// ```
pub fn heat_index_f(t: f64, rh: f64) -> f64 {
    let simple = 0.5 * (t + 61.0 + (t - 68.0) * 1.2 + rh * 0.094);
    if (simple + t) / 2.0 < 80.0 {
        return simple;
    }
    let mut hi = -42.379 + 2.049_015_23 * t + 10.143_331_27 * rh
        - 0.224_755_41 * t * rh
        - 0.006_837_83 * t * t
        - 0.054_817_17 * rh * rh
        + 0.001_228_74 * t * t * rh
        + 0.000_852_82 * t * rh * rh
        - 0.000_001_99 * t * t * rh * rh;
    if rh < 13.0 && (80.0..=112.0).contains(&t) {
        hi -= ((13.0 - rh) / 4.0) * ((17.0 - (t - 95.0).abs()) / 17.0).sqrt();
    } else if rh > 85.0 && (80.0..=87.0).contains(&t) {
        hi += ((rh - 85.0) / 10.0) * ((87.0 - t) / 5.0);
    }
    hi
}

/// The NWS category of a heat index (°F).
pub fn heat_index_category(hi: f64) -> &'static str {
    match hi {
        h if h >= 125.0 => "extreme danger",
        h if h >= 103.0 => "danger",
        h if h >= 90.0 => "extreme caution",
        h if h >= 80.0 => "caution",
        _ => "no heat risk",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values from the NWS heat index chart.
    #[test]
    fn heat_index_matches_the_nws_chart() {
        for (t, rh, chart) in
            [(90.0, 60.0, 100.0), (100.0, 40.0, 109.0), (86.0, 90.0, 105.0), (80.0, 40.0, 80.0)]
        {
            assert_eq!(heat_index_f(t, rh).round(), chart, "T={t} RH={rh}");
        }
        assert_eq!(heat_index_category(heat_index_f(100.0, 40.0)), "danger");
        assert_eq!(heat_index_category(heat_index_f(70.0, 40.0)), "no heat risk");
    }

    #[tokio::test]
    async fn unreachable_api_is_a_clear_error() {
        // Port 9 on loopback (discard): nothing listens there in tests, so the connection is refused.
        let nws = NwsClient::new("http://127.0.0.1:9");
        let e = nws.forecast(38.8894, -77.0352).await.expect_err("nothing listens on port 9");
        assert!(matches!(e, WeatherError::Unreachable { .. }), "{e:?}");
        assert!(e.to_string().contains("could not be reached"), "{e}");
        let e = nws.alerts("California").await.expect_err("not a state code");
        assert!(matches!(e, WeatherError::InvalidInput(_)), "{e:?}");
        let e = nws.forecast(91.0, 0.0).await.expect_err("latitude out of range");
        assert!(matches!(e, WeatherError::InvalidInput(_)), "{e:?}");
    }
}
