//! The emulator's cross-account rules (scripts/cross_account.py), through the SDK clients
//! facturactl uses: bucket and key policies, repository and registry policies, ECR
//! replication, role trust policies. Requests within one account behave as before.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use serde_json::{Value, json};

use crate::support::emulator::{Account, python};
use crate::support::repo_root;

#[test]
fn the_policy_evaluation_passes_its_unit_tests() {
    let out = std::process::Command::new(python())
        .args(["-m", "unittest", "-q", "scripts/test_access_rules.py"])
        .current_dir(repo_root())
        .output()
        .expect("run the unit tests");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn bucket(owner: &Account, name: &str) -> aws_sdk_s3::Client {
    let s3 = owner.s3().await;
    s3.create_bucket()
        .bucket(name)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint("eu-west-1".into())
                .build(),
        )
        .send()
        .await
        .expect("bucket");
    s3
}

async fn get(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<Vec<u8>, String> {
    use aws_sdk_s3::error::ProvideErrorMetadata;
    match s3.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => Ok(out.body.collect().await.expect("body").to_vec()),
        Err(e) => Err(format!(
            "{}: {}",
            e.code().unwrap_or("?"),
            e.message().unwrap_or_default()
        )),
    }
}

#[tokio::test]
async fn another_accounts_bucket_is_read_only_as_its_policy_allows() {
    let (owner, reader) = (Account::new(), Account::new());
    let name = format!("xa-{}", owner.account_id);
    let s3 = bucket(&owner, &name).await;
    for key in ["records/1.json", "private/1.json"] {
        s3.put_object()
            .bucket(&name)
            .key(key)
            .body(ByteStream::from_static(b"{}"))
            .send()
            .await
            .expect("put");
    }
    let theirs = reader.s3().await;
    let refused = get(&theirs, &name, "records/1.json").await.unwrap_err();
    assert!(
        refused.starts_with("AccessDenied")
            && refused.contains(&format!("arn:aws:iam::{}:root", reader.account_id))
            && refused.contains("s3:GetObject")
            && refused.contains(&format!("arn:aws:s3:::{name}/records/1.json")),
        "{refused}"
    );
    // The owner still reads its own, as before.
    assert_eq!(get(&s3, &name, "records/1.json").await.unwrap(), b"{}");

    let policy = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{}:root", reader.account_id)},
        "Action": "s3:GetObject",
        "Resource": format!("arn:aws:s3:::{name}/records/*")}]});
    s3.put_bucket_policy()
        .bucket(&name)
        .policy(policy.to_string())
        .send()
        .await
        .expect("policy");
    assert_eq!(get(&theirs, &name, "records/1.json").await.unwrap(), b"{}");
    assert!(get(&theirs, &name, "private/1.json").await.is_err());
    let listed = theirs.list_objects_v2().bucket(&name).send().await;
    assert!(listed.is_err(), "listing needs s3:ListBucket");
    let written = theirs
        .put_object()
        .bucket(&name)
        .key("records/2.json")
        .body(ByteStream::from_static(b"{}"))
        .send()
        .await;
    assert!(written.is_err(), "the policy grants no write");
}

