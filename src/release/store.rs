//! The environment's release store: one versioned, private, encrypted S3 bucket holding
//! deployment records (`records/<id>.json`), the deploy lock (`lock.json`, taken with
//! conditional writes), forced unlocks (`unlocks/<id>.json`) and the Lambda packages a
//! promotion deploys again (`packages/<service>/<sha256 hex>.zip`).
//!
//! S3 rather than SSM: records outgrow a parameter's 8 KB with a few services, versioning
//! keeps every overwrite, and S3's conditional writes (If-None-Match, If-Match) make the
//! lock atomic without another service.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_s3::primitives::ByteStream;
use serde::{Deserialize, Serialize};

use super::record::{Record, stamps};
use crate::aws::AwsContext;
use crate::aws::AwsError;
use crate::aws::s3::{is_missing, is_precondition_failed, list_keys};
use crate::config::Config;

pub struct Store<'a> {
    aws: &'a AwsContext,
    pub bucket: String,
    region: String,
    /// The environment's name, for the commands a message names.
    environment: String,
    /// The account of the environment promoted from this one, granted its reads.
    reader: Option<String>,
}

const LOCK_KEY: &str = "lock.json";
const CURRENT_KEY: &str = "current.json";

/// What reading one JSON object of the store found.
enum Read<T> {
    Absent,
    Found(T, String),
    /// It exists but does not parse: `problem` says where and why; `etag` lets an operator's
    /// forced unlock delete exactly what was read.
    Unreadable {
        problem: String,
        etag: String,
    },
}

/// How many times taking the lock may find it changing under it (released, taken over by
/// another run) before giving up: each such round means another run is active.
const LOCK_ROUNDS: u32 = 20;

/// A parse error as a person reads it: serde's line and column, and what the object
/// starts with when it is not even JSON (never the whole body: it may be large).
fn problem_of(bytes: &[u8], e: &serde_json::Error) -> String {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return "it is empty".to_string();
    }
    format!("{e}")
}

impl<'a> Store<'a> {
    pub fn new(aws: &'a AwsContext, config: &Config) -> Self {
        Self {
            aws,
            bucket: config.records_bucket(),
            region: config.environment.region.clone(),
            environment: config.environment.name.clone(),
            reader: config.promotion.as_ref().map(|p| p.account_id.clone()),
        }
    }

    /// Creates the bucket on first use: versioned, public access blocked, encrypted, its
    /// policy and lifecycle settled.
    pub async fn ensure(&self) -> Result<(), AwsError> {
        if self.create_if_missing().await? {
            self.settle().await?;
        }
        Ok(())
    }

