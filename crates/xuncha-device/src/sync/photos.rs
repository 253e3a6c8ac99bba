//! Photos up and down. Up: resumable (HEAD, then PATCH from what the server holds; see
//! `Client::upload_photo`); "uploaded" only on the server's 200/201. A photo the server refuses for good
//! (413), or whose file here no longer matches its hash, stays pending with a message and does not hold up
//! the rest of the sync. Down: photos of pulled findings not on this phone, checked against their SHA-256
//! before storing.

use super::Ctx;
use crate::engine::Inner;
use crate::error::{DeviceError, Result};
use crate::files::Kind;
use crate::store::{meta, photos};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use xuncha_domain::{PhotoHash, UserMessage};
use xuncha_proto::MAX_PHOTO_BYTES;

/// How long a photo the server refused with 413 waits before it is offered again (the server's limit may
/// have been raised meanwhile). Not sooner: the answer would be the same.
pub const REFUSED_RETRY: Duration = Duration::from_secs(24 * 60 * 60);

/// A server refusal remembered in `meta` under [`refusal_key`].
#[derive(Serialize, Deserialize)]
struct Refusal {
    at: chrono::DateTime<chrono::Utc>,
    message: UserMessage,
}

fn refusal_key(hash: &PhotoHash) -> String {
    format!("photo_refused:{hash}")
}

/// Keeps the error the sync should report: a `Busy` (it carries the wait) over anything else, else the first.
fn keep(slot: &mut Option<DeviceError>, e: DeviceError) {
    if slot.is_none() || matches!(e, DeviceError::Busy { .. }) && !matches!(slot, Some(DeviceError::Busy { .. })) {
        *slot = Some(e);
    }
}

/// The photo's bytes if its file is readable and still hashes to its name; None (logged) when damaged.
async fn read_verified(inner: &Arc<Inner>, hash: &PhotoHash) -> Result<Option<Vec<u8>>> {
    let i = inner.clone();
    let h = *hash;
    let read = tokio::task::spawn_blocking(move || i.files.read(Kind::Full, &h).map(|b| (xuncha_photo::sha256(&b), b)))
        .await
        .map_err(|e| DeviceError::Internal(e.to_string()))?;
    match read {
        Ok((actual, bytes)) if actual == *hash => Ok(Some(bytes)),
        Ok((actual, bytes)) => {
            // The row exists only after the file was durable, so this is damaged storage. Sending it would
            // only get a 422 again and again.
            tracing::error!(%hash, %actual, len = bytes.len(), "photo file does not match its hash; not uploaded");
            Ok(None)
        }
        Err(e) => {
            tracing::error!(%hash, error = %e, "photo file unreadable; not uploaded");
            Ok(None)
        }
    }
}