/// A stack in `account` from a JSON template; returns its outputs.
async fn stack(account: &Account, name: &str, template: &Value) -> Vec<(String, String)> {
    let cfn = aws_sdk_cloudformation::Client::new(&account.sdk_config(3).await);
    cfn.create_stack()
        .stack_name(name)
        .template_body(template.to_string())
        .capabilities(aws_sdk_cloudformation::types::Capability::CapabilityNamedIam)
        .send()
        .await
        .expect("create stack");
    let described = cfn
        .describe_stacks()
        .stack_name(name)
        .send()
        .await
        .expect("describe");
    described.stacks()[0]
        .outputs()
        .iter()
        .map(|o| {
            (
                o.output_key().unwrap_or_default().to_string(),
                o.output_value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn output(outputs: &[(String, String)], key: &str) -> String {
    outputs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("no output {key} in {outputs:?}"))
}

#[tokio::test]
async fn an_object_under_another_accounts_key_needs_the_key_policy_too() {
    let (owner, reader) = (Account::new(), Account::new());
    let name = format!("xa-kms-{}", owner.account_id);
    let root = |a: &Account| format!("arn:aws:iam::{}:root", a.account_id);
    // A stack's key policy and bucket policy (moto's CloudFormation skips bucket policies;
    // the harness applies them, as AWS does).
    let template = |reader_may_decrypt: bool| {
        let mut statements = vec![json!({"Sid": "Owner", "Effect": "Allow",
            "Principal": {"AWS": root(&owner)}, "Action": "kms:*", "Resource": "*"})];
        if reader_may_decrypt {
            statements.push(json!({"Sid": "Reader", "Effect": "Allow",
                "Principal": {"AWS": root(&reader)}, "Action": "kms:Decrypt", "Resource": "*",
                "Condition": {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}}));
        }
        json!({"Resources": {
            "Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Version": "2012-10-17", "Statement": statements}}},
            "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": name}},
            "Policy": {"Type": "AWS::S3::BucketPolicy", "Properties": {"Bucket": {"Ref": "Bucket"},
                "PolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                    "Principal": {"AWS": root(&reader)}, "Action": "s3:GetObject",
                    "Resource": format!("arn:aws:s3:::{name}/*")}]}}}},
            "Outputs": {"KeyArn": {"Value": {"Fn::GetAtt": ["Key", "Arn"]}}}})
    };
    let outputs = stack(
        &owner,
        &format!("keys-{}", owner.account_id),
        &template(false),
    )
    .await;
    let key = output(&outputs, "KeyArn");
    let s3 = owner.s3().await;
    s3.put_object()
        .bucket(&name)
        .key("model.bin")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(&key)
        .body(ByteStream::from_static(b"weights"))
        .send()
        .await
        .expect("put");
    s3.put_object()
        .bucket(&name)
        .key("plain.txt")
        .body(ByteStream::from_static(b"plain"))
        .send()
        .await
        .expect("put");
    let theirs = reader.s3().await;
    // The bucket allows the read; the key does not.
    assert_eq!(get(&theirs, &name, "plain.txt").await.unwrap(), b"plain");
    let refused = get(&theirs, &name, "model.bin").await.unwrap_err();
    assert!(
        refused.contains("kms:Decrypt") && refused.contains(&key),
        "{refused}"
    );
    // The owner's key policy names the reader: now it reads.
    let cfn = aws_sdk_cloudformation::Client::new(&owner.sdk_config(3).await);
    cfn.update_stack()
        .stack_name(format!("keys-{}", owner.account_id))
        .template_body(template(true).to_string())
        .send()
        .await
        .expect("update");
    assert_eq!(get(&theirs, &name, "model.bin").await.unwrap(), b"weights");
}

async fn push(ecr: &aws_sdk_ecr::Client, repository: &str, tag: &str, label: char) {
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1, "digest": format!("sha256:{}", "c".repeat(64))},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 1, "digest": format!("sha256:{}", label.to_string().repeat(64))}]
    });
    ecr.put_image()
        .repository_name(repository)
        .image_manifest(manifest.to_string())
        .image_tag(tag)
        .send()
        .await
        .expect("push");
}

async fn tags(ecr: &aws_sdk_ecr::Client, repository: &str) -> Vec<String> {
    let Ok(found) = ecr
        .describe_images()
        .repository_name(repository)
        .send()
        .await
    else {
        return Vec::new();
    };
    let mut tags: Vec<String> = found
        .image_details()
        .iter()
        .flat_map(|d| d.image_tags().iter().cloned())
        .collect();
    tags.sort();
    tags
}