    /// The bucket, created when it does not exist; whether it was.
    async fn create_if_missing(&self) -> Result<bool, AwsError> {
        match self.aws.s3.head_bucket().bucket(&self.bucket).send().await {
            Ok(_) => return Ok(false),
            Err(e) if is_missing(&e) => {}
            Err(e) => return Err(AwsError::new("HeadBucket", e)),
        }
        let mut create = self.aws.s3.create_bucket().bucket(&self.bucket);
        if self.region != "us-east-1" {
            create = create.create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(
                        self.region.as_str(),
                    ))
                    .build(),
            );
        }
        if let Err(e) = create.send().await {
            use aws_sdk_s3::error::ProvideErrorMetadata;
            // Two first deploys racing: the other one made it.
            if e.code() != Some("BucketAlreadyOwnedByYou") {
                return Err(AwsError::new("CreateBucket", e));
            }
        }
        self.aws
            .s3
            .put_bucket_versioning()
            .bucket(&self.bucket)
            .versioning_configuration(
                aws_sdk_s3::types::VersioningConfiguration::builder()
                    .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| AwsError::new("PutBucketVersioning", e))?;
        self.aws
            .s3
            .put_public_access_block()
            .bucket(&self.bucket)
            .public_access_block_configuration(
                aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(true)
                    .restrict_public_buckets(true)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| AwsError::new("PutPublicAccessBlock", e))?;
        Ok(true)
    }

    /// The bucket as `ensure` makes it, its policy and lifecycle set again even when it
    /// exists (a bucket made by an earlier version, or a new promotion target).
    pub async fn ensure_settled(&self) -> Result<(), AwsError> {
        self.create_if_missing().await?;
        self.settle().await
    }

    /// The bucket's policy and lifecycle, as they should be (`bootstrap` runs it each time,
    /// a bucket's creation once): TLS only; the environment promoted from this one (another
    /// account) lists and reads the records and reads the Lambda packages it promotes,
    /// nothing else; overwritten versions (the lock, `current.json`) kept 90 days, then
    /// gone; unfinished uploads gone after 7 days.
    async fn settle(&self) -> Result<(), AwsError> {
        let policy = bucket_policy(&self.bucket, self.reader.as_deref());
        self.aws
            .s3
            .put_bucket_policy()
            .bucket(&self.bucket)
            .policy(policy.to_string())
            .send()
            .await
            .map_err(|e| AwsError::new("PutBucketPolicy", e))?;
        let lifecycle = lifecycle()
            .map_err(|e| AwsError::local("PutBucketLifecycleConfiguration", None, e.to_string()))?;
        self.aws
            .s3
            .put_bucket_lifecycle_configuration()
            .bucket(&self.bucket)
            .lifecycle_configuration(lifecycle)
            .send()
            .await
            .map_err(|e| AwsError::new("PutBucketLifecycleConfiguration", e))?;
        Ok(())
    }

    /// The account granted the promotion's reads, if any.
    pub fn reader(&self) -> Option<&str> {
        self.reader.as_deref()
    }

    async fn put_json(&self, key: &str, value: &impl Serialize) -> Result<(), AwsError> {
        crate::aws::s3::put_json(&self.aws.s3, &self.bucket, key, value)
            .await
            .map_err(|e| AwsError::new("PutObject", e))
    }

    /// Reads a JSON object. One that exists but does not parse is `Unreadable`, never
    /// absent: a corrupt lock read as "free" or a corrupt record as "no release" would let
    /// the tool loop or lie.
    async fn get_json<T: for<'de> Deserialize<'de>>(&self, key: &str) -> Result<Read<T>, AwsError> {
        self.get_json_of(key, None).await
    }

    /// `get_json`, refused by AWS unless the bucket belongs to `owner` (when named).
    async fn get_json_of<T: for<'de> Deserialize<'de>>(
        &self,
        key: &str,
        owner: Option<&str>,
    ) -> Result<Read<T>, AwsError> {
        match self
            .aws
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_expected_bucket_owner(owner.map(str::to_string))
            .send()
            .await
        {
            Ok(out) => {
                let etag = out.e_tag().unwrap_or_default().to_string();
                let bytes = out
                    .body
                    .collect()
                    .await
                    .map_err(|e| AwsError::local("GetObject", None, e.to_string()))?
                    .into_bytes();
                Ok(match serde_json::from_slice(&bytes) {
                    Ok(value) => Read::Found(value, etag),
                    Err(e) => Read::Unreadable {
                        problem: problem_of(&bytes, &e),
                        etag,
                    },
                })
            }
            Err(e) if is_missing(&e) => Ok(Read::Absent),
            Err(e) => Err(AwsError::new("GetObject", e)),
        }
    }

    /// The error for an object that does not parse: where it is, what is wrong, the fix.
    fn unreadable(&self, key: &str, what: &str, problem: &str, fix: &str) -> AwsError {
        AwsError::local(
            "GetObject",
            None,
            format!(
                "s3://{}/{key} is not {what} ({problem}); {fix}",
                self.bucket
            ),
        )
    }

    /// A record that does not parse: the bucket is versioned, so an earlier version of
    /// the object is the way back.
    fn unreadable_record(&self, key: &str, problem: &str) -> AwsError {
        self.unreadable(
            key,
            "a deployment record",
            problem,
            &format!(
                "restore its last good version (`aws s3api list-object-versions --bucket {} --prefix {key}`, then copy that version over it)",
                self.bucket
            ),
        )
    }

    /// A lock that does not parse: only an operator can say no run is under way.
    fn unreadable_lock(&self, problem: &str) -> AwsError {
        self.unreadable(
            LOCK_KEY,
            "a deploy lock",
            problem,
            &format!(
                "if no deploy is under way, clear it with `facturactl unlock --env {} --yes` (recorded)",
                self.environment
            ),
        )
    }

    /// Writes the record; a successful one also becomes `current.json`, what runs now.
    pub async fn put_record(&self, record: &Record) -> Result<(), AwsError> {
        let key = format!("records/{}.json", record.id);
        if record.succeeded() {
            futures_util::try_join!(
                self.put_json(&key, record),
                self.put_json(CURRENT_KEY, record)
            )?;
            Ok(())
        } else {
            self.put_json(&key, record).await
        }
    }

    /// Attaches a verification to the record it verified (`records/<id>.json`), and to
    /// `current.json` while that is still the same release. Run under the deploy lock, so
    /// no deploy moves `current.json` between the read and the write.
    pub async fn put_verification(
        &self,
        record: &Record,
        verification: &super::verification::Verification,
    ) -> Result<(), AwsError> {
        let mut verified = record.clone();
        verified.verification = Some(verification.clone());
        let key = format!("records/{}.json", record.id);
        let still_current = self.current().await?.is_some_and(|c| c.id == record.id);
        if still_current {
            futures_util::try_join!(
                self.put_json(&key, &verified),
                self.put_json(CURRENT_KEY, &verified)
            )?;
            Ok(())
        } else {
            self.put_json(&key, &verified).await
        }
    }

    /// The lock's state and the current record, read together with the account check
    /// (`Session::aws_with`): both reads name the environment's account as the bucket's
    /// expected owner, so with another account's credentials AWS refuses them before
    /// reading anything. A deploy that finds nothing to change decides on reads made after
    /// these (see [`Snapshot`]).
    pub async fn snapshot(&self, account: &str) -> Result<Snapshot, AwsError> {
        let read_at = SystemTime::now();
        let (lock, current) = tokio::join!(
            self.get_json_of::<LockInfo>(LOCK_KEY, Some(account)),
            self.get_json_of::<Record>(CURRENT_KEY, Some(account))
        );
        let lock_free = matches!(lock?, Read::Absent);
        let (current, etag) = match current? {
            Read::Found(record, etag) => (Some(record), Some(etag)),
            Read::Absent => (None, None),
            Read::Unreadable { problem, .. } => {
                return Err(self.unreadable_record(CURRENT_KEY, &problem));
            }
        };
        Ok(Snapshot {
            read_at,
            lock_free,
            current,
            etag,
        })
    }

    /// Writes the record of a run that changed nothing and took no lock: `current.json`
    /// only while it is still the one `snapshot` read (If-Match; If-None-Match when there
    /// was none). False when another run recorded since: its record is newer and stays
    /// current; this one is kept in the history.
    pub async fn put_record_if_current(
        &self,
        record: &Record,
        snapshot: &Snapshot,
    ) -> Result<bool, AwsError> {
        let key = format!("records/{}.json", record.id);
        let body = serde_json::to_vec_pretty(record).unwrap_or_default();
        let put = self
            .aws
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(CURRENT_KEY)
            .content_type("application/json")
            .body(ByteStream::from(body));
        let put = match &snapshot.etag {
            Some(etag) => put.if_match(etag),
            None => put.if_none_match("*"),
        };
        let (history, current) = tokio::join!(self.put_json(&key, record), put.send());
        history?;
        match current {
            Ok(_) => Ok(true),
            Err(e) if is_precondition_failed(&e) => Ok(false),
            Err(e) => Err(AwsError::new("PutObject", e)),
        }
    }

    /// The last successful record (one read, however long the history).
    pub async fn current(&self) -> Result<Option<Record>, AwsError> {
        match self.get_json::<Record>(CURRENT_KEY).await {
            Ok(Read::Found(r, _)) => Ok(Some(r)),
            Ok(Read::Absent) => Ok(None),
            Ok(Read::Unreadable { problem, .. }) => {
                Err(self.unreadable_record(CURRENT_KEY, &problem))
            }
            Err(e) if e.code.as_deref() == Some("NoSuchBucket") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The newest `newest` records (all when None), oldest first. Keys sort by time, so one
    /// listing finds them and only those are read.
    pub async fn records(&self, newest: Option<usize>) -> Result<Vec<Record>, AwsError> {
        let mut keys = match list_keys(&self.aws.s3, &self.bucket, "records/").await {
            Ok(keys) => keys,
            Err(e) if is_missing(&e) => return Ok(Vec::new()),
            Err(e) => return Err(AwsError::new("ListObjectsV2", e)),
        };
        keys.sort();
        if let Some(n) = newest {
            keys.drain(..keys.len().saturating_sub(n));
        }
        let mut records = Vec::with_capacity(keys.len());
        for batch in keys.chunks(16) {
            let reads = batch.iter().map(|k| self.get_json::<Record>(k));
            let found = futures_util::future::try_join_all(reads).await?;
            for (key, read) in batch.iter().zip(found) {
                match read {
                    Read::Found(r, _) => records.push(r),
                    Read::Absent => {} // deleted since the listing
                    Read::Unreadable { problem, .. } => {
                        return Err(self.unreadable_record(key, &problem));
                    }
                }
            }
        }
        Ok(records)
    }

    /// Keeps a Lambda package (content-addressed, written once); returns its `s3://` URI.
    pub async fn keep_package(
        &self,
        service: &str,
        code_sha256: &str,
        bytes: &[u8],
    ) -> Result<String, AwsError> {
        use base64::Engine;
        let hex: String = base64::engine::general_purpose::STANDARD
            .decode(code_sha256)
            .unwrap_or_default()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let key = format!("packages/{service}/{hex}.zip");
        let result = self
            .aws
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .if_none_match("*")
            .body(ByteStream::from(bytes.to_vec()))
            .customize()
            .config_override(crate::aws::s3_transfer())
            .send()
            .await;
        match result {
            Ok(_) => {}
            Err(e) if is_precondition_failed(&e) => {} // already kept
            Err(e) => return Err(AwsError::new("PutObject", e)),
        }
        Ok(format!("s3://{}/{key}", self.bucket))
    }
}

/// How long an overwritten version of a store object is kept (an operator restores a
/// record or a lock from it within that time).
const NONCURRENT_DAYS: i32 = 90;

/// Old versions expire after `NONCURRENT_DAYS`; unfinished uploads after 7 days.
fn lifecycle()
-> Result<aws_sdk_s3::types::BucketLifecycleConfiguration, aws_sdk_s3::error::BuildError> {
    use aws_sdk_s3::types::{
        AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, ExpirationStatus,
        LifecycleRule, LifecycleRuleFilter, NoncurrentVersionExpiration,
    };
    let rule = LifecycleRule::builder()
        .id("old-versions")
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("").build())
        .noncurrent_version_expiration(
            NoncurrentVersionExpiration::builder()
                .noncurrent_days(NONCURRENT_DAYS)
                .build(),
        )
        .abort_incomplete_multipart_upload(
            AbortIncompleteMultipartUpload::builder()
                .days_after_initiation(7)
                .build(),
        )
        .build()?;
    BucketLifecycleConfiguration::builder().rules(rule).build()
}

