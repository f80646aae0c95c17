//! What the SDK's profile provider does not do and the AWS CLI does: a profile that
//! assumes a role with MFA (`mfa_serial`) asks for the code on a terminal (and is refused
//! elsewhere with the reason, before any call); a profile's `ca_bundle` is honoured.

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

/// What facturactl itself reads of a profile (the SDK reads the rest).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileSettings {
    /// Set when the profile has `mfa_serial`.
    pub mfa: Option<MfaProfile>,
    /// `ca_bundle`: the certificates HTTPS trusts for this profile.
    pub ca_bundle: Option<String>,
}

/// The profile's MFA and CA bundle settings, read from the shared files as the SDK reads
/// them (none when it is in no file).
pub async fn settings(profile: &str) -> ProfileSettings {
    let Ok(set) = aws_config::profile::load(
        &aws_types::os_shim_internal::Fs::real(),
        &aws_types::os_shim_internal::Env::real(),
        &Default::default(),
        None,
    )
    .await
    else {
        return ProfileSettings::default();
    };
    let Some(found) = set.get_profile(profile) else {
        return ProfileSettings::default();
    };
    let get = |key: &str| found.get(key).map(str::to_string);
    ProfileSettings {
        mfa: get("mfa_serial").map(|serial| MfaProfile {
            profile: profile.to_string(),
            serial,
            role_arn: get("role_arn"),
            source_profile: get("source_profile"),
            duration_seconds: get("duration_seconds").and_then(|d| d.parse().ok()),
            external_id: get("external_id"),
        }),
        ca_bundle: get("ca_bundle"),
    }
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
