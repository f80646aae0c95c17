//! Network rules: what a load balancer can reach, and what can reach the backend.

use yaml_serde::Value;

use super::{Named, Raw, get, referenced};
use crate::render::RenderedEnv;

/// Every target group of tasks or instances must have its port admitted from
/// the load balancer's security group, by a rule in any stack of the environment.
pub(super) fn target_ports(rendered: &RenderedEnv, out: &mut Vec<Raw>) {
    let admitted: Vec<(i64, i64)> = rendered
        .stacks
        .iter()
        .flat_map(|stack| stack.resources())
        .flat_map(|(_, resource)| ingress_from_load_balancer(resource))
        .collect();
    for stack in &rendered.stacks {
        for (id, resource) in stack.resources_of_type("AWS::ElasticLoadBalancingV2::TargetGroup") {
            // Tasks and instances sit in a security group; a Lambda target group has no
            // port, and an `alb` target (a network load balancer in front of an
            // application one) is reached on the application load balancer's listener.
            let target = get(resource, &["Properties", "TargetType"]).and_then(Value::as_str);
            if !matches!(target, None | Some("ip" | "instance")) {
                continue;
            }
            let Some(port) = get(resource, &["Properties", "Port"]).and_then(Value::as_i64) else {
                continue;
            };
            if admitted
                .iter()
                .any(|(from, to)| (*from..=*to).contains(&port))
            {
                continue;
            }
            out.push(Raw {
                rule: "TARGET_PORT_INGRESS",
                stack: stack.name.clone(),
                resource: id.to_string(),
                message: format!(
                    "target group {id} sends to port {port}, which no security group rule admits from the load balancer's security group: its targets never become healthy"
                ),
                hint: "admit the port from the load balancer's security group (an AWS::EC2::SecurityGroupIngress on the service security group), or use the port that is admitted",
            });
        }
    }
}

/// The port ranges a security group resource admits from a load balancer's security group
/// (a `Ref` to `LoadBalancerSecurityGroup...`): inline rules or a standalone ingress.
fn ingress_from_load_balancer(resource: &Value) -> Vec<(i64, i64)> {
    let rules: Vec<&Value> = match resource.get("Type").and_then(Value::as_str) {
        Some("AWS::EC2::SecurityGroup") => get(resource, &["Properties", "SecurityGroupIngress"])
            .and_then(Value::as_sequence)
            .map(|rules| rules.iter().collect())
            .unwrap_or_default(),
        Some("AWS::EC2::SecurityGroupIngress") => resource.get("Properties").into_iter().collect(),
        _ => Vec::new(),
    };
    rules
        .into_iter()
        .filter(|rule| {
            get(rule, &["SourceSecurityGroupId", "Ref"])
                .and_then(Value::as_str)
                .is_some_and(|source| source.starts_with("LoadBalancerSecurityGroup"))
        })
        .filter_map(|rule| {
            let protocol = rule.get("IpProtocol").map(|p| match p {
                Value::Number(n) => n.to_string(),
                other => other.as_str().unwrap_or_default().to_string(),
            });
            match protocol.as_deref() {
                Some("-1") => Some((0, 65_535)),
                Some("tcp" | "6") => Some((
                    rule.get("FromPort")?.as_i64()?,
                    rule.get("ToPort")?.as_i64()?,
                )),
                _ => None,
            }
        })
        .collect()
}

/// Outside the local environment the backend is reached only through API Gateway's VPC
/// link, so only past the Cognito authorizer: the link's network load balancer is in a
/// security group, and neither it nor a load balancer behind it admits an address range
/// (any workload inside the VPC is in the VPC's range).
pub(super) fn private_backend(rendered: &RenderedEnv, out: &mut Vec<Raw>) {
    for stack in &rendered.stacks {
        for (link, resource) in stack.resources_of_type("AWS::ApiGateway::VpcLink") {
            let targets = get(resource, &["Properties", "TargetArns"])
                .and_then(Value::as_sequence)
                .into_iter()
                .flatten();
            for balancer in targets.filter_map(|t| referenced(rendered, stack, t)) {
                check_link_balancer(rendered, link, balancer, out);
            }
        }
    }
}

