//! Upgrades: an environment deployed from an earlier facturactl's configuration and
//! templates (commit 52fdc43, kept in tests/fixtures/upgrade-52fdc43) takes today's with one
//! deploy on the strict emulator, which refuses what CloudFormation refuses (a replacement
//! of a resource that keeps its custom name); `plan` says each such replacement first.

use std::path::Path;

use serde_json::Value;

use crate::support::emulator::Account;
use crate::support::{Project, repo_root, run_json};

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// Replaces the project's configuration and templates with those under `from`.
fn use_files(project: &Project, from: &Path) {
    let _ = std::fs::remove_dir_all(project.path().join("templates"));
    let _ = std::fs::remove_dir_all(project.path().join("environments"));
    copy_tree(&from.join("templates"), &project.path().join("templates"));
    copy_tree(
        &from.join("environments"),
        &project.path().join("environments"),
    );
    std::fs::copy(from.join("deploy.toml"), project.path().join("deploy.toml"))
        .expect("deploy.toml");
}

/// Staging as the tests run it here: no database (moto cannot create its parameter group
/// outside the local tier), no ML stack (no part in this upgrade).
async fn staging_in(project: &Project, account: &Account) {
    project.use_account(account);
    project.use_certificates(account).await;
    project.without_ml();
    project.without_database();
}

fn stack<'a>(plan: &'a Value, name: &str) -> &'a Value {
    plan["stacks"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["stack"] == name))
        .unwrap_or_else(|| panic!("no stack {name} in {plan}"))
}

#[tokio::test]
async fn an_environment_deployed_by_52fdc43_upgrades_with_one_deploy() {
    let account = Account::new();
    account.seed_platform_secrets().await;
    let project = Project::copy();
    let old = repo_root().join("tests/fixtures/upgrade-52fdc43");
    use_files(&project, &old);
    staging_in(&project, &account).await;
    project.git_release(None);
    let (code, _, stderr) = run_json(&project, &account, &["deploy", "--env", "staging", "--yes"]);
    assert_eq!(code, Some(0), "the earlier version's deploy: {stderr}");

    // Today's files, as a new commit.
    use_files(&project, &repo_root());
    staging_in(&project, &account).await;
    project.git(&["add", "--all"]);
    project.git(&["commit", "--quiet", "-m", "upgrade"]);

    // Had the load balancer kept its name, the upgrade would need a replacement
    // CloudFormation refuses: plan says so, naming it.
    let api = project.read("templates/stacks/api.yaml.tera");
    let kept = api.replace("-api{% if private %}-int{% endif %}\"", "-api\"");
    assert_ne!(api, kept, "the template names the internal load balancer");
    project.write("templates/stacks/api.yaml.tera", &kept);
    let (_, plan, stderr) = run_json(&project, &account, &["plan", "--env", "staging"]);
    let unreplaceable = &stack(&plan, "api")["unreplaceable"];
    assert_eq!(
        unreplaceable[0]["logical_id"], "LoadBalancer",
        "{plan}\n{stderr}"
    );
    assert_eq!(unreplaceable[0]["name"], "facturascan-staging-api");
    assert_eq!(unreplaceable[0]["properties"][0], "Scheme");
    // And the strict emulator fails that deploy as CloudFormation does.
    project.git(&["commit", "--quiet", "-am", "keep the name"]);
    let (code, _, stderr) = run_json(&project, &account, &["deploy", "--env", "staging", "--yes"]);
    assert_ne!(code, Some(0));
    assert!(
        stderr.contains("custom-named resource requires replacing"),
        "{stderr}"
    );

    // Today's template renames it: plan finds nothing CloudFormation would refuse, and one
    // deploy upgrades the environment.
    project.write("templates/stacks/api.yaml.tera", &api);
    project.git(&["commit", "--quiet", "-am", "today's name"]);
    let (_, plan, _) = run_json(&project, &account, &["plan", "--env", "staging"]);
    for s in plan["stacks"].as_array().expect("stacks") {
        assert!(s.get("unreplaceable").is_none(), "{s}");
    }
    let (code, report, stderr) =
        run_json(&project, &account, &["deploy", "--env", "staging", "--yes"]);
    assert_eq!(code, Some(0), "the upgrade: {stderr}\n{report}");
    let (code, plan, _) = run_json(&project, &account, &["plan", "--env", "staging"]);
    assert_eq!(code, Some(0));
    for s in plan["stacks"].as_array().expect("stacks") {
        assert_eq!(s["action"], "no_change", "{s}");
    }
}