#[tokio::test]
async fn ecr_replicates_only_what_the_destination_accepts_after_it_is_configured() {
    let (source, destination) = (Account::new(), Account::new());
    let ours = aws_sdk_ecr::Client::new(&source.sdk_config(3).await);
    let theirs = aws_sdk_ecr::Client::new(&destination.sdk_config(3).await);
    for name in ["app/web", "scratch/tool"] {
        ours.create_repository()
            .repository_name(name)
            .send()
            .await
            .expect("repository");
    }
    push(&ours, "app/web", "before", '1').await;
    ours.put_replication_configuration()
        .replication_configuration(
            aws_sdk_ecr::types::ReplicationConfiguration::builder()
                .rules(
                    aws_sdk_ecr::types::ReplicationRule::builder()
                        .destinations(
                            aws_sdk_ecr::types::ReplicationDestination::builder()
                                .region("eu-west-1")
                                .registry_id(&destination.account_id)
                                .build()
                                .expect("destination"),
                        )
                        .repository_filters(
                            aws_sdk_ecr::types::RepositoryFilter::builder()
                                .filter("app/")
                                .filter_type(aws_sdk_ecr::types::RepositoryFilterType::PrefixMatch)
                                .build()
                                .expect("filter"),
                        )
                        .build()
                        .expect("rule"),
                )
                .build()
                .expect("configuration"),
        )
        .send()
        .await
        .expect("replication");
    // No registry policy at the destination: nothing arrives.
    push(&ours, "app/web", "no-policy", '2').await;
    let policy = |actions: &[&str]| {
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{}:root", source.account_id)},
            "Action": actions,
            "Resource": format!("arn:aws:ecr:eu-west-1:{}:repository/*", destination.account_id)}]})
        .to_string()
    };
    theirs
        .put_registry_policy()
        .policy_text(policy(&["ecr:ReplicateImage"]))
        .send()
        .await
        .expect("registry policy");
    // Allowed, but the repository does not exist there and may not be created.
    push(&ours, "app/web", "no-repository", '3').await;
    assert!(tags(&theirs, "app/web").await.is_empty());
    theirs
        .create_repository()
        .repository_name("app/web")
        .send()
        .await
        .expect("repository");
    push(&ours, "app/web", "v1", '4').await;
    // Filtered out: never replicated, even with a grant to create it.
    theirs
        .put_registry_policy()
        .policy_text(policy(&["ecr:ReplicateImage", "ecr:CreateRepository"]))
        .send()
        .await
        .expect("registry policy");
    push(&ours, "scratch/tool", "v1", '5').await;
    assert_eq!(tags(&theirs, "app/web").await, ["v1"]);
    assert!(tags(&theirs, "scratch/tool").await.is_empty());
    let log: Value = reqwest::get(format!("{}/__harness/replications", source.endpoint))
        .await
        .expect("log")
        .json()
        .await
        .expect("json");
    let outcomes: Vec<&str> = log
        .as_array()
        .expect("a list")
        .iter()
        .filter(|r| r["source"] == source.account_id.as_str())
        .map(|r| r["outcome"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(outcomes.len(), 3, "{log}");
    assert!(outcomes[0].contains("does not allow ecr:ReplicateImage"));
    assert!(outcomes[1].contains("ecr:CreateRepository"));
    assert_eq!(outcomes[2], "replicated");

    // Another account's repository is read only as its policy allows.
    let refused = theirs
        .describe_images()
        .registry_id(&source.account_id)
        .repository_name("app/web")
        .send()
        .await
        .expect_err("no repository policy");
    use aws_sdk_ecr::error::ProvideErrorMetadata;
    assert!(
        refused
            .message()
            .unwrap_or_default()
            .contains("ecr:DescribeImages"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_role_of_another_account_is_assumed_only_as_its_trust_policy_says() {
    let (owner, trusted, stranger) = (Account::new(), Account::new(), Account::new());
    let role = format!("reader-{}", owner.account_id);
    let template = json!({"Resources": {"Role": {"Type": "AWS::IAM::Role", "Properties": {
        "RoleName": role,
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{}:root", trusted.account_id)},
            "Action": "sts:AssumeRole"}]}}}},
        "Outputs": {"Arn": {"Value": {"Fn::GetAtt": ["Role", "Arn"]}}}});
    let arn = output(
        &stack(&owner, &format!("role-{}", owner.account_id), &template).await,
        "Arn",
    );
    async fn assume(
        account: &Account,
        arn: &str,
    ) -> Result<
        aws_sdk_sts::operation::assume_role::AssumeRoleOutput,
        aws_sdk_sts::error::SdkError<aws_sdk_sts::operation::assume_role::AssumeRoleError>,
    > {
        aws_sdk_sts::Client::new(&account.sdk_config(1).await)
            .assume_role()
            .role_arn(arn)
            .role_session_name("rehearsal")
            .send()
            .await
    }
    let refused = assume(&stranger, &arn).await.expect_err("not trusted");
    use aws_sdk_sts::error::ProvideErrorMetadata;
    assert_eq!(refused.code(), Some("AccessDenied"), "{refused:?}");
    let assumed = assume(&trusted, &arn).await.expect("trusted");
    let credentials = assumed.credentials().expect("credentials");
    let session = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::config::Builder::from(&trusted.sdk_config(1).await)
            .credentials_provider(aws_sdk_sts::config::Credentials::new(
                credentials.access_key_id(),
                credentials.secret_access_key(),
                Some(credentials.session_token().to_string()),
                None,
                "assumed",
            ))
            .build(),
    );
    let me = session
        .get_caller_identity()
        .send()
        .await
        .expect("who am I");
    assert_eq!(me.account(), Some(owner.account_id.as_str()));
    assert!(
        me.arn()
            .unwrap_or_default()
            .contains(&format!("assumed-role/{role}/rehearsal")),
        "{me:?}"
    );
}