/// The release bucket's policy: requests over TLS only; for account `reader` (the
/// environment promoted from this one), records listed and read, packages read (with
/// their versions: a recorded package is read by the version it was kept as).
fn bucket_policy(bucket: &str, reader: Option<&str>) -> serde_json::Value {
    let mut statements = vec![serde_json::json!({
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
        "Condition": { "Bool": { "aws:SecureTransport": "false" } },
    })];
    if let Some(reader) = reader {
        let principal = serde_json::json!({ "AWS": format!("arn:aws:iam::{reader}:root") });
        statements.push(serde_json::json!({
            "Sid": "PromotionReadsRecordsAndPackages",
            "Effect": "Allow",
            "Principal": principal,
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": [
                format!("arn:aws:s3:::{bucket}/records/*"),
                format!("arn:aws:s3:::{bucket}/packages/*"),
            ],
        }));
        statements.push(serde_json::json!({
            "Sid": "PromotionListsRecords",
            "Effect": "Allow",
            "Principal": principal,
            "Action": "s3:ListBucket",
            "Resource": format!("arn:aws:s3:::{bucket}"),
            "Condition": { "StringLike": { "s3:prefix": ["records/", "records/*"] } },
        }));
    }
    serde_json::json!({ "Version": "2012-10-17", "Statement": statements })
}