/// The VPC link's network load balancer as versions before the backend's security group
/// made it: no security group, named `-api-link`, its target group too.
fn without_link_group(api: &str) -> String {
    let old = api
        .replace("-api-nlb\"", "-api-link\"")
        .replace("      SecurityGroups: [{ Ref: LinkSecurityGroupId }]\n", "")
        .replace(
            "      EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic: \"off\"\n",
            "",
        );
    assert_eq!(old.matches("-api-link\"").count(), 2, "{old}");
    assert!(!old.contains("EnforceSecurityGroup"));
    old
}

async fn network_balancers(account: &Account) -> Vec<(String, Vec<String>)> {
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&account.sdk_config(3).await);
    let found = elb
        .describe_load_balancers()
        .send()
        .await
        .expect("load balancers");
    found
        .load_balancers()
        .iter()
        .filter(|lb| lb.r#type().map(|t| t.as_str()) == Some("network"))
        .map(|lb| {
            (
                lb.load_balancer_name().unwrap_or_default().to_string(),
                lb.security_groups().to_vec(),
            )
        })
        .collect()
}

/// A network load balancer takes a security group only when it is created (AWS refuses
/// SetSecurityGroups on one made without): the emulator refuses that update as AWS does,
/// and today's template, which names the load balancer anew, upgrades with one deploy.
#[tokio::test]
async fn the_vpc_links_load_balancer_gets_its_security_group_by_a_new_name() {
    let account = Account::new();
    account.seed_platform_secrets().await;
    let project = Project::copy();
    staging_in(&project, &account).await;
    let api = project.read("templates/stacks/api.yaml.tera");
    project.write("templates/stacks/api.yaml.tera", &without_link_group(&api));
    project.git_release(None);
    let (code, _, stderr) = run_json(&project, &account, &["deploy", "--env", "staging", "--yes"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        network_balancers(&account).await,
        [("facturascan-staging-api-link".to_string(), Vec::new())]
    );

    // The group added under the old name: refused, as AWS refuses it.
    let kept = without_link_group(&api).replace(
        "      Type: network\n",
        "      Type: network\n      SecurityGroups: [{ Ref: LinkSecurityGroupId }]\n",
    );
    project.write("templates/stacks/api.yaml.tera", &kept);
    project.git(&["commit", "--quiet", "-am", "the group, old name"]);
    let (code, _, stderr) = run_json(&project, &account, &["deploy", "--env", "staging", "--yes"]);
    assert_ne!(code, Some(0));
    assert!(
        stderr.contains(
            "unless you specified a security group for the load balancer when you created it"
        ),
        "{stderr}"
    );

    // Today's template: a new load balancer in the group, the old one gone.
    project.write("templates/stacks/api.yaml.tera", &api);
    project.git(&["commit", "--quiet", "-am", "today's"]);
    let (code, report, stderr) =
        run_json(&project, &account, &["deploy", "--env", "staging", "--yes"]);
    assert_eq!(code, Some(0), "{stderr}\n{report}");
    let balancers = network_balancers(&account).await;
    assert_eq!(balancers.len(), 1, "{balancers:?}");
    assert_eq!(balancers[0].0, "facturascan-staging-api-nlb");
    assert_eq!(balancers[0].1.len(), 1, "{balancers:?}");
}
