//! Release tags as semantic versions (`v1.4.2`, `1.5.0-rc.1`): a deploy or promotion of a
//! version older than what the target runs is a downgrade, refused unless asked for.

/// `Some(true)` when `requested` is an older version than `running`; `None` when either is
/// not a semantic version (such tags are not compared).
pub fn is_downgrade(running: &str, requested: &str) -> Option<bool> {
    Some(parse(requested)? < parse(running)?)
}

fn parse(tag: &str) -> Option<semver::Version> {
    semver::Version::parse(tag.strip_prefix('v').unwrap_or(tag)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_compare_as_semantic_versions() {
        assert_eq!(is_downgrade("v1.4.2", "v1.4.1"), Some(true));
        assert_eq!(
            is_downgrade("v1.4.2", "v1.10.0"),
            Some(false),
            "10 > 4, not as text"
        );
        assert_eq!(is_downgrade("v1.4.2", "v1.4.2"), Some(false));
        // A release candidate comes before its release.
        assert_eq!(is_downgrade("v2.0.0", "v2.0.0-rc.1"), Some(true));
        assert_eq!(is_downgrade("v2.0.0-rc.1", "v2.0.0"), Some(false));
        assert_eq!(is_downgrade("release-7", "v1.0.0"), None);
    }
}