/// What `Store::snapshot` read. A deploy that finds nothing to change needs no lock: when
/// the lock was free at this read, every read made after it sees every finished run, and a
/// run that starts later is either seen (what it changed differs, so the deploy takes the
/// lock after all) or comes after this deploy, which then happened first. Its record
/// replaces `current.json` only if no run recorded since (`put_record_if_current`).
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// When the reads were sent: a run decided on them happened then (its record's time).
    pub read_at: SystemTime,
    /// No lock object: no run holds the lock, or had it without releasing it.
    pub lock_free: bool,
    pub current: Option<Record>,
    etag: Option<String>,
}

/// Who holds the deploy lock, and until when.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema, Deserialize)]
pub struct LockInfo {
    pub owner: String,
    pub trace_id: String,
    pub action: String,
    pub started_at: String,
    /// Unix seconds after which the lock may be taken over.
    pub expires_at: u64,
}

impl LockInfo {
    pub fn new(owner: &str, trace_id: &str, action: &str, ttl: Duration) -> Self {
        let now = SystemTime::now();
        Self {
            owner: owner.to_string(),
            trace_id: trace_id.to_string(),
            action: action.to_string(),
            started_at: stamps(now).1,
            expires_at: unix(now) + ttl.as_secs(),
        }
    }

