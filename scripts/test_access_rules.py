"""Unit tests of scripts/access_rules.py, built from the examples of AWS's documentation.

Run: python3 -m unittest scripts/test_access_rules.py (tests/all/harness.rs runs it).
"""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from access_rules import Caller, decide, replication_destinations  # noqa: E402

A, B, C = "111122223333", "444455556666", "777788889999"

# Amazon S3 User Guide, "Example 2: Bucket owner granting cross-account bucket permissions":
# account A's bucket policy grants account B (its root: delegated to B's IAM) the bucket
# and its objects.
S3_WALKTHROUGH = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "Example permissions", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{B}:root"},
         "Action": ["s3:GetLifecycleConfiguration", "s3:ListBucket"],
         "Resource": ["arn:aws:s3:::amzn-s3-demo-bucket"]},
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{B}:root"},
         "Action": "s3:GetObject", "Resource": "arn:aws:s3:::amzn-s3-demo-bucket/*"},
    ],
}

# Amazon ECR User Guide, "Private registry policy examples": the root of a source account
# may replicate every repository into this (us-west-2, 444455556666) registry.
ECR_REGISTRY = {
    "Version": "2012-10-17",
    "Statement": [{
        "Sid": "ReplicationAccessCrossAccount", "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
        "Action": ["ecr:CreateRepository", "ecr:ReplicateImage"],
        "Resource": [f"arn:aws:ecr:us-west-2:{B}:repository/*"],
    }],
}

# AWS KMS Developer Guide, "Allowing users in other accounts to use a KMS key": the key
# policy names the external account, whose IAM then delegates to its roles.
KMS_EXTERNAL = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{A}:root"}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "Allow an external account to use this KMS key", "Effect": "Allow",
         "Principal": {"AWS": [f"arn:aws:iam::{B}:root"]},
         "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                    "kms:DescribeKey"],
         "Resource": "*"},
    ],
}


def role(account: str, name: str, policies=()) -> Caller:
    return Caller(account, f"arn:aws:sts::{account}:assumed-role/{name}/session",
                  f"arn:aws:iam::{account}:role/{name}", tuple(policies))


class SameAccount(unittest.TestCase):
    def test_the_owners_own_requests_behave_as_before(self):
        self.assertTrue(decide(Caller.root(A), A, "s3:GetObject", "arn:aws:s3:::b/k", None).allowed)


class BucketPolicies(unittest.TestCase):
    def test_the_named_account_reads_and_lists(self):
        b = Caller.root(B)
        self.assertTrue(decide(b, A, "s3:GetObject", "arn:aws:s3:::amzn-s3-demo-bucket/a.txt",
                               S3_WALKTHROUGH).allowed)
        self.assertTrue(decide(b, A, "s3:ListBucket", "arn:aws:s3:::amzn-s3-demo-bucket",
                               S3_WALKTHROUGH).allowed)

    def test_the_named_account_may_not_write_and_a_third_account_may_not_read(self):
        put = decide(Caller.root(B), A, "s3:PutObject", "arn:aws:s3:::amzn-s3-demo-bucket/a",
                     S3_WALKTHROUGH)
        self.assertFalse(put.allowed)
        self.assertIn("no resource-based policy allows the s3:PutObject action", put.message)
        self.assertFalse(decide(Caller.root(C), A, "s3:GetObject",
                                "arn:aws:s3:::amzn-s3-demo-bucket/a", S3_WALKTHROUGH).allowed)

    def test_no_policy_denies_every_other_account(self):
        denied = decide(Caller.root(B), A, "s3:GetObject", "arn:aws:s3:::b/k", None)
        self.assertFalse(denied.allowed)
        self.assertIn(f"User: arn:aws:iam::{B}:root is not authorized to perform: s3:GetObject "
                      "on resource: arn:aws:s3:::b/k", denied.message)

    def test_an_account_root_delegates_to_roles_whose_own_policy_allows(self):
        reader = {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                 "Resource": "arn:aws:s3:::amzn-s3-demo-bucket/*"}]}
        key = "arn:aws:s3:::amzn-s3-demo-bucket/a"
        self.assertTrue(decide(role(B, "reader", [reader]), A, "s3:GetObject", key,
                               S3_WALKTHROUGH).allowed)
        # Both must allow: the role's own policy does not.
        denied = decide(role(B, "other", []), A, "s3:GetObject", key, S3_WALKTHROUGH)
        self.assertFalse(denied.allowed)
        self.assertIn("no identity-based policy allows", denied.message)

    def test_a_role_principal_names_that_role_only(self):
        policy = {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
                                 "Principal": {"AWS": f"arn:aws:iam::{B}:role/deploy"}}]}
        everything = [{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}]
        self.assertTrue(decide(role(B, "deploy", everything), A, "s3:GetObject", "x", policy).allowed)
        self.assertFalse(decide(role(B, "ci", everything), A, "s3:GetObject", "x", policy).allowed)
        self.assertFalse(decide(Caller.root(B), A, "s3:GetObject", "x", policy).allowed)

    def test_conditions_on_the_principal(self):
        # IAM User Guide, aws:PrincipalAccount and aws:PrincipalArn.
        policy = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                 "Resource": "*",
                                 "Condition": {"StringEquals": {"aws:PrincipalAccount": B},
                                               "ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{B}:role/deploy-*"}}}]}
        everything = [{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}]
        self.assertTrue(decide(role(B, "deploy-production", everything), A, "s3:GetObject", "x",
                               policy).allowed)
        self.assertFalse(decide(role(B, "audit", everything), A, "s3:GetObject", "x", policy).allowed)
        self.assertFalse(decide(role(C, "deploy-x", everything), A, "s3:GetObject", "x", policy).allowed)

    def test_an_explicit_deny_wins(self):
        policy = json.loads(json.dumps(S3_WALKTHROUGH))
        policy["Statement"].append({"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
                                    "Resource": "arn:aws:s3:::amzn-s3-demo-bucket/secret/*"})
        denied = decide(Caller.root(B), A, "s3:GetObject",
                        "arn:aws:s3:::amzn-s3-demo-bucket/secret/x", policy)
        self.assertFalse(denied.allowed)
        self.assertIn("explicit deny in a resource-based policy", denied.message)

    def test_an_unknown_condition_operator_never_allows(self):
        policy = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": B}, "Action": "s3:*",
                                 "Resource": "*",
                                 "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01"}}}]}
        self.assertFalse(decide(Caller.root(B), A, "s3:GetObject", "x", policy).allowed)


