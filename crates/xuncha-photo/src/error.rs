//! Why a photo could not be ingested, in words an inspector can act on.

use xuncha_domain::UserMessage;

/// A photo that cannot become a stored JPEG. Every variant has its own stable code (see
/// [`PhotoError::user_message`]) so the UI and the tests can tell them apart without parsing text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PhotoError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is {size} bytes, over the limit of {limit}")]
    FileTooLarge { size: usize, limit: usize },
    /// HEIC/HEIF (the iPhone default) recognised from its `ftyp` box, in a build without the `heic`
    /// feature.
    #[error("HEIC/HEIF photos are not supported yet")]
    HeicUnsupported,
    /// A HEIC/HEIF file libheif could not decode (damaged, cut off, or a codec variant it lacks).
    /// The detail is for logs.
    #[error("the HEIC/HEIF photo could not be decoded: {0}")]
    HeicDecode(String),
    /// Anything that is not JPEG, PNG or WebP. `kind` names what the bytes look like, if known.
    #[error("unsupported file type ({})", kind.unwrap_or("unknown"))]
    UnsupportedFormat { kind: Option<&'static str> },
    /// Checked from the header, before any pixel memory is allocated (decompression bombs).
    #[error("the image is {width}×{height} pixels, over the limit")]
    DimensionsTooLarge { width: u32, height: u32 },
    #[error("the image data ends early (truncated file)")]
    Truncated,
    /// The decoder refused the data. The detail is for logs, never shown to a person.
    #[error("the image data is corrupt: {0}")]
    Corrupt(String),
    /// Encoding our own output failed: a bug or an out-of-memory, not the user's doing.
    #[error("encoding the stored JPEG failed: {0}")]
    Encode(String),
    /// A watermark was asked for and no CJK font file could be read (`searched` lists where we looked).
    #[error("no CJK font for the watermark; looked at {}", searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    FontNotFound { searched: Vec<std::path::PathBuf> },
    /// The font file was read but is not a font, or has no Chinese characters. `origin` is its path.
    #[error("{origin} is not a usable CJK font: {detail}")]
    FontInvalid { origin: String, detail: String },
}

impl PhotoError {
    /// The message shown to a person, in both languages, saying what to do.
    pub fn user_message(&self) -> UserMessage {
        use PhotoError::*;
        let (code, zh, en): (&str, String, String) = match self {
            Empty => (
                "photo.empty",
                "照片文件是空的（0 字节），请重新拍摄或重新选择照片。".into(),
                "The photo file is empty (0 bytes). Take the photo again or choose another one.".into(),
            ),
            FileTooLarge { size, limit } => (
                "photo.file_too_large",
                format!(
                    "照片文件太大（{:.1} MB，上限 {} MB），请用相机默认设置重新拍摄，或选择较小的照片。",
                    mib(*size),
                    limit / (1024 * 1024)
                ),
                format!(
                    "The photo file is too large ({:.1} MB; the limit is {} MB). Take it again with the camera's default settings or choose a smaller photo.",
                    mib(*size),
                    limit / (1024 * 1024)
                ),
            ),
            HeicUnsupported => (
                "photo.heic_unsupported",
                "暂不支持 HEIC/HEIF 格式的照片。请在手机“设置 → 相机 → 格式”中选择“兼容性最佳”（JPEG）后重新拍摄。".into(),
                "HEIC/HEIF photos are not supported yet. In the phone's Settings → Camera → Formats choose “Most Compatible” (JPEG), then take the photo again.".into(),
            ),
            HeicDecode(_) => (
                "photo.heic_decode_failed",
                "这张 HEIC/HEIF 照片无法解码（文件可能已损坏或不完整）。请重新拍摄，或在手机上将其导出为 JPEG 后重新选择。".into(),
                "This HEIC/HEIF photo cannot be decoded (the file may be damaged or incomplete). Take it again, or export it as JPEG on the phone and choose that.".into(),
            ),
            UnsupportedFormat { kind } => {
                let what_zh = kind.map(|k| format!("（{k}）")).unwrap_or_default();
                let what_en = kind.map(|k| format!(" ({k})")).unwrap_or_default();
                (
                    "photo.unsupported_format",
                    format!("这个文件{what_zh}不是可用的照片格式。请选择 JPEG、PNG 或 WebP 格式的照片。"),
                    format!("This file{what_en} is not a supported photo format. Choose a JPEG, PNG or WebP photo."),
                )
            }
            DimensionsTooLarge { width, height } => (
                "photo.dimensions_too_large",
                format!(
                    "照片尺寸过大（{width}×{height} 像素，上限为 1 亿像素且每边不超过 {} 像素），请选择普通相机拍摄的照片。",
                    crate::MAX_SIDE
                ),
                format!(
                    "The photo is too large ({width}×{height} pixels; the limit is 100 megapixels and {} pixels per side). Choose a normal camera photo.",
                    crate::MAX_SIDE
                ),
            ),
            Truncated => (
                "photo.truncated",
                "照片文件不完整（可能在保存或传输时中断），请重新拍摄或重新选择原图。".into(),
                "The photo file is incomplete (saving or copying was interrupted). Take the photo again or choose the original.".into(),
            ),
            Corrupt(_) => (
                "photo.corrupt",
                "照片文件已损坏，无法读取，请重新拍摄或选择其他照片。".into(),
                "The photo file is damaged and cannot be read. Take the photo again or choose another one.".into(),
            ),
            Encode(_) => (
                "photo.encode_failed",
                "照片处理失败，请重试；如果一直失败，请重启应用后再试。".into(),
                "Processing the photo failed. Try again; if it keeps failing, restart the app and retry.".into(),
            ),
            FontNotFound { searched } => {
                let list = searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join("、");
                (
                    "photo.font_not_found",
                    format!(
                        "找不到中文字体，无法给照片加水印。请安装 Noto CJK 字体（Debian/Ubuntu：apt-get install fonts-noto-cjk），或指定一个中文字体文件（.ttf/.otf/.ttc）。已查找：{list}"
                    ),
                    format!(
                        "No Chinese font was found, so the photos cannot be watermarked. Install the Noto CJK fonts (Debian/Ubuntu: apt-get install fonts-noto-cjk) or name a Chinese font file (.ttf/.otf/.ttc). Looked at: {}",
                        list.replace('、', ", ")
                    ),
                )
            }
            FontInvalid { origin, .. } => (
                "photo.font_invalid",
                format!("{origin} 不是可用的中文字体（无法读取或不含汉字）。请指定 Noto Sans CJK 等中文字体文件。"),
                format!(
                    "{origin} is not a usable Chinese font (unreadable, or it has no Chinese characters). Name a Chinese font file such as Noto Sans CJK."
                ),
            ),
        };
        UserMessage::new(code, zh, en)
    }
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
