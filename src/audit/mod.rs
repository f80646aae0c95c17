//! Audits for scheduled runs: is what runs what was declared and deployed?
//!
//! `drift` compares the live environment with the rendered desired state and the last
//! deployment record; `alarms` checks the alarms and their notification wiring. Both
//! produce findings (severity, resource, expected, actual, a fix); exit 2 when any exists.

pub mod alarms;
pub mod drift;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    /// `drift` or `alarms`.
    pub audit: &'static str,
    pub environment: String,
    pub findings: Vec<Finding>,
    /// What could not be checked, and why (drift detection not offered, no record yet).
    pub notes: Vec<String>,
}

impl AuditReport {
    pub fn new(audit: &'static str, environment: &str) -> Self {
        Self {
            audit,
            environment: environment.to_string(),
            findings: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Findings by severity, then resource, so reports read the same every run.
    pub fn sort(&mut self) {
        self.findings.sort_by(|a, b| {
            (a.severity, &a.resource, a.kind).cmp(&(b.severity, &b.resource, b.kind))
        });
    }

    pub fn clean(&self) -> bool {
        self.findings.is_empty()
    }
}
