//! One object store, named by a URL, behind blocking calls with retries.

use crate::{ReplicaError, Result};
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload};
use std::sync::Arc;
use std::time::Duration;

/// An object store and a prefix in it, from a URL:
///
/// * `s3://bucket/prefix`: endpoint, region and credentials from the usual
///   `AWS_*` variables (`AWS_ENDPOINT`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`,
///   `AWS_SECRET_ACCESS_KEY`, ...); plain HTTP is allowed when
///   `AWS_ENDPOINT` starts with `http://` (a local server).
/// * `gs://bucket/prefix` (`GOOGLE_*` variables), `az://container/prefix`
///   (`AZURE_*` variables).
/// * `file:///dir`: a local directory (created if missing).
/// * `memory://`: in this process only, for tests.
///
/// Calls block on a runtime of their own and retry transient failures
/// with exponential backoff.
pub struct Remote {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    rt: tokio::runtime::Runtime,
    attempts: u32,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("store", &self.store.to_string())
            .field("prefix", &self.prefix)
            .finish()
    }
}

fn url_error(url: &str, reason: impl ToString) -> ReplicaError {
    ReplicaError::Url {
        url: url.into(),
        reason: reason.to_string(),
    }
}

impl Remote {
    /// Opens the store a URL names (see the type's documentation).
    pub fn open(url: &str) -> Result<Remote> {
        Self::open_with(url, &[])
    }

    /// Like [`Remote::open`], with settings that take precedence over the
    /// environment's, named as the variables are (`AWS_ENDPOINT`, ...).
    pub fn open_with(url: &str, settings: &[(&str, String)]) -> Result<Remote> {
        let parsed = url::Url::parse(url).map_err(|e| url_error(url, e))?;
        let path_prefix = parsed.path().trim_matches('/').to_string();
        let (store, prefix): (Arc<dyn ObjectStore>, String) = match parsed.scheme() {
            "s3" => {
                let mut b = object_store::aws::AmazonS3Builder::from_env().with_url(url);
                let mut endpoint = std::env::var("AWS_ENDPOINT").ok();
                for (key, value) in settings {
                    let key = key
                        .to_ascii_lowercase()
                        .parse()
                        .map_err(|e| url_error(url, e))?;
                    if matches!(key, object_store::aws::AmazonS3ConfigKey::Endpoint) {
                        endpoint = Some(value.clone());
                    }
                    b = b.with_config(key, value);
                }
                if endpoint.is_some_and(|e| e.starts_with("http://")) {
                    b = b.with_allow_http(true);
                }
                (Arc::new(b.build()?), path_prefix)
            }
            "gs" => (
                Arc::new(
                    object_store::gcp::GoogleCloudStorageBuilder::from_env()
                        .with_url(url)
                        .build()?,
                ),
                path_prefix,
            ),
            "az" | "azure" | "abfs" => (
                Arc::new(
                    object_store::azure::MicrosoftAzureBuilder::from_env()
                        .with_url(url)
                        .build()?,
                ),
                path_prefix,
            ),
            "file" => {
                let dir = parsed
                    .to_file_path()
                    .map_err(|_| url_error(url, "not a local path"))?;
                std::fs::create_dir_all(&dir).map_err(|source| ReplicaError::Io {
                    path: dir.display().to_string(),
                    source,
                })?;
                (
                    Arc::new(object_store::local::LocalFileSystem::new_with_prefix(&dir)?),
                    String::new(),
                )
            }
            "memory" => (Arc::new(object_store::memory::InMemory::new()), path_prefix),
            other => return Err(url_error(url, format!("unknown scheme {other:?}"))),
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| ReplicaError::Io {
                path: "tokio runtime".into(),
                source,
            })?;
        Ok(Remote {
            store,
            prefix,
            rt,
            attempts: 8,
        })
    }

    /// How many times a transiently failing call is tried (at least once).
    pub fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.max(1);
        self
    }

    fn full(&self, path: &Path) -> Path {
        if self.prefix.is_empty() {
            path.clone()
        } else {
            Path::from(format!("{}/{}", self.prefix, path))
        }
    }

    /// Runs `op` until it succeeds, fails for good, or runs out of tries.
    fn retry<T, F, Fut>(&self, op: F) -> Result<T, object_store::Error>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, object_store::Error>>,
    {
        let mut delay = Duration::from_millis(100);
        let mut tries = 0;
        loop {
            tries += 1;
            match self.rt.block_on(op()) {
                Ok(v) => return Ok(v),
                Err(e) if tries >= self.attempts || !transient(&e) => return Err(e),
                Err(_) => {
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// The names (relative to the prefix) of the objects under `dir`.
    pub fn list(&self, dir: &str) -> Result<Vec<String>> {
        let base = self.full(&Path::from(dir));
        let strip = if self.prefix.is_empty() {
            0
        } else {
            self.prefix.len() + 1
        };
        let metas = self.retry(|| self.store.list(Some(&base)).try_collect::<Vec<_>>())?;
        Ok(metas
            .into_iter()
            .filter_map(|m| m.location.as_ref().get(strip..).map(str::to_string))
            .collect())
    }

    /// The bytes of an object, refusing one longer than `max`.
    pub fn get(&self, path: &Path, max: u64) -> Result<Vec<u8>> {
        let full = self.full(path);
        let got = self.retry(|| async {
            let r = self.store.get(&full).await?;
            if r.meta.size > max {
                return Ok(None);
            }
            r.bytes().await.map(Some)
        });
        match got {
            Ok(Some(b)) => Ok(b.to_vec()),
            Ok(None) => Err(ReplicaError::Damaged {
                object: path.to_string(),
                reason: format!("longer than the {max} bytes accepted"),
            }),
            Err(object_store::Error::NotFound { .. }) => Err(ReplicaError::Missing {
                object: path.to_string(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes an object that must not exist yet (a conditional PUT): one
    /// that exists is [`ReplicaError::Conflict`].
    pub fn put_new(&self, path: &Path, bytes: Vec<u8>) -> Result<()> {
        let full = self.full(path);
        let payload = PutPayload::from(bytes);
        let put = self.retry(|| {
            self.store.put_opts(
                &full,
                payload.clone(),
                PutOptions {
                    mode: PutMode::Create,
                    ..PutOptions::default()
                },
            )
        });
        match put {
            Ok(_) => Ok(()),
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => Err(ReplicaError::Conflict {
                object: path.to_string(),
                reason: "it exists already: another replicator writes to this prefix".into(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes an object (a missing one is fine).
    pub fn delete(&self, path: &Path) -> Result<()> {
        let full = self.full(path);
        match self.retry(|| self.store.delete(&full)) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Overwrites an object unconditionally (tests use it to damage one).
    #[doc(hidden)]
    pub fn put_raw(&self, path: &Path, bytes: Vec<u8>) -> Result<()> {
        let full = self.full(path);
        let payload = PutPayload::from(bytes);
        self.retry(|| self.store.put(&full, payload.clone()))?;
        Ok(())
    }
}

/// Whether retrying may help.
fn transient(e: &object_store::Error) -> bool {
    use object_store::Error as E;
    !matches!(
        e,
        E::NotFound { .. }
            | E::AlreadyExists { .. }
            | E::Precondition { .. }
            | E::NotModified { .. }
            | E::NotImplemented
            | E::NotSupported { .. }
            | E::InvalidPath { .. }
            | E::PermissionDenied { .. }
            | E::Unauthenticated { .. }
            | E::UnknownConfigurationKey { .. }
    )
}
