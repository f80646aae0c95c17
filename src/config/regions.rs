//! AWS region codes, checked offline: a mistyped region would otherwise be found only when
//! the first request fails to resolve, or worse, would deploy into a region nobody watches.
//!
//! The list is the regions of the AWS SDK's partition data in this build (the
//! `endpoint_lib` partitions of aws-sdk-cloudformation), so a facturactl release knows the
//! regions its SDK can reach. A region launched later needs a newer facturactl.

/// (code, name) of every region the SDK's partitions list.
const REGIONS: &[(&str, &str)] = &[
    ("af-south-1", "Africa (Cape Town)"),
    ("ap-east-1", "Asia Pacific (Hong Kong)"),
    ("ap-east-2", "Asia Pacific (Taipei)"),
    ("ap-northeast-1", "Asia Pacific (Tokyo)"),
    ("ap-northeast-2", "Asia Pacific (Seoul)"),
    ("ap-northeast-3", "Asia Pacific (Osaka)"),
    ("ap-south-1", "Asia Pacific (Mumbai)"),
    ("ap-south-2", "Asia Pacific (Hyderabad)"),
    ("ap-southeast-1", "Asia Pacific (Singapore)"),
    ("ap-southeast-2", "Asia Pacific (Sydney)"),
    ("ap-southeast-3", "Asia Pacific (Jakarta)"),
    ("ap-southeast-4", "Asia Pacific (Melbourne)"),
    ("ap-southeast-5", "Asia Pacific (Malaysia)"),
    ("ap-southeast-6", "Asia Pacific (New Zealand)"),
    ("ap-southeast-7", "Asia Pacific (Thailand)"),
    ("ca-central-1", "Canada (Central)"),
    ("ca-west-1", "Canada West (Calgary)"),
    ("eu-central-1", "Europe (Frankfurt)"),
    ("eu-central-2", "Europe (Zurich)"),
    ("eu-north-1", "Europe (Stockholm)"),
    ("eu-south-1", "Europe (Milan)"),
    ("eu-south-2", "Europe (Spain)"),
    ("eu-west-1", "Europe (Ireland)"),
    ("eu-west-2", "Europe (London)"),
    ("eu-west-3", "Europe (Paris)"),
    ("il-central-1", "Israel (Tel Aviv)"),
    ("me-central-1", "Middle East (UAE)"),
    ("me-south-1", "Middle East (Bahrain)"),
    ("mx-central-1", "Mexico (Central)"),
    ("sa-east-1", "South America (Sao Paulo)"),
    ("us-east-1", "US East (N. Virginia)"),
    ("us-east-2", "US East (Ohio)"),
    ("us-west-1", "US West (N. California)"),
    ("us-west-2", "US West (Oregon)"),
    ("cn-north-1", "China (Beijing)"),
    ("cn-northwest-1", "China (Ningxia)"),
    ("eusc-de-east-1", "AWS European Sovereign Cloud (Germany)"),
    ("us-gov-east-1", "AWS GovCloud (US-East)"),
    ("us-gov-west-1", "AWS GovCloud (US-West)"),
    ("us-iso-east-1", "US ISO East"),
    ("us-iso-west-1", "US ISO West"),
    ("us-isob-east-1", "US ISOB East (Ohio)"),
    ("us-isob-west-1", "US ISOB West"),
    ("eu-isoe-west-1", "EU ISOE West"),
    ("us-isof-east-1", "US ISOF East"),
    ("us-isof-south-1", "US ISOF South"),
];

/// Why a region text is not a region, and what it probably meant.
#[derive(Debug, PartialEq, Eq)]
pub enum UnknownRegion {
    /// A region's display name (`Europe (Ireland)`, `Ireland`) instead of its code.
    DisplayName {
        code: &'static str,
    },
    /// Close to a known code: a typo.
    Typo {
        code: &'static str,
        name: &'static str,
    },
    Unknown,
}

/// Checks a region code against the known regions.
pub fn check(region: &str) -> Result<(), UnknownRegion> {
    if REGIONS.iter().any(|(code, _)| *code == region) {
        return Ok(());
    }
    let wanted = region.trim().to_lowercase();
    if let Some((code, _)) = REGIONS.iter().find(|(_, name)| {
        let name = name.to_lowercase();
        !wanted.is_empty() && (name == wanted || name.contains(&format!("({wanted})")))
    }) {
        return Err(UnknownRegion::DisplayName { code });
    }
    let closest = REGIONS
        .iter()
        .map(|(code, name)| (edit_distance(&wanted, code), *code, *name))
        .min_by_key(|(d, ..)| *d);
    match closest {
        Some((d, code, name)) if d <= 2 => Err(UnknownRegion::Typo { code, name }),
        _ => Err(UnknownRegion::Unknown),
    }
}

/// Levenshtein distance, for "did you mean" (short strings only).
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_pass_and_mistakes_get_a_suggestion() {
        assert_eq!(check("eu-west-1"), Ok(()));
        assert_eq!(check("us-gov-west-1"), Ok(()));
        assert_eq!(
            check("eu-wset-1"),
            Err(UnknownRegion::Typo {
                code: "eu-west-1",
                name: "Europe (Ireland)"
            })
        );
        assert_eq!(
            check("Ireland"),
            Err(UnknownRegion::DisplayName { code: "eu-west-1" })
        );
        assert_eq!(
            check("Europe (Frankfurt)"),
            Err(UnknownRegion::DisplayName {
                code: "eu-central-1"
            })
        );
        assert_eq!(check("moon-base-1"), Err(UnknownRegion::Unknown));
        assert_eq!(check(""), Err(UnknownRegion::Unknown));
    }

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("eu-west-1", "eu-west-1"), 0);
        assert_eq!(edit_distance("eu-west-9", "eu-west-1"), 1);
        assert_eq!(edit_distance("euwest-1", "eu-west-1"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