/// Uploads every pending photo. Errors that end the sync (network, 401, 5xx…) are returned as `Err`; per-photo
/// refusals and a 429 (stop sending photos, the ops still go) come back as `Ok(Some(_))`, to be reported
/// after the push and pull.
pub(crate) async fn upload(inner: &Arc<Inner>, ctx: &Ctx) -> Result<Option<DeviceError>> {
    let pending = inner.db(|s| photos::pending_uploads(s.conn())).await?;
    let mut deferred = None;
    for hash in pending {
        let refusal = inner.db(move |s| meta::get(s.conn(), &refusal_key(&hash))).await?;
        if let Some(r) = refusal.and_then(|j| serde_json::from_str::<Refusal>(&j).ok()) {
            if chrono::Utc::now() - r.at < chrono::Duration::from_std(REFUSED_RETRY).unwrap_or_default() {
                keep(&mut deferred, DeviceError::PhotoRefused { hash: hash.to_hex(), message: r.message });
                continue;
            }
        }
        let Some(bytes) = read_verified(inner, &hash).await? else {
            keep(&mut deferred, DeviceError::PhotoDamaged(hash.to_hex()));
            continue;
        };
        let size = bytes.len() as u64;
        let result = if bytes.len() > MAX_PHOTO_BYTES {
            // No need to ask: the protocol's limit.
            Err(DeviceError::Server {
                status: 413,
                message: UserMessage::new(
                    "photo.too_large",
                    format!("照片超过 {} MB 上限。", MAX_PHOTO_BYTES / (1024 * 1024)),
                    format!("The photo is over the {} MiB limit.", MAX_PHOTO_BYTES / (1024 * 1024)),
                ),
            })
        } else {
            match ctx.client.upload_photo(&ctx.token, &hash, &bytes).await {
                // The bytes the server put together do not hash to the name (it dropped them). Ours were
                // checked above; check again (the file may have been damaged meanwhile), then send once more.
                Err(DeviceError::Server { status: 422, .. }) => match read_verified(inner, &hash).await? {
                    None => {
                        keep(&mut deferred, DeviceError::PhotoDamaged(hash.to_hex()));
                        continue;
                    }
                    Some(again) => {
                        tracing::warn!(%hash, "server reported a hash mismatch; the local copy is good; sending again");
                        ctx.client.upload_photo(&ctx.token, &hash, &again).await
                    }
                },
                r => r,
            }
        };
        match result {
            Ok(up) => {
                if up.already_there {
                    tracing::debug!(%hash, "server already has the photo");
                } else {
                    tracing::info!(%hash, size, resumed_from = up.resumed_from, sent = up.sent, "photo uploaded");
                }
                inner.db(move |s| photos::mark_uploaded(s.conn(), &hash)).await?;
                inner.publish().await?;
            }
            Err(DeviceError::Server { status: 413, message }) => {
                tracing::warn!(%hash, size, code = %message.code, "photo refused by the server as too large; kept, not retried for a day");
                let json = serde_json::to_string(&Refusal { at: chrono::Utc::now(), message: message.clone() })?;
                inner.db(move |s| meta::set(s.conn(), &refusal_key(&hash), &json)).await?;
                keep(&mut deferred, DeviceError::PhotoRefused { hash: hash.to_hex(), message });
            }
            Err(e @ DeviceError::Server { status: 422, .. }) => {
                tracing::error!(%hash, "photo hash mismatch on the server twice; left for the next sync");
                keep(&mut deferred, e);
            }
            Err(e @ DeviceError::Busy { status: 429, .. }) => {
                tracing::info!(%hash, error = %e, "server asks to slow down photo uploads; the rest waits");
                keep(&mut deferred, e);
                break;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(deferred)
}

pub(crate) async fn download(inner: &Arc<Inner>, ctx: &Ctx) -> Result<()> {
    let missing = inner.db(|s| photos::missing(s.conn())).await?;
    for hash in missing {
        let Some(bytes) = ctx.client.get_photo(&ctx.token, &hash).await? else {
            // A record may arrive before its photos; the next sync tries again.
            tracing::info!(%hash, "photo not on the server yet");
            continue;
        };
        if bytes.len() > MAX_PHOTO_BYTES || xuncha_photo::sha256(&bytes) != hash {
            tracing::warn!(%hash, len = bytes.len(), "downloaded photo does not match its hash; not stored");
            continue;
        }
        let i = inner.clone();
        let (w, h, n) = tokio::task::spawn_blocking(move || -> Result<(u32, u32, u64)> {
            i.files.write(Kind::Full, &hash, &bytes)?;
            match xuncha_photo::thumbnail(&bytes) {
                Ok(t) => i.files.write(Kind::Thumb, &hash, &t)?,
                // The full photo stands in for a missing thumbnail.
                Err(e) => tracing::warn!(%hash, error = %e.user_message(), "no thumbnail for downloaded photo"),
            }
            let (w, h) = jpeg_size(&bytes).unwrap_or((0, 0));
            Ok((w, h, bytes.len() as u64))
        })
        .await
        .map_err(|e| DeviceError::Internal(e.to_string()))??;
        inner
            .db(move |s| {
                photos::insert(
                    s.conn(),
                    &photos::NewPhoto { hash: &hash, width: w, height: h, bytes: n, exif_json: None, uploaded: true },
                )
            })
            .await?;
        tracing::debug!(%hash, "photo downloaded");
    }
    Ok(())
}

/// Width and height from a JPEG's SOF header, without decoding the image.
pub fn jpeg_size(b: &[u8]) -> Option<(u32, u32)> {
    if b.get(..2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut i = 2;
    while i + 4 <= b.len() {
        if b[i] != 0xFF {
            return None;
        }
        let marker = b[i + 1];
        if marker == 0xFF {
            i += 1;
            continue;
        }
        let len = u16::from_be_bytes([b[i + 2], b[i + 3]]) as usize;
        let is_sof = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_sof {
            let h = u16::from_be_bytes([*b.get(i + 5)?, *b.get(i + 6)?]) as u32;
            let w = u16::from_be_bytes([*b.get(i + 7)?, *b.get(i + 8)?]) as u32;
            return Some((w, h));
        }
        i += 2 + len;
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn jpeg_size_reads_the_frame_header() {
        let p = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures/photos/gps/DSCN0010.jpg");
        let b = std::fs::read(p).unwrap();
        assert_eq!(super::jpeg_size(&b), Some((640, 480)));
        assert_eq!(super::jpeg_size(b"not a jpeg"), None);
        assert_eq!(super::jpeg_size(&b[..3]), None);
    }
}
