//! Profiles that assume a role with MFA (`mfa_serial`). The SDK's profile provider asks no
//! one for a code, so facturactl does, on a terminal (as the AWS CLI does), and refuses
//! elsewhere with the reason, before any call.

use aws_sdk_sts::config::Credentials;

use super::AwsError;

/// What a profile with `mfa_serial` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaProfile {
    pub profile: String,
    pub serial: String,
    pub role_arn: Option<String>,
    pub source_profile: Option<String>,
    pub duration_seconds: Option<i32>,
    pub external_id: Option<String>,
}

/// The profile's MFA settings, when it has `mfa_serial` (read from the shared files as
/// the SDK reads them).
pub async fn of(profile: &str) -> Option<MfaProfile> {
    let set = aws_config::profile::load(
        &aws_types::os_shim_internal::Fs::real(),
        &aws_types::os_shim_internal::Env::real(),
        &Default::default(),
        None,
    )
    .await
    .ok()?;
    let found = set.get_profile(profile)?;
    let get = |key: &str| found.get(key).map(str::to_string);
    Some(MfaProfile {
        profile: profile.to_string(),
        serial: get("mfa_serial")?,
        role_arn: get("role_arn"),
        source_profile: get("source_profile"),
        duration_seconds: get("duration_seconds").and_then(|d| d.parse().ok()),
        external_id: get("external_id"),
    })
}

/// Credentials for the profile with the code: its role assumed with MFA from its source
/// profile, or a session token for the profile's own keys when it assumes no role.
pub async fn credentials(
    mfa: &MfaProfile,
    code: &str,
    region: &str,
    endpoint: Option<&str>,
) -> Result<Credentials, AwsError> {
    let base = mfa.source_profile.as_deref().unwrap_or(&mfa.profile);
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .credentials_provider(
            aws_config::profile::ProfileFileCredentialsProvider::builder()
                .profile_name(base)
                .build(),
        );
    if let Some(url) = endpoint {
        loader = loader.endpoint_url(url);
    }
    let sts = aws_sdk_sts::Client::new(&loader.load().await);
    let issued = match &mfa.role_arn {
        Some(role) => {
            sts.assume_role()
                .role_arn(role)
                .role_session_name(format!("facturactl-{}", std::process::id()))
                .serial_number(&mfa.serial)
                .token_code(code)
                .set_duration_seconds(mfa.duration_seconds)
                .set_external_id(mfa.external_id.clone())
                .send()
                .await
                .map_err(|e| AwsError::new("AssumeRole", e))?
                .credentials
        }
        None => {
            sts.get_session_token()
                .serial_number(&mfa.serial)
                .token_code(code)
                .send()
                .await
                .map_err(|e| AwsError::new("GetSessionToken", e))?
                .credentials
        }
    };
    let issued = issued.ok_or_else(|| {
        AwsError::local(
            "AssumeRole",
            None,
            "STS answered without credentials".into(),
        )
    })?;
    Ok(Credentials::new(
        issued.access_key_id(),
        issued.secret_access_key(),
        Some(issued.session_token().to_string()),
        std::time::SystemTime::try_from(*issued.expiration()).ok(),
        "facturactl-mfa",
    ))
}