fn check_link_balancer(rendered: &RenderedEnv, link: &str, nlb: Named<'_>, out: &mut Vec<Raw>) {
    let groups = security_groups(rendered, &nlb);
    if groups.is_empty() {
        out.push(Raw {
            rule: "PRIVATE_BACKEND",
            stack: nlb.stack.name.clone(),
            resource: nlb.id.to_string(),
            message: format!(
                "network load balancer {} of VPC link {link} has no security group: any workload in the VPC can connect to it and call the backend without a token",
                nlb.id
            ),
            hint: "create it with SecurityGroups (a group without inbound rules) and EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic: \"off\"; a network load balancer takes a security group only when it is created, so give it a new name",
        });
    }
    let behind = balancers_behind(rendered, &nlb);
    for group in groups
        .into_iter()
        .chain(behind.iter().flat_map(|lb| security_groups(rendered, lb)))
    {
        for range in cidr_sources(rendered, &group) {
            out.push(Raw {
                rule: "PRIVATE_BACKEND",
                stack: group.stack.name.clone(),
                resource: group.id.to_string(),
                message: format!(
                    "security group {} admits {range} in front of the backend behind VPC link {link}: workloads in that range reach the backend without passing the authorizer",
                    group.id
                ),
                hint: "admit the VPC link's load balancer by its security group (SourceSecurityGroupId), never an address range",
            });
        }
    }
}

fn security_groups<'a>(rendered: &'a RenderedEnv, balancer: &Named<'a>) -> Vec<Named<'a>> {
    get(balancer.resource, &["Properties", "SecurityGroups"])
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(|g| referenced(rendered, balancer.stack, g))
        .collect()
}

