//! Where the HTTP checks go, and as whom: the entry point's URL (a stack output, a URL or
//! a variable) and the test user's ID token (Cognito's USER_PASSWORD_AUTH, the
//! credentials from a secret reference).

use serde::Deserialize;

use super::Context;
use crate::config::Secret;
use crate::config::verify::{EntryPoint, TestUser};

/// The entry point, or why it could not be found (the HTTP checks then do not run).
pub struct Entry {
    pub url: Result<String, String>,
    /// The `Authorization` header's value: the test user's ID token, which a REST API's
    /// Cognito authorizer takes as it is. `Ok(None)` without `[verify.user]`.
    pub token: Result<Option<Secret>, String>,
}

impl Entry {
    /// The URL and token together, or the first reason either is missing.
    pub fn ready(&self) -> Result<(&str, Option<&Secret>), String> {
        let url = self.url.as_deref().map_err(|e| e.clone())?;
        let token = self.token.as_ref().map_err(|e| e.clone())?;
        Ok((url, token.as_ref()))
    }
}

pub async fn resolve(ctx: &Context<'_>) -> Entry {
    let verify = &ctx.config.verify;
    let url = url(ctx, &verify.entry_point).await;
    let token = match &verify.user {
        None => Ok(None),
        Some(user) => sign_in(ctx, user).await.map(Some),
    };
    Entry { url, token }
}

async fn url(ctx: &Context<'_>, entry: &EntryPoint) -> Result<String, String> {
    let url = match entry {
        EntryPoint::Url(url) => url.clone(),
        EntryPoint::Env(var) => std::env::var(var)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| format!("[verify] entry_point: the variable {var} is not set"))?,
        EntryPoint::Output { stack, output } => stack_output(ctx, stack, output).await?,
    };
    Ok(url.trim_end_matches('/').to_string())
}

/// One output of one of the environment's stacks.
pub async fn stack_output(ctx: &Context<'_>, stack: &str, output: &str) -> Result<String, String> {
    let name = ctx.config.stack_name(stack);
    let described = ctx
        .aws
        .cloudformation
        .describe_stacks()
        .stack_name(&name)
        .send()
        .await
        .map_err(|e| crate::aws::AwsError::new("DescribeStacks", e).message)?;
    described
        .stacks()
        .first()
        .and_then(|s| {
            s.outputs()
                .iter()
                .find(|o| o.output_key() == Some(output))
                .and_then(|o| o.output_value())
        })
        .map(str::to_string)
        .ok_or_else(|| format!("the stack {name} has no output {output} (deploy it first)"))
}

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AuthAnswer {
    authentication_result: Option<AuthResult>,
    challenge_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AuthResult {
    id_token: String,
}

/// Signs the test user in: InitiateAuth takes no AWS credentials, only the app client.
async fn sign_in(ctx: &Context<'_>, user: &TestUser) -> Result<Secret, String> {
    let (stack, output) = user.client.split_once('.').ok_or_else(|| {
        format!(
            "[verify.user] client `{}` is not `stack.Output`",
            user.client
        )
    })?;
    let client_id = stack_output(ctx, stack, output).await?;
    let secret = crate::secrets::resolve(ctx.aws, &user.credentials)
        .await
        .map_err(|e| e.to_string())?;
    let credentials: Credentials = serde_json::from_str(secret.expose()).map_err(|_| {
        format!(
            "the secret `{}` is not {{\"username\": ..., \"password\": ...}}",
            user.credentials
        )
    })?;
    let endpoint = ctx
        .aws
        .endpoint_url
        .clone()
        .unwrap_or_else(|| format!("https://cognito-idp.{}.amazonaws.com/", ctx.aws.region));
    let body = serde_json::json!({
        "AuthFlow": "USER_PASSWORD_AUTH",
        "ClientId": client_id,
        "AuthParameters": { "USERNAME": credentials.username, "PASSWORD": credentials.password },
    });
    let response = ctx
        .http
        .post(endpoint)
        .header("Content-Type", "application/x-amz-json-1.1")
        .header(
            "X-Amz-Target",
            "AWSCognitoIdentityProviderService.InitiateAuth",
        )
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| format!("cannot reach Cognito to sign the test user in: {e}"))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if !status.is_success() {
        return Err(format!(
            "Cognito refused the test user's sign-in ({status}): {}",
            text.chars().take(300).collect::<String>()
        ));
    }
    let answer: AuthAnswer = serde_json::from_str(&text)
        .map_err(|e| format!("Cognito's answer to the sign-in does not parse: {e}"))?;
    match (answer.authentication_result, answer.challenge_name) {
        (Some(result), _) => Ok(Secret::new(result.id_token)),
        (None, Some(challenge)) => Err(format!(
            "the test user must answer the {challenge} challenge first (set a permanent password: `aws cognito-idp admin-set-user-password --permanent`)"
        )),
        (None, None) => Err("Cognito answered the sign-in without tokens".into()),
    }
}
