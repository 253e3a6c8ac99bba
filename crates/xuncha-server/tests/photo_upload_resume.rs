//! Resumable photo uploads against the server process (`PATCH /api/v1/photos/{hash}`, `xuncha_proto::upload`):
//! two PATCHes make one photo; a wrong offset gets 409 with the offset held; a wrong hash gets 422 and the
//! partial is gone; HEAD reports the offset; bytes that arrived before a cut connection are kept; one user's
//! partial is invisible and unusable to another; a connection that goes silent mid-upload is given up after
//! the body idle timeout, keeping its bytes and freeing the upload; limits answer 413 / 429 / 400 with
//! translated messages.

mod common;

use xuncha_testkit::fake_jpeg as photo;

use common::*;
use reqwest::StatusCode;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use xuncha_domain::PhotoHash;
use xuncha_proto::upload::{MAX_PARTIALS_PER_USER, OFFSET_OCTET_STREAM, UPLOAD_LENGTH, UPLOAD_OFFSET};
use xuncha_proto::{paths, ApiError, MAX_PHOTO_BYTES};

fn has_chinese(s: &str) -> bool {
    s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

fn num(resp: &reqwest::Response, name: &str) -> Option<u64> {
    resp.headers().get(name)?.to_str().ok()?.parse().ok()
}

async fn patch(c: &Client, hash: &PhotoHash, offset: u64, total: u64, body: &[u8]) -> reqwest::Response {
    c.http
        .patch(format!("{}{}", c.base, paths::photo(hash)))
        .bearer_auth(&c.token)
        .header("content-type", OFFSET_OCTET_STREAM)
        .header(UPLOAD_OFFSET, offset)
        .header(UPLOAD_LENGTH, total)
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
}

async fn head(c: &Client, hash: &PhotoHash) -> reqwest::Response {
    c.http.head(format!("{}{}", c.base, paths::photo(hash))).bearer_auth(&c.token).send().await.unwrap()
}

async fn api_error(resp: reqwest::Response) -> ApiError {
    resp.json().await.expect("an ApiError body")
}

fn partial_file(s: &Server, c: &Client, hash: &PhotoHash) -> std::path::PathBuf {
    s.blobs().join("partial").join(c.user.id.to_string()).join(format!("{}.part", hash.to_hex()))
}

#[tokio::test]
async fn a_patch_in_two_parts_resumes_and_head_reports_the_offset() {
    let s = Server::shared();
    let c = login(s, "inspector4-1").await;
    let bytes = photo(300_000, 1);
    let (hash, total) = (sha256(&bytes), bytes.len() as u64);

    let r = head(&c, &hash).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(num(&r, UPLOAD_OFFSET), Some(0), "a resuming server says so even with nothing held");

    let r = patch(&c, &hash, 0, total, &bytes[..120_000]).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(num(&r, UPLOAD_OFFSET), Some(120_000));

    let r = head(&c, &hash).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!((num(&r, UPLOAD_OFFSET), num(&r, UPLOAD_LENGTH)), (Some(120_000), Some(total)));

    let r = patch(&c, &hash, 120_000, total, &bytes[120_000..]).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(num(&r, UPLOAD_OFFSET), Some(total), "the whole length confirmed");

    let r = head(&c, &hash).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(num(&r, UPLOAD_LENGTH), Some(total));
    let got = c.get(&paths::photo(&hash)).send().await.unwrap();
    assert_eq!(got.status(), StatusCode::OK, "the uploader may read it back");
    assert_eq!(sha256(&got.bytes().await.unwrap()), hash);
    assert!(!partial_file(s, &c, &hash).exists(), "the partial became the photo");

    // The same photo again, in one PATCH: 200, like a PUT of a known photo.
    let r = patch(&c, &hash, 0, total, &bytes).await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_wrong_offset_gets_409_with_the_offset_held() {
    let s = Server::shared();
    let c = login(s, "inspector4-2").await;
    let bytes = photo(5_000, 2);
    let (hash, total) = (sha256(&bytes), bytes.len() as u64);
    assert_eq!(patch(&c, &hash, 0, total, &bytes[..1_000]).await.status(), StatusCode::NO_CONTENT);

    for wrong in [500, 0, 2_000] {
        let r = patch(&c, &hash, wrong, total, &bytes[wrong as usize..]).await;
        assert_eq!(r.status(), StatusCode::CONFLICT, "offset {wrong}");
        assert_eq!(num(&r, UPLOAD_OFFSET), Some(1_000), "offset {wrong}");
        let e = api_error(r).await.error;
        assert_eq!(e.code, "photo.upload_offset");
        assert!(has_chinese(&e.zh) && !e.en.is_empty(), "{e:?}");
    }
    // Nothing held yet: any offset but 0 is 409 with 0.
    let other = photo(5_000, 3);
    let r = patch(&c, &sha256(&other), 100, 5_000, &other[100..]).await;
    assert_eq!((r.status(), num(&r, UPLOAD_OFFSET)), (StatusCode::CONFLICT, Some(0)));
    // The 409s changed nothing: the upload completes from where it was.
    assert_eq!(patch(&c, &hash, 1_000, total, &bytes[1_000..]).await.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_wrong_hash_gets_422_and_the_partial_is_gone() {
    let s = Server::shared();
    let c = login(s, "inspector4-3").await;
    let real = photo(40_000, 4);
    let forged = photo(40_000, 5);
    let hash = sha256(&real);
    assert_eq!(patch(&c, &hash, 0, 40_000, &forged[..10_000]).await.status(), StatusCode::NO_CONTENT);
    assert!(partial_file(s, &c, &hash).exists());
    let r = patch(&c, &hash, 10_000, 40_000, &forged[10_000..]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let e = api_error(r).await.error;
    assert_eq!(e.code, "photo.hash_mismatch");
    assert!(has_chinese(&e.zh));
    assert!(!partial_file(s, &c, &hash).exists(), "the bad partial is deleted");
    let r = head(&c, &hash).await;
    assert_eq!((r.status(), num(&r, UPLOAD_OFFSET), num(&r, UPLOAD_LENGTH)), (StatusCode::NOT_FOUND, Some(0), None));
    // The right bytes from 0 then work.
    assert_eq!(patch(&c, &hash, 0, 40_000, &real).await.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn another_users_partial_and_photo_are_neither_visible_nor_usable() {
    let s = Server::shared();
    let alice = login(s, "inspector5-1").await;
    let bob = login(s, "inspector5-2").await;
    let bytes = photo(30_000, 6);
    let (hash, total) = (sha256(&bytes), bytes.len() as u64);
    assert_eq!(patch(&alice, &hash, 0, total, &bytes[..20_000]).await.status(), StatusCode::NO_CONTENT);

    let r = head(&bob, &hash).await;
    assert_eq!((r.status(), num(&r, UPLOAD_OFFSET), num(&r, UPLOAD_LENGTH)), (StatusCode::NOT_FOUND, Some(0), None));
    let r = patch(&bob, &hash, 20_000, total, &bytes[20_000..]).await;
    assert_eq!((r.status(), num(&r, UPLOAD_OFFSET)), (StatusCode::CONFLICT, Some(0)), "Bob cannot finish Alice's");
    let r = head(&alice, &hash).await;
    assert_eq!(num(&r, UPLOAD_OFFSET), Some(20_000), "Alice's partial is untouched");
    assert_eq!(patch(&alice, &hash, 20_000, total, &bytes[20_000..]).await.status(), StatusCode::CREATED);
    assert_eq!(head(&alice, &hash).await.status(), StatusCode::OK);

    // Stored now, but no finding Bob may see names it: to Bob it answers as missing (nobody learns what
    // others hold by asking for hashes). Bob then sends the bytes himself, and from then on it is his too.
    let r = head(&bob, &hash).await;
    assert_eq!((r.status(), num(&r, UPLOAD_OFFSET), num(&r, UPLOAD_LENGTH)), (StatusCode::NOT_FOUND, Some(0), None));
    assert_eq!(patch(&bob, &hash, 0, total, &bytes).await.status(), StatusCode::OK, "already stored");
    let r = head(&bob, &hash).await;
    assert_eq!((r.status(), num(&r, UPLOAD_LENGTH)), (StatusCode::OK, Some(total)));
}

#[tokio::test]
async fn over_the_declared_or_the_maximum_length_is_413() {
    let s = Server::shared();
    let c = login(s, "inspector5-3").await;
    let bytes = photo(10_000, 7);
    let hash = sha256(&bytes);
    let too_big = MAX_PHOTO_BYTES as u64 + 1;
    let r = patch(&c, &hash, 0, too_big, &bytes).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let e = api_error(r).await.error;
    assert_eq!(e.code, "photo.too_large");
    assert!(has_chinese(&e.zh));

    // A body longer than the declared length.
    let r = patch(&c, &hash, 0, 5_000, &bytes).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(api_error(r).await.error.code, "photo.upload_over_length");

    // The same, chunked (no Content-Length up front): caught while streaming.
    let answer = raw_patch(s, &c, &hash, 0, 5_000, &bytes, RawBody::Chunked).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("photo.upload_over_length"), "{answer}");

    // Missing headers: 400 with a message.
    let r = c
        .http
        .patch(format!("{}{}", c.base, paths::photo(&hash)))
        .bearer_auth(&c.token)
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(api_error(r).await.error.code, "photo.upload_header");
}

enum RawBody {
    /// Declares the whole remainder, sends only this many bytes, then closes the connection.
    CutAfter(usize),
    /// Sends this many bytes, then keeps the connection open and says nothing more.
    SilentAfter(usize),
    /// Chunked transfer encoding, all of it.
    Chunked,
}

/// A PATCH written by hand on a TCP connection (so it can be cut, or sent without Content-Length);
/// returns whatever the server answered before the connection closed.
async fn raw_patch(
    s: &Server,
    c: &Client,
    hash: &PhotoHash,
    offset: u64,
    total: u64,
    body: &[u8],
    how: RawBody,
) -> String {
    let addr = s.url.trim_start_matches("http://");
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let framing = match how {
        RawBody::CutAfter(_) | RawBody::SilentAfter(_) => format!("content-length: {}", body.len()),
        RawBody::Chunked => "transfer-encoding: chunked".to_string(),
    };
    let head = format!(
        "PATCH {} HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {}\r\n{UPLOAD_OFFSET}: {offset}\r\n\
         {UPLOAD_LENGTH}: {total}\r\ncontent-type: {OFFSET_OCTET_STREAM}\r\n{framing}\r\nconnection: close\r\n\r\n",
        paths::photo(hash),
        c.token
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    match how {
        RawBody::CutAfter(n) => {
            sock.write_all(&body[..n]).await.unwrap();
            sock.flush().await.unwrap();
            // The phone loses the network: no more bytes, the connection just ends.
            drop(sock);
            String::new()
        }
        RawBody::SilentAfter(n) => {
            sock.write_all(&body[..n]).await.unwrap();
            sock.flush().await.unwrap();
            // The phone walked out of coverage: no FIN, no RST, nothing. The server answers once it gives up.
            answer_within(&mut sock, Duration::from_secs(20)).await
        }
        RawBody::Chunked => {
            for piece in body.chunks(1_000) {
                // The server may answer (and stop reading) before the end.
                if sock.write_all(format!("{:x}\r\n", piece.len()).as_bytes()).await.is_err()
                    || sock.write_all(piece).await.is_err()
                    || sock.write_all(b"\r\n").await.is_err()
                {
                    break;
                }
            }
            let _ = sock.write_all(b"0\r\n\r\n").await;
            answer_within(&mut sock, Duration::from_secs(10)).await
        }
    }
}

/// What the server wrote on `sock` until it closed it, or until `wait` passed.
async fn answer_within(sock: &mut tokio::net::TcpStream, wait: Duration) -> String {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(wait, tokio::io::AsyncReadExt::read_to_end(sock, &mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn bytes_before_a_cut_connection_are_kept() {
    let s = Server::shared();
    let c = login(s, "inspector5-4").await;
    let bytes = photo(400_000, 8);
    let (hash, total) = (sha256(&bytes), bytes.len() as u64);
    raw_patch(s, &c, &hash, 0, total, &bytes, RawBody::CutAfter(250_000)).await;
    // The server notices the end of the connection a moment later.
    let started = Instant::now();
    let held = loop {
        let held = num(&head(&c, &hash).await, UPLOAD_OFFSET).unwrap();
        if held == 250_000 || started.elapsed() > Duration::from_secs(10) {
            break held;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    println!("cut after 250000 of {total} bytes: the server holds {held}");
    assert_eq!(held, 250_000, "every byte that arrived before the cut is kept");
    let r = patch(&c, &hash, held, total, &bytes[held as usize..]).await;
    assert_eq!(r.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_connection_gone_silent_frees_its_upload_after_the_idle_timeout() {
    let dir = tempfile::tempdir().unwrap();
    seed(&dir, &Launch::default());
    // 4 s: past the 2 s a PATCH waits for a busy upload, so the one below is refused, not let in.
    let s = &Server::launch(dir, &Launch { body_idle_secs: Some(4), ..Launch::default() });
    let c = login(s, "inspector5-5").await;
    let bytes = photo(400_000, 9);
    let (hash, total) = (sha256(&bytes), bytes.len() as u64);
    let meanwhile = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        patch(&c, &hash, 150_000, total, &bytes[150_000..]).await
    };
    let (answer, meanwhile) =
        tokio::join!(raw_patch(s, &c, &hash, 0, total, &bytes, RawBody::SilentAfter(150_000)), meanwhile);
    // While the silent request held the upload, a new attempt was refused as busy…
    assert_eq!(meanwhile.status(), StatusCode::CONFLICT, "the silent request still held the upload");
    assert_eq!(num(&meanwhile, UPLOAD_OFFSET), Some(150_000));
    // …until the server gave up on it: it answered the silent connection and kept what arrived.
    assert!(answer.starts_with("HTTP/1.1 4"), "the silent request is answered, not left hanging: {answer:?}");
    let held = num(&head(&c, &hash).await, UPLOAD_OFFSET).unwrap();
    println!("silent after 150000 B: answered {:?}; the server holds {held}", answer.lines().next());
    assert_eq!(held, 150_000, "what arrived before the silence is kept");
    let r = patch(&c, &hash, held, total, &bytes[held as usize..]).await;
    assert_eq!(r.status(), StatusCode::CREATED, "the upload is free again and resumes");
}

#[tokio::test]
async fn too_many_unfinished_uploads_get_429_with_retry_after() {
    let s = Server::shared();
    let c = login(s, "inspector6-1").await;
    let photos: Vec<Vec<u8>> = (0..=MAX_PARTIALS_PER_USER as u64).map(|i| photo(100, 1_000 + i)).collect();
    for p in &photos[..MAX_PARTIALS_PER_USER] {
        assert_eq!(patch(&c, &sha256(p), 0, 100, &p[..10]).await.status(), StatusCode::NO_CONTENT);
    }
    let last = &photos[MAX_PARTIALS_PER_USER];
    let r = patch(&c, &sha256(last), 0, 100, &last[..10]).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry = num(&r, "retry-after").expect("Retry-After");
    assert!((60..=3600).contains(&retry), "{retry}");
    let e = api_error(r).await.error;
    assert_eq!(e.code, "photo.too_many_uploads");
    assert!(has_chinese(&e.zh) && e.en.contains("32"), "{e:?}");
    // Existing ones still go on (and finishing one frees a place); other users are not affected.
    let first = &photos[0];
    assert_eq!(patch(&c, &sha256(first), 10, 100, &first[10..]).await.status(), StatusCode::CREATED);
    assert_eq!(patch(&c, &sha256(last), 0, 100, &last[..10]).await.status(), StatusCode::NO_CONTENT);
    let other = login(s, "inspector6-2").await;
    assert_eq!(patch(&other, &sha256(&photos[1]), 0, 100, &photos[1][..10]).await.status(), StatusCode::NO_CONTENT);
}