/// The load balancers a network load balancer forwards to (`alb` target groups).
fn balancers_behind<'a>(rendered: &'a RenderedEnv, nlb: &Named<'a>) -> Vec<Named<'a>> {
    let stack = nlb.stack;
    stack
        .resources_of_type("AWS::ElasticLoadBalancingV2::Listener")
        .filter(|(_, l)| {
            get(l, &["Properties", "LoadBalancerArn", "Ref"]).and_then(Value::as_str)
                == Some(nlb.id)
        })
        .flat_map(|(_, l)| {
            get(l, &["Properties", "DefaultActions"])
                .and_then(Value::as_sequence)
                .into_iter()
                .flatten()
                .filter_map(|a| a.get("TargetGroupArn"))
        })
        .filter_map(|group| referenced(rendered, stack, group))
        .filter(|group| {
            get(group.resource, &["Properties", "TargetType"]).and_then(Value::as_str)
                == Some("alb")
        })
        .flat_map(|group| {
            get(group.resource, &["Properties", "Targets"])
                .and_then(Value::as_sequence)
                .into_iter()
                .flatten()
                .filter_map(|t| t.get("Id"))
                .filter_map(|id| referenced(rendered, group.stack, id))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The address ranges a security group admits, inline or by a standalone ingress rule.
fn cidr_sources(rendered: &RenderedEnv, group: &Named<'_>) -> Vec<String> {
    let inline = get(group.resource, &["Properties", "SecurityGroupIngress"])
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten();
    let standalone = rendered.stacks.iter().flat_map(|stack| {
        stack
            .resources_of_type("AWS::EC2::SecurityGroupIngress")
            .filter(move |(_, r)| {
                get(r, &["Properties", "GroupId"])
                    .and_then(|g| referenced(rendered, stack, g))
                    .is_some_and(|g| g.stack.name == group.stack.name && g.id == group.id)
            })
            .filter_map(|(_, r)| r.get("Properties"))
    });
    inline
        .chain(standalone)
        .filter_map(|rule| {
            ["CidrIp", "CidrIpv6", "SourcePrefixListId"]
                .iter()
                .find_map(|key| rule.get(*key).map(|v| describe(key, v)))
        })
        .collect()
}

fn describe(key: &str, value: &Value) -> String {
    match value.as_str() {
        Some(text) => format!("{key} {text}"),
        None => match get(value, &["Ref"]).and_then(Value::as_str) {
            Some(name) => format!("{key} {name}"),
            None => format!("a {key} range"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::OutputRef;
    use crate::policy::tests::env_of;

    #[test]
    fn target_groups_need_their_port_admitted_from_the_load_balancer() {
        let network = "Resources:\n  LoadBalancerSecurityGroup:\n    Type: AWS::EC2::SecurityGroup\n  ServiceSecurityGroup:\n    Type: AWS::EC2::SecurityGroup\n    Properties:\n      SecurityGroupIngress:\n        - { IpProtocol: tcp, FromPort: 8000, ToPort: 8000, SourceSecurityGroupId: { Ref: LoadBalancerSecurityGroup } }\n        - { IpProtocol: tcp, FromPort: 8080, ToPort: 8080, CidrIp: 10.0.0.0/8 }\n";
        let ml = |ingress: &str| {
            format!(
                "Resources:\n{ingress}  ScoringControlTargets:\n    Type: AWS::ElasticLoadBalancingV2::TargetGroup\n    Properties: {{ Port: 8080, TargetType: ip }}\n  Backend:\n    Type: AWS::ElasticLoadBalancingV2::TargetGroup\n    Properties: {{ Port: 8000 }}\n  LambdaTargets:\n    Type: AWS::ElasticLoadBalancingV2::TargetGroup\n    Properties: {{ TargetType: lambda }}\n  PrivateLinkTargets:\n    Type: AWS::ElasticLoadBalancingV2::TargetGroup\n    Properties: {{ Port: 443, TargetType: alb }}\n"
            )
        };
        let found = |ml: &str| {
            let mut raw = Vec::new();
            target_ports(&env_of(&[("network", network), ("ml", ml)]), &mut raw);
            raw.into_iter().map(|r| r.resource).collect::<Vec<_>>()
        };
        // 8080 is admitted from a CIDR only, not from the load balancer: refused.
        assert_eq!(found(&ml("")), ["ScoringControlTargets"]);
        let own_rule = "  ScoringFromLoadBalancer:\n    Type: AWS::EC2::SecurityGroupIngress\n    Properties: { IpProtocol: tcp, FromPort: 8080, ToPort: 8080, SourceSecurityGroupId: { Ref: LoadBalancerSecurityGroupId } }\n";
        assert!(found(&ml(own_rule)).is_empty());
        let all_traffic = own_rule.replace("IpProtocol: tcp", "IpProtocol: -1");
        assert!(found(&ml(&all_traffic)).is_empty());
    }

    /// The staging shape: the security groups in the network stack, the load balancers and
    /// the VPC link in the api stack, wired by the api stack's inputs.
    fn private(alb_ingress: &str, nlb_groups: &str) -> Vec<(String, String)> {
        let network = format!(
            "Resources:\n  LinkSecurityGroup:\n    Type: AWS::EC2::SecurityGroup\n  LoadBalancerSecurityGroup:\n    Type: AWS::EC2::SecurityGroup\n    Properties:\n      SecurityGroupIngress:\n{alb_ingress}Outputs:\n  LinkSecurityGroupId: {{ Value: {{ Ref: LinkSecurityGroup }} }}\n  LoadBalancerSecurityGroupId: {{ Value: {{ Ref: LoadBalancerSecurityGroup }} }}\n"
        );
        let api = format!(
            "Resources:\n  LoadBalancer:\n    Type: AWS::ElasticLoadBalancingV2::LoadBalancer\n    Properties: {{ SecurityGroups: [{{ Ref: LoadBalancerSecurityGroupId }}] }}\n  Nlb:\n    Type: AWS::ElasticLoadBalancingV2::LoadBalancer\n    Properties: {{ Type: network{nlb_groups} }}\n  NlbTargets:\n    Type: AWS::ElasticLoadBalancingV2::TargetGroup\n    Properties: {{ TargetType: alb, Targets: [{{ Id: {{ Ref: LoadBalancer }} }}] }}\n  NlbListener:\n    Type: AWS::ElasticLoadBalancingV2::Listener\n    Properties: {{ LoadBalancerArn: {{ Ref: Nlb }}, DefaultActions: [{{ Type: forward, TargetGroupArn: {{ Ref: NlbTargets }} }}] }}\n  Link:\n    Type: AWS::ApiGateway::VpcLink\n    Properties: {{ TargetArns: [{{ Ref: Nlb }}] }}\n"
        );
        let mut env = env_of(&[("network", &network), ("api", &api)]);
        for name in ["LinkSecurityGroupId", "LoadBalancerSecurityGroupId"] {
            env.stacks[1].inputs.insert(
                name.into(),
                OutputRef {
                    stack: "network".into(),
                    output: name.into(),
                },
            );
        }
        let mut raw = Vec::new();
        private_backend(&env, &mut raw);
        raw.into_iter().map(|r| (r.resource, r.message)).collect()
    }

    #[test]
    fn the_backend_is_reached_only_through_the_vpc_link() {
        let from_link = "        - { IpProtocol: tcp, FromPort: 443, ToPort: 443, SourceSecurityGroupId: { Ref: LinkSecurityGroup } }\n";
        let with_group = ", SecurityGroups: [{ Ref: LinkSecurityGroupId }]";
        assert_eq!(private(from_link, with_group), []);

        // The earlier shape: the VPC's range admitted, and an NLB without a group.
        let from_vpc =
            "        - { IpProtocol: tcp, FromPort: 443, ToPort: 443, CidrIp: { Ref: VpcCidr } }\n";
        let found = private(from_vpc, "");
        let resources: Vec<&str> = found.iter().map(|(r, _)| r.as_str()).collect();
        assert_eq!(resources, ["Nlb", "LoadBalancerSecurityGroup"], "{found:?}");
        assert!(found[1].1.contains("CidrIp VpcCidr"), "{found:?}");
        // Either alone is refused.
        assert_eq!(private(from_vpc, with_group).len(), 1);
        assert_eq!(private(from_link, "").len(), 1);
    }
}
