//! Audits for scheduled runs: is what runs what was declared and deployed?
//!
//! `drift` compares the live environment with the rendered desired state and the last
//! deployment record; `alarms` checks the alarms and their notification wiring. Both
//! produce findings (severity, resource, expected, actual, a fix); exit 2 when any exists.
//! A check that cannot run (drift detection not offered, access denied, throttling that
//! gave up) makes the verdict `incomplete` (exit 1), never `clean`.

pub mod alarms;
pub mod drift;
pub mod retraining;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "FindingSeverity")]
pub enum Severity {
    High,
    Medium,
    Low,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::High => "high",
            Self::Medium => "medium",
            Self::Low => "low",
        }
    }
}

/// One difference between what should be and what is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Finding {
    pub severity: Severity,
    /// What kind of difference, as `alarm.threshold` or `lambda.alias`.
    pub kind: &'static str,
    /// The resource, as `alarm facturascan-prod-ocr-latency` or `service ocr`.
    pub resource: String,
    pub expected: String,
    pub actual: String,
    pub fix: String,
}

impl Finding {
    pub fn new(
        severity: Severity,
        kind: &'static str,
        resource: impl Into<String>,
        expected: impl Into<String>,
        actual: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            severity,
            kind,
            resource: resource.into(),
            expected: expected.into(),
            actual: actual.into(),
            fix: fix.into(),
        }
    }
}

/// A check that could not run, and why: it is never counted as passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct NotRun {
    /// What was not checked, as `cloudformation drift of network` or `services`.
    pub check: String,
    pub why: String,
}

/// How an audit ended: findings, nothing found, or not everything could be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuditVerdict {
    Clean,
    Findings,
    /// No findings, but some checks did not run: not a clean bill.
    Incomplete,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AuditReport {
    /// `drift` or `alarms`.
    pub audit: &'static str,
    pub environment: String,
    pub findings: Vec<Finding>,
    /// Checks that could not run, one each, with why.
    pub not_run: Vec<NotRun>,
    /// Remarks that change no verdict (a service not in the record yet).
    pub notes: Vec<String>,
}

impl AuditReport {
    pub fn new(audit: &'static str, environment: &str) -> Self {
        Self {
            audit,
            environment: environment.to_string(),
            findings: Vec::new(),
            not_run: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Records a check that could not run.
    pub fn not_run(&mut self, check: impl Into<String>, why: impl std::fmt::Display) {
        self.not_run.push(NotRun {
            check: check.into(),
            why: why.to_string(),
        });
    }

    pub fn verdict(&self) -> AuditVerdict {
        if !self.findings.is_empty() {
            AuditVerdict::Findings
        } else if !self.not_run.is_empty() {
            AuditVerdict::Incomplete
        } else {
            AuditVerdict::Clean
        }
    }

    /// Findings by severity, then resource, so reports read the same every run.
    pub fn sort(&mut self) {
        self.findings.sort_by(|a, b| {
            (a.severity, &a.resource, a.kind).cmp(&(b.severity, &b.resource, b.kind))
        });
    }

    /// Nothing found and every check ran.
    pub fn clean(&self) -> bool {
        self.verdict() == AuditVerdict::Clean
    }
}
