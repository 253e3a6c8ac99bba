//! Photos up and down. Up: HEAD, then PUT if missing; "uploaded" only on the server's 200/201.
//! Down: photos of pulled findings not on this phone, checked against their SHA-256 before storing.

use super::Ctx;
use crate::engine::Inner;
use crate::error::{DeviceError, Result};
use crate::files::Kind;
use crate::store::photos;
use std::sync::Arc;
use xuncha_proto::MAX_PHOTO_BYTES;

pub(crate) async fn upload(inner: &Arc<Inner>, ctx: &Ctx) -> Result<()> {
    let pending = inner.db(|s| photos::pending_uploads(s.conn())).await?;
    for hash in pending {
        let bytes = {
            let i = inner.clone();
            tokio::task::spawn_blocking(move || i.files.read(Kind::Full, &hash))
                .await
                .map_err(|e| DeviceError::Internal(e.to_string()))?
        };
        let bytes = match bytes {
            Ok(b) => b,
            Err(e) => {
                // The row exists only after the file was durable, so this is a damaged disk: say so.
                tracing::error!(%hash, error = %e, "photo file unreadable");
                return Err(e.into());
            }
        };
        let size = bytes.len() as u64;
        if !ctx.client.photo_exists(&ctx.token, &hash, size).await? {
            ctx.client.put_photo(&ctx.token, &hash, bytes).await?;
            tracing::info!(%hash, size, "photo uploaded");
        } else {
            tracing::debug!(%hash, "server already has the photo");
        }
        inner.db(move |s| photos::mark_uploaded(s.conn(), &hash)).await?;
        inner.publish().await?;
    }
    Ok(())
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
