//! Endpoint URLs as the config and the command line give them.

/// What is wrong with an endpoint URL, if anything: the SDK would otherwise fail on it
/// at the first call (or, for an empty one, silently use AWS itself).
pub fn endpoint_problem(url: &str) -> Option<&'static str> {
    if url.trim().is_empty() {
        return Some("it is empty");
    }
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return Some("it is not a URL");
    };
    if !matches!(parsed.scheme(), "http" | "https") {
        return Some("its scheme is not http or https");
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Some("it has no host");
    }
    if parsed.path() != "/" || parsed.query().is_some() || parsed.fragment().is_some() {
        return Some("it has a path, query or fragment (an endpoint is scheme, host and port)");
    }
    None
}
