//! FileService: streaming upload and download, size limits, safe names.

mod common;

use common::{TestServer, bad_fields, test_config};
use switchboard::pb::{
    DeleteFileRequest, DownloadRequest, FileInfo, ListFilesRequest, UploadRequest, download_response,
    upload_request::Part,
};
use tokio_stream::StreamExt;
use tonic::Code;

fn info(name: &str) -> UploadRequest {
    UploadRequest {
        part: Some(Part::Info(FileInfo { name: name.into(), content_type: "text/plain".into(), ..Default::default() })),
    }
}

fn chunk(bytes: &[u8]) -> UploadRequest {
    UploadRequest { part: Some(Part::Chunk(bytes.to_vec().into())) }
}

async fn download(server: &TestServer, name: &str) -> Result<(FileInfo, Vec<u8>), tonic::Status> {
    let mut stream = server.files().download(DownloadRequest { name: name.into() }).await?.into_inner();
    let Some(download_response::Part::Info(info)) = stream.next().await.unwrap()?.part else {
        panic!("download starts with info");
    };
    let mut content = Vec::new();
    while let Some(part) = stream.next().await {
        match part?.part {
            Some(download_response::Part::Chunk(bytes)) => content.extend_from_slice(&bytes),
            other => panic!("unexpected {other:?}"),
        }
    }
    Ok((info, content))
}

#[tokio::test]
async fn upload_then_download_the_same_bytes() {
    let server = TestServer::start().await;
    // 300 KiB in uneven chunks, so the download's 64 KiB chunks do not line up with them.
    let content: Vec<u8> = (0..300 * 1024).map(|i| (i % 251) as u8).collect();
    let mut parts = vec![info("data.bin")];
    parts.extend(content.chunks(70_000).map(chunk));
    let stored = server.files().upload(tokio_stream::iter(parts)).await.unwrap().into_inner();
    assert_eq!(stored.size, content.len() as i64);
    assert_eq!(stored.sha256.len(), 64);

    let (info, downloaded) = download(&server, "data.bin").await.unwrap();
    assert_eq!(info, stored);
    assert_eq!(downloaded, content);

    let listed = server.files().list_files(ListFilesRequest::default()).await.unwrap().into_inner();
    assert_eq!(listed.files, [stored]);
    server.files().delete_file(DeleteFileRequest { name: "data.bin".into() }).await.unwrap();
    assert_eq!(download(&server, "data.bin").await.unwrap_err().code(), Code::NotFound);
}

#[tokio::test]
async fn names_cannot_escape_the_upload_area() {
    let server = TestServer::start().await;
    for name in ["../escape.txt", "/etc/passwd", "a/b.txt", ".hidden", "..", ""] {
        let status = server.files().upload(tokio_stream::iter(vec![info(name), chunk(b"x")])).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{name:?}");
        assert_eq!(bad_fields(&status), ["info.name"]);
        let status = download(&server, name).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{name:?}");
    }
}

#[tokio::test]
async fn oversized_and_malformed_uploads_leave_nothing_behind() {
    let mut config = test_config();
    config.max_upload_bytes = 1000;
    let server = TestServer::start_with(config).await;

    let too_big = vec![info("big.txt"), chunk(&[b'a'; 600]), chunk(&[b'b'; 600])];
    let status = server.files().upload(tokio_stream::iter(too_big)).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);

    let no_info = vec![chunk(b"data")];
    assert_eq!(server.files().upload(tokio_stream::iter(no_info)).await.unwrap_err().code(), Code::InvalidArgument);

    let two_infos = vec![info("twice.txt"), chunk(b"data"), info("twice.txt")];
    assert_eq!(server.files().upload(tokio_stream::iter(two_infos)).await.unwrap_err().code(), Code::InvalidArgument);

    let mut wrong_size = FileInfo { name: "sized.txt".into(), size: 10, ..Default::default() };
    let parts = vec![UploadRequest { part: Some(Part::Info(wrong_size.clone())) }, chunk(b"short")];
    assert_eq!(server.files().upload(tokio_stream::iter(parts)).await.unwrap_err().code(), Code::InvalidArgument);
    wrong_size.size = 5;
    let parts = vec![UploadRequest { part: Some(Part::Info(wrong_size)) }, chunk(b"exact")];
    server.files().upload(tokio_stream::iter(parts)).await.expect("a matching size is accepted");

    let listed = server.files().list_files(ListFilesRequest::default()).await.unwrap().into_inner();
    let names: Vec<_> = listed.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["sized.txt"], "failed uploads left nothing");
}

#[tokio::test]
async fn a_replacing_upload_that_fails_keeps_the_old_file() {
    let mut config = test_config();
    config.max_upload_bytes = 100;
    let server = TestServer::start_with(config).await;
    server.files().upload(tokio_stream::iter(vec![info("keep.txt"), chunk(b"original")])).await.unwrap();
    let failed = vec![info("keep.txt"), chunk(&[b'x'; 101])];
    assert!(server.files().upload(tokio_stream::iter(failed)).await.is_err());
    let (_, content) = download(&server, "keep.txt").await.unwrap();
    assert_eq!(content, b"original");
}