#[tokio::test]
async fn another_accounts_topic_takes_messages_only_as_its_policy_allows() {
    let (owner, sender) = (Account::new(), Account::new());
    let topic = aws_sdk_sns::Client::new(&owner.sdk_config(3).await)
        .create_topic()
        .name(format!("alerts-{}", owner.account_id))
        .send()
        .await
        .expect("topic")
        .topic_arn()
        .expect("arn")
        .to_string();
    let theirs = aws_sdk_sns::Client::new(&sender.sdk_config(1).await);
    let refused = theirs
        .publish()
        .topic_arn(&topic)
        .message("hello")
        .send()
        .await
        .expect_err("no topic policy names the sender");
    use aws_sdk_sns::error::ProvideErrorMetadata;
    assert_eq!(refused.code(), Some("AuthorizationError"), "{refused:?}");
    assert!(
        refused
            .message()
            .unwrap_or_default()
            .contains("sns:Publish"),
        "{refused:?}"
    );
    let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{}:root", sender.account_id)},
        "Action": "sns:Publish", "Resource": topic}]});
    aws_sdk_sns::Client::new(&owner.sdk_config(3).await)
        .set_topic_attributes()
        .topic_arn(&topic)
        .attribute_name("Policy")
        .attribute_value(policy.to_string())
        .send()
        .await
        .expect("policy");
    theirs
        .publish()
        .topic_arn(&topic)
        .message("hello")
        .send()
        .await
        .expect("the policy names the sender");
}

#[tokio::test]
async fn another_accounts_function_is_reached_only_as_its_policy_allows() {
    use aws_sdk_lambda::primitives::Blob;
    use aws_sdk_lambda::types::{FunctionCode, Runtime};
    let (owner, caller) = (Account::new(), Account::new());
    let role = format!("fn-{}", owner.account_id);
    let template = json!({"Resources": {"Role": {"Type": "AWS::IAM::Role", "Properties": {
        "RoleName": role,
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}}}},
        "Outputs": {"Arn": {"Value": {"Fn::GetAtt": ["Role", "Arn"]}}}});
    let role_arn = output(
        &stack(&owner, &format!("fn-{}", owner.account_id), &template).await,
        "Arn",
    );
    let code = crate::support::zip::zip(&[("f.py", "def handler(e, c):\n    return 1\n")]);
    let function = aws_sdk_lambda::Client::new(&owner.sdk_config(3).await)
        .create_function()
        .function_name("shared")
        .runtime(Runtime::Python312)
        .handler("f.handler")
        .role(role_arn)
        .code(FunctionCode::builder().zip_file(Blob::new(code)).build())
        .send()
        .await
        .expect("function")
        .function_arn()
        .expect("arn")
        .to_string();
    let theirs = aws_sdk_lambda::Client::new(&caller.sdk_config(1).await);
    let refused = theirs
        .get_function()
        .function_name(&function)
        .send()
        .await
        .expect_err("no function policy names the caller");
    use aws_sdk_lambda::error::ProvideErrorMetadata;
    assert_eq!(refused.code(), Some("AccessDeniedException"), "{refused:?}");
    aws_sdk_lambda::Client::new(&owner.sdk_config(3).await)
        .add_permission()
        .function_name("shared")
        .statement_id("caller-reads")
        .action("lambda:GetFunction")
        .principal(&caller.account_id)
        .send()
        .await
        .expect("permission");
    let found = theirs
        .get_function()
        .function_name(&function)
        .send()
        .await
        .expect("the function policy names the caller");
    assert_eq!(
        found.configuration().and_then(|c| c.function_arn()),
        Some(function.as_str())
    );
}
