//! `FileService`: client-streaming upload and server-streaming download.
//!
//! A name is validated once here, to a plain file name (letters, digits, `.`, `_`, `-`, not
//! starting with a dot), so no name can address anything outside the store — whatever the
//! store does with it. An upload becomes visible only when complete (see
//! [`crate::storage::FileUpload`]): a failed, cancelled or oversized upload leaves nothing.

mod error;

use std::{pin::Pin, sync::Arc, time::SystemTime};

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

pub use self::error::FilesError;
use crate::{
    paging::{Page, PageLimits},
    pb::{self, download_response, file_service_server, upload_request},
    storage::{FileRecord, FileStore},
    validate::Violations,
};

const PAGE_LIMITS: PageLimits = PageLimits { default: 100, max: 1000 };
const MAX_NAME_BYTES: usize = 255;
const MAX_CHUNK_BYTES: usize = 1024 * 1024;
const MAX_CONTENT_TYPE_BYTES: usize = 255;

/// Limits of the file service.
#[derive(Debug, Clone, Copy)]
pub struct FileLimits {
    pub max_upload_bytes: u64,
    /// Largest content chunk a download sends, so a chunk message always fits the server's
    /// `--max-message-bytes`.
    pub max_chunk_bytes: usize,
}

impl Default for FileLimits {
    fn default() -> Self {
        Self { max_upload_bytes: 64 * 1024 * 1024, max_chunk_bytes: 64 * 1024 }
    }
}

pub struct FileService {
    store: Arc<dyn FileStore>,
    limits: FileLimits,
}

impl FileService {
    pub fn new(store: Arc<dyn FileStore>, limits: FileLimits) -> Self {
        Self { store, limits }
    }

    pub fn into_server(self) -> file_service_server::FileServiceServer<Self> {
        file_service_server::FileServiceServer::new(self)
    }

    async fn upload(&self, mut parts: Streaming<pb::UploadRequest>) -> Result<pb::FileInfo, FilesError> {
        let info = match parts.message().await.map_err(FilesError::Stream)? {
            Some(pb::UploadRequest { part: Some(upload_request::Part::Info(info)) }) => info,
            _ => return Err(Violations::single("info", "the first message of an upload must carry `info`").into()),
        };
        let mut violations = Violations::new();
        violations.check("info.name", check_name(&info.name));
        if info.content_type.len() > MAX_CONTENT_TYPE_BYTES || info.content_type.chars().any(char::is_control) {
            violations.add("info.content_type", "must be a media type like text/plain");
        }
        if info.size < 0 {
            violations.add("info.size", "must not be negative");
        }
        violations.into_result()?;
        let limit = self.limits.max_upload_bytes;
        if u64::try_from(info.size).is_ok_and(|size| size > limit) {
            return Err(FilesError::TooLarge { limit });
        }

        // Dropped without commit on every error path below: nothing becomes visible.
        let mut upload = self.store.begin_upload(&info.name).await?;
        let mut size: u64 = 0;
        let mut hasher = Sha256::new();
        while let Some(part) = parts.message().await.map_err(FilesError::Stream)? {
            let chunk = match part.part {
                Some(upload_request::Part::Chunk(chunk)) => chunk,
                _ => {
                    return Err(
                        Violations::single("info", "only the first message of an upload may carry `info`").into()
                    );
                }
            };
            if chunk.len() > MAX_CHUNK_BYTES {
                return Err(Violations::single("chunk", format!("must be at most {MAX_CHUNK_BYTES} bytes")).into());
            }
            size += chunk.len() as u64;
            if size > limit {
                return Err(FilesError::TooLarge { limit });
            }
            hasher.update(&chunk);
            upload.write(chunk).await?;
        }
        if info.size > 0 && u64::try_from(info.size).ok() != Some(size) {
            return Err(
                Violations::single("info.size", format!("announced {} bytes but {size} were sent", info.size)).into()
            );
        }
        let record = FileRecord {
            name: info.name,
            size,
            content_type: info.content_type,
            sha256: hasher.finalize().iter().map(|b| format!("{b:02x}")).collect(),
            create_time: SystemTime::now(),
        };
        let record = upload.commit(record).await?;
        tracing::info!(file = %record.name, size = record.size, "file uploaded");
        Ok(to_proto(record))
    }