    pub fn expired(&self) -> bool {
        unix(SystemTime::now()) >= self.expires_at
    }

    pub fn describe(&self) -> String {
        format!(
            "{} by {} since {} (trace {}, expires in {} s)",
            self.action,
            self.owner,
            self.started_at,
            self.trace_id,
            self.expires_at.saturating_sub(unix(SystemTime::now()))
        )
    }
}

fn unix(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl HeldLock {
    fn new(info: LockInfo, etag: String, took_over: Option<LockInfo>) -> Self {
        Self {
            info,
            etag: tokio::sync::Mutex::new(etag),
            took_over,
        }
    }
}

/// A held lock: released with the ETag it was written with, so an expired lock that
/// someone else took over is never released by its old holder.
#[derive(Debug)]
pub struct HeldLock {
    pub info: LockInfo,
    etag: tokio::sync::Mutex<String>,
    /// The expired lock this one replaced, if any.
    pub took_over: Option<LockInfo>,
}

#[derive(Debug)]
pub enum LockError {
    /// Another run holds it (after waiting, if asked).
    Held(LockInfo),
    Aws(AwsError),
}

impl From<AwsError> for LockError {
    fn from(e: AwsError) -> Self {
        Self::Aws(e)
    }
}

impl Store<'_> {
    async fn write_lock(
        &self,
        info: &LockInfo,
        condition: Precondition<'_>,
    ) -> Result<Option<String>, AwsError> {
        let mut put = self
            .aws
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(LOCK_KEY)
            .content_type("application/json")
            .body(ByteStream::from(
                serde_json::to_vec_pretty(info).unwrap_or_default(),
            ));
        put = match condition {
            Precondition::Absent => put.if_none_match("*"),
            Precondition::Is(etag) => put.if_match(etag),
        };
        match put.send().await {
            Ok(out) => Ok(Some(out.e_tag().unwrap_or_default().to_string())),
            Err(e) if is_precondition_failed(&e) => Ok(None),
            Err(e) => Err(AwsError::new("PutObject", e)),
        }
    }

    /// Takes the lock: at once when free, by takeover when the holder's expired, after
    /// waiting up to `wait` otherwise. Every round waits: a lock that keeps changing under
    /// this run (released and taken, taken over first) ends it after `LOCK_ROUNDS` rounds,
    /// and one that does not parse ends it at once, naming the fix.
    pub async fn lock(&self, info: LockInfo, wait: Duration) -> Result<HeldLock, LockError> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut made_bucket = false;
        let mut changed = 0;
        let mut last_holder = None;
        while changed < LOCK_ROUNDS {
            let written = match self.write_lock(&info, Precondition::Absent).await {
                // The first deploy of an environment makes its bucket (no check before:
                // one round trip less on every other deploy).
                Err(e) if e.code.as_deref() == Some("NoSuchBucket") && !made_bucket => {
                    self.ensure().await?;
                    made_bucket = true;
                    continue;
                }
                other => other?,
            };
            if let Some(etag) = written {
                return Ok(HeldLock::new(info, etag, None));
            }
            let (holder, etag) = match self.get_json::<LockInfo>(LOCK_KEY).await? {
                Read::Found(holder, etag) => (holder, etag),
                Read::Unreadable { problem, .. } => {
                    return Err(LockError::Aws(self.unreadable_lock(&problem)));
                }
                Read::Absent => {
                    changed += 1; // released in between
                    pause(changed).await;
                    continue;
                }
            };
            if holder.expired() {
                if let Some(etag) = self.write_lock(&info, Precondition::Is(&etag)).await? {
                    return Ok(HeldLock::new(info, etag, Some(holder)));
                }
                changed += 1; // someone else took it over first
                last_holder = Some(holder);
                pause(changed).await;
                continue;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(LockError::Held(holder));
            }
            last_holder = Some(holder);
            tokio::time::sleep(Duration::from_secs(2).min(deadline - tokio::time::Instant::now()))
                .await;
        }
        Err(match last_holder {
            Some(holder) => LockError::Held(holder),
            None => LockError::Aws(AwsError::local(
                "PutObject",
                None,
                format!(
                    "the deploy lock s3://{}/{LOCK_KEY} was taken and released {LOCK_ROUNDS} times while this run tried to take it: other runs are deploying this environment",
                    self.bucket
                ),
            )),
        })
    }

    /// Extends the lock's expiry (long deploys); false when it is no longer ours.
    pub async fn renew(&self, lock: &HeldLock, ttl: Duration) -> Result<bool, AwsError> {
        let mut etag = lock.etag.lock().await;
        let mut info = lock.info.clone();
        info.expires_at = unix(SystemTime::now()) + ttl.as_secs();
        match self.write_lock(&info, Precondition::Is(&etag)).await? {
            Some(new) => {
                *etag = new;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Releases the lock if it is still ours; false when someone took it over.
    pub async fn unlock(&self, lock: &HeldLock) -> Result<bool, AwsError> {
        let etag = lock.etag.lock().await.clone();
        if self.delete_lock(&etag).await? {
            return Ok(true);
        }
        // A renewal still in flight when the run ended may have landed with an ETag this
        // run never saw: the lock is still ours while it carries our trace.
        match self.get_json::<LockInfo>(LOCK_KEY).await? {
            Read::Found(holder, etag) if holder.trace_id == lock.info.trace_id => {
                self.delete_lock(&etag).await
            }
            _ => Ok(false),
        }
    }

    /// Deletes the lock object if its ETag is `etag`; false when it is not (or gone).
    async fn delete_lock(&self, etag: &str) -> Result<bool, AwsError> {
        match self
            .aws
            .s3
            .delete_object()
            .bucket(&self.bucket)
            .key(LOCK_KEY)
            .if_match(etag)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if is_precondition_failed(&e) || is_missing(&e) => Ok(false),
            Err(e) => Err(AwsError::new("DeleteObject", e)),
        }
    }

    /// The current holder, if any; an unreadable lock is an error naming the fix.
    pub async fn holder(&self) -> Result<Option<LockInfo>, AwsError> {
        match self.get_json::<LockInfo>(LOCK_KEY).await? {
            Read::Found(info, _) => Ok(Some(info)),
            Read::Absent => Ok(None),
            Read::Unreadable { problem, .. } => Err(self.unreadable_lock(&problem)),
        }
    }

    /// An operator's forced release: the lock is deleted and the act recorded. A lock that
    /// does not parse is cleared too (it is what traps every run), and so recorded.
    pub async fn force_unlock(&self, who: &str, trace_id: &str) -> Result<Released, AwsError> {
        let (released, etag) = match self.get_json::<LockInfo>(LOCK_KEY).await? {
            Read::Absent => return Ok(Released::Nothing),
            Read::Found(holder, etag) => (Released::Lock(holder), etag),
            Read::Unreadable { problem, etag } => (Released::Unreadable(problem), etag),
        };
        self.aws
            .s3
            .delete_object()
            .bucket(&self.bucket)
            .key(LOCK_KEY)
            .if_match(etag)
            .send()
            .await
            .map_err(|e| AwsError::new("DeleteObject", e))?;
        let now = SystemTime::now();
        let mut entry = serde_json::json!({
            "forced_by": who,
            "trace_id": trace_id,
            "at": stamps(now).1,
        });
        match &released {
            Released::Lock(holder) => entry["released"] = serde_json::json!(holder),
            Released::Unreadable(problem) => entry["unreadable"] = serde_json::json!(problem),
            Released::Nothing => {}
        }
        self.put_json(
            &format!("unlocks/{}.json", super::record::new_id(now, trace_id)),
            &entry,
        )
        .await?;
        Ok(released)
    }
}

/// What a forced unlock removed.
#[derive(Debug, Clone, PartialEq)]
pub enum Released {
    /// The environment was not locked.
    Nothing,
    Lock(LockInfo),
    /// An object that was not a lock (its problem): it blocked every run.
    Unreadable(String),
}

/// The wait before the next try at a lock that changed under us: 100 ms, doubling, at
/// most 2 s, so contending runs spread out instead of hammering the bucket.
async fn pause(round: u32) {
    let ms = 100u64.saturating_mul(1 << round.min(5)).min(2_000);
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

enum Precondition<'e> {
    Absent,
    Is(&'e str),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_release_bucket_takes_tls_only_and_grants_the_promotion_reads_only() {
        let alone = bucket_policy("b", None);
        let statements = alone["Statement"].as_array().expect("statements");
        assert_eq!(statements.len(), 1);
        assert_eq!(statements[0]["Effect"], "Deny");
        assert_eq!(
            statements[0]["Condition"]["Bool"]["aws:SecureTransport"],
            "false"
        );
        let granted = bucket_policy("b", Some("345678901234"));
        let statements = granted["Statement"].as_array().expect("statements");
        assert_eq!(statements.len(), 3);
        let allowed: Vec<String> = statements
            .iter()
            .filter(|s| s["Effect"] == "Allow")
            .flat_map(|s| match &s["Action"] {
                serde_json::Value::Array(a) => a.iter().map(|v| v.to_string()).collect(),
                one => vec![one.to_string()],
            })
            .collect();
        // Reads only: no write, no delete, nothing on the lock.
        assert!(
            allowed
                .iter()
                .all(|a| a.contains("Get") || a.contains("List")),
            "{allowed:?}"
        );
        assert!(!granted.to_string().contains("lock.json"));
        assert!(
            granted
                .to_string()
                .contains("arn:aws:iam::345678901234:root")
        );
        assert!(lifecycle().is_ok());
    }
}