class KeyPolicies(unittest.TestCase):
    def test_the_external_account_may_decrypt_a_third_may_not(self):
        key = f"arn:aws:kms:us-west-2:{A}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        self.assertTrue(decide(Caller.root(B), A, "kms:Decrypt", key, KMS_EXTERNAL,
                               kind="key policy").allowed)
        self.assertTrue(decide(Caller.root(B), A, "kms:GenerateDataKey", key, KMS_EXTERNAL,
                               kind="key policy").allowed)
        denied = decide(Caller.root(C), A, "kms:Decrypt", key, KMS_EXTERNAL, kind="key policy")
        self.assertFalse(denied.allowed)
        self.assertIn("because no key policy allows the kms:Decrypt action", denied.message)

    def test_the_external_account_may_not_administer_the_key(self):
        key = f"arn:aws:kms:us-west-2:{A}:key/k"
        self.assertFalse(decide(Caller.root(B), A, "kms:ScheduleKeyDeletion", key, KMS_EXTERNAL,
                                kind="key policy").allowed)

    def test_via_service_narrows_the_use_to_s3(self):
        policy = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": B}, "Action": "kms:Decrypt",
                                 "Resource": "*",
                                 "Condition": {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}}]}
        via_s3 = {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}
        self.assertTrue(decide(Caller.root(B), A, "kms:Decrypt", "k", policy, via_s3).allowed)
        self.assertFalse(decide(Caller.root(B), A, "kms:Decrypt", "k", policy).allowed)


class RegistryPolicies(unittest.TestCase):
    def test_the_source_may_replicate_and_create(self):
        repo = f"arn:aws:ecr:us-west-2:{B}:repository/app/web"
        for action in ("ecr:ReplicateImage", "ecr:CreateRepository"):
            self.assertTrue(decide(Caller.root(A), B, action, repo, ECR_REGISTRY).allowed)
        self.assertFalse(decide(Caller.root(C), B, "ecr:ReplicateImage", repo, ECR_REGISTRY).allowed)

    def test_without_create_repository_only_existing_repositories_take_replicas(self):
        policy = json.loads(json.dumps(ECR_REGISTRY))
        policy["Statement"][0]["Action"] = ["ecr:ReplicateImage"]
        repo = f"arn:aws:ecr:us-west-2:{B}:repository/app/web"
        self.assertTrue(decide(Caller.root(A), B, "ecr:ReplicateImage", repo, policy).allowed)
        self.assertFalse(decide(Caller.root(A), B, "ecr:CreateRepository", repo, policy).allowed)


class TrustPolicies(unittest.TestCase):
    def test_a_trust_policy_names_who_may_assume_the_role(self):
        # IAM User Guide, "Tutorial: Delegate access across AWS accounts using IAM roles".
        trust = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{B}:root"},
                                "Action": "sts:AssumeRole"}]}
        arn = f"arn:aws:iam::{A}:role/UpdateApp"
        self.assertTrue(decide(Caller.root(B), A, "sts:AssumeRole", arn, trust, kind="trust policy").allowed)
        self.assertFalse(decide(Caller.root(C), A, "sts:AssumeRole", arn, trust, kind="trust policy").allowed)


class Replication(unittest.TestCase):
    CONFIGURATION = {"rules": [{
        "destinations": [{"region": "us-west-2", "registryId": B}],
        "repositoryFilters": [{"filter": "prod", "filterType": "PREFIX_MATCH"}],
    }]}

    def test_filters_choose_the_repositories(self):
        # ECR User Guide, "Private image replication": a prefix filter.
        self.assertEqual(replication_destinations(self.CONFIGURATION, "prod-microservice"),
                         [(B, "us-west-2")])
        self.assertEqual(replication_destinations(self.CONFIGURATION, "dev-microservice"), [])

    def test_a_rule_without_filters_replicates_everything(self):
        rules = {"rules": [{"destinations": [{"region": "eu-west-1", "registryId": B}]}]}
        self.assertEqual(replication_destinations(rules, "anything"), [(B, "eu-west-1")])
        self.assertEqual(replication_destinations({"rules": []}, "anything"), [])


if __name__ == "__main__":
    unittest.main()