    async fn list(&self, request: pb::ListFilesRequest) -> Result<pb::ListFilesResponse, FilesError> {
        let mut violations = Violations::new();
        let page = Page::parse(request.page_size, &request.page_token, "", PAGE_LIMITS, &mut violations);
        violations.into_result()?;
        let mut files = self.store.list(page.after.as_deref(), page.fetch_limit()).await?;
        let next_page_token = page.finish(&mut files, |f| f.name.clone());
        Ok(pb::ListFilesResponse { files: files.into_iter().map(to_proto).collect(), next_page_token })
    }
}

type DownloadStream = Pin<Box<dyn Stream<Item = Result<pb::DownloadResponse, Status>> + Send>>;

#[tonic::async_trait]
impl file_service_server::FileService for FileService {
    async fn upload(&self, request: Request<Streaming<pb::UploadRequest>>) -> Result<Response<pb::FileInfo>, Status> {
        Ok(Response::new(FileService::upload(self, request.into_inner()).await?))
    }

    type DownloadStream = DownloadStream;

    async fn download(&self, request: Request<pb::DownloadRequest>) -> Result<Response<DownloadStream>, Status> {
        let name = request.into_inner().name;
        check_name(&name).map_err(|d| FilesError::from(Violations::single("name", d)))?;
        let Some((record, content)) = self.store.open(&name).await.map_err(FilesError::from)? else {
            return Err(FilesError::NotFound(name).into());
        };
        let info = pb::DownloadResponse { part: Some(download_response::Part::Info(to_proto(record))) };
        let most = self.limits.max_chunk_bytes.max(1);
        let chunks = futures_util::StreamExt::flat_map(content, move |chunk: Result<Bytes, _>| {
            let messages: Vec<Result<pb::DownloadResponse, Status>> = match chunk {
                Ok(mut bytes) => {
                    let mut messages = Vec::with_capacity(bytes.len().div_ceil(most));
                    while !bytes.is_empty() {
                        let piece = bytes.split_to(bytes.len().min(most));
                        messages.push(Ok(pb::DownloadResponse { part: Some(download_response::Part::Chunk(piece)) }));
                    }
                    messages
                }
                Err(e) => vec![Err(Status::from(FilesError::from(e)))],
            };
            tokio_stream::iter(messages)
        });
        Ok(Response::new(Box::pin(tokio_stream::once(Ok(info)).chain(chunks))))
    }

    async fn list_files(
        &self,
        request: Request<pb::ListFilesRequest>,
    ) -> Result<Response<pb::ListFilesResponse>, Status> {
        Ok(Response::new(self.list(request.into_inner()).await?))
    }

    async fn delete_file(&self, request: Request<pb::DeleteFileRequest>) -> Result<Response<()>, Status> {
        let name = request.into_inner().name;
        check_name(&name).map_err(|d| FilesError::from(Violations::single("name", d)))?;
        if self.store.delete(&name).await.map_err(FilesError::from)? {
            Ok(Response::new(()))
        } else {
            Err(FilesError::NotFound(name).into())
        }
    }
}

fn to_proto(record: FileRecord) -> pb::FileInfo {
    pb::FileInfo {
        name: record.name,
        size: i64::try_from(record.size).unwrap_or(i64::MAX),
        content_type: record.content_type,
        sha256: record.sha256,
        create_time: Some(record.create_time.into()),
    }
}

/// A plain file name: it names a file in the upload area and nothing else (no separators,
/// no `..`, no hidden files, nothing a shell or filesystem treats specially).
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(format!("must be at most {MAX_NAME_BYTES} bytes"));
    }
    if name.starts_with('.') {
        return Err("must not start with a dot".to_owned());
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
        return Err("may hold only letters, digits, '.', '_' and '-' (no paths)".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn names_cannot_escape_the_upload_area() {
        for bad in ["", "..", "../etc/passwd", "a/b", "/abs", ".hidden", "a\\b", "a\0b", "nul:", "ä.txt"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        for good in ["report.pdf", "a-b_c.tar.gz", "README"] {
            assert!(check_name(good).is_ok(), "{good:?}");
        }
    }
}
