//! Every way an engine call can fail, each with a message a person can act on.
//!
//! Rule behind every variant: an error never means "your data is gone". Whatever was saved before the
//! error is still in the store; the messages say so where a person might fear otherwise.

use xuncha_domain::{DomainError, UserMessage};

#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// A rule of the domain (bad category, latitude 200, text too long…): the domain's own message.
    #[error("invalid input: {0}")]
    Validation(#[from] DomainError),
    /// The photo could not be read; carries the photo crate's message.
    #[error("photo: {0}")]
    Photo(UserMessage),
    #[error("not signed in")]
    NotSignedIn,
    /// No answer from the server (no signal, DNS, refused, timeout).
    #[error("server unreachable: {0}")]
    Offline(String),
    /// Something answered, but not a Xuncha server (a hotel/station Wi-Fi login page, a proxy).
    #[error("the answer did not come from a Xuncha server: {0}")]
    NotXuncha(String),
    /// The server at this address is a different Xuncha installation than the one signed in to.
    #[error("server id changed: expected {expected}, got {got}")]
    ServerChanged { expected: String, got: String },
    /// This phone holds unsent records for another server; switching would send them to the wrong place.
    #[error("unsent data belongs to server {0}")]
    UnsentForOtherServer(String),
    #[error("session expired")]
    SessionExpired,
    /// The server refused with its own message (wrong password, not permitted, …).
    #[error("server refused ({status}): {message}")]
    Server { status: u16, message: UserMessage },
    /// 429 or 503 with `Retry-After`: the server (or a proxy in front of it) asked to wait this long. The
    /// server's own message when it sent one.
    #[error("server busy ({status}); retry after {retry_after:?}")]
    Busy { status: u16, retry_after: std::time::Duration, message: Option<UserMessage> },
    /// The server refused this photo for good (413: over its size limit). The photo stays on the phone,
    /// the rest of the sync goes on, and it is not sent again automatically for a day.
    #[error("photo {hash} refused by the server: {}", .message.en)]
    PhotoRefused { hash: String, message: UserMessage },
    /// The photo file on this phone no longer matches its SHA-256 (damaged storage): it cannot be sent.
    #[error("photo {0} is damaged on this device")]
    PhotoDamaged(String),
    /// Offline sign-in impossible: this user never signed in online on this device.
    #[error("offline sign-in unavailable")]
    OfflineLoginUnavailable,
    #[error("wrong password (checked offline)")]
    WrongOfflinePassword,
    #[error("finding {0} not found")]
    FindingNotFound(String),
    #[error("photo {0} not on this device")]
    PhotoNotFound(String),
    /// No open conflict on that field (already resolved, perhaps on a second tap).
    #[error("no conflict on field {0}")]
    ConflictNotFound(String),
    #[error("bad day {0:?}")]
    InvalidDay(String),
    #[error("bad server address {0:?}")]
    BadServerUrl(String),
    #[error("storage: {0}")]
    Storage(String),
    #[error("file: {0}")]
    Io(#[from] std::io::Error),
    #[error("internal: {0}")]
    Internal(String),
}

impl From<rusqlite::Error> for DeviceError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Storage(e.to_string())
    }
}

impl From<rusqlite_migration::Error> for DeviceError {
    fn from(e: rusqlite_migration::Error) -> Self {
        Self::Storage(format!("migration: {e}"))
    }
}

impl From<serde_json::Error> for DeviceError {
    fn from(e: serde_json::Error) -> Self {
        Self::Internal(format!("json: {e}"))
    }
}

impl DeviceError {
    /// True when the failure is about reaching the server (the record stays queued, nothing to fix).
    pub fn is_network(&self) -> bool {
        matches!(self, Self::Offline(_) | Self::NotXuncha(_))
    }

    /// The sentence shown to a person, zh-CN and English, saying what to do.
    pub fn user_message(&self) -> UserMessage {
        match self {
            Self::Validation(e) => e.user_message(),
            Self::Photo(msg) => msg.clone(),
            Self::NotSignedIn => UserMessage::new(
                "session.not_signed_in",
                "请先登录。本机已保存的记录不会丢失。",
                "Sign in first. Records already saved on this phone are kept.",
            ),
            Self::Offline(_) => UserMessage::new(
                "network.offline",
                "无法连接服务器，记录已保存在本机，联网后会自动上传。",
                "Cannot reach the server; your records are saved on this phone and will upload when online.",
            ),
            Self::NotXuncha(_) => UserMessage::new(
                "network.not_xuncha_server",
                "连接到的不是巡查服务器（可能需要先在浏览器中完成 Wi-Fi 登录认证）。记录已保存在本机，联网后会自动上传。",
                "The network answered, but not as the Xuncha server (a Wi-Fi login page may be in the way: open a browser and sign in to the Wi-Fi). Your records are saved on this phone and will upload later.",
            ),
            Self::ServerChanged { .. } => UserMessage::new(
                "server.changed",
                "该地址上的服务器已不是本机登录过的巡查服务器，已停止同步以免数据发错地方。请联系管理员确认服务器地址。",
                "The server at this address is not the Xuncha server this phone signed in to; syncing has stopped so data is not sent to the wrong place. Ask your administrator to confirm the server address.",
            ),
            Self::UnsentForOtherServer(url) => UserMessage::new(
                "server.unsent_for_other_server",
                format!("本机还有未上传到 {url} 的记录，请先登录该服务器完成同步，再切换服务器。"),
                format!("This phone still holds records not yet sent to {url}. Sign in to that server and sync first, then switch."),
            ),
            Self::SessionExpired => UserMessage::new(
                "session.expired",
                "登录已过期，请重新登录。所有记录都保存在本机，登录后会继续上传。",
                "Your sign-in has expired: sign in again. All records are kept on this phone and will upload after you sign in.",
            ),
            Self::Server { message, .. } => message.clone(),
            Self::Busy { message: Some(m), .. } => m.clone(),
            Self::Busy { retry_after, .. } => {
                let mins = retry_after.as_secs().div_ceil(60).max(1);
                UserMessage::new(
                    "server.busy",
                    format!("服务器繁忙，记录已保存在本机，约 {mins} 分钟后自动重试。"),
                    format!("The server is busy; your records are saved on this phone and will be retried in about {mins} min."),
                )
            }
            Self::PhotoRefused { message, .. } => UserMessage::new(
                "sync.photo_refused",
                format!("有一张照片服务器不接收：{} 照片保留在本机，问题记录的其他内容照常上传；可在该问题中换一张照片。", message.zh),
                format!("The server does not accept one photo: {} The photo stays on this phone and the rest of the finding is sent; you can replace the photo in the finding.", message.en),
            ),
            Self::PhotoDamaged(_) => UserMessage::new(
                "photo.damaged",
                "本机有一张照片文件已损坏（校验不一致），无法上传。问题记录保留在本机；请在该问题中重新拍摄或移除这张照片。",
                "A photo file on this phone is damaged (checksum mismatch) and cannot be uploaded. The finding is kept; retake or remove that photo in the finding.",
            ),
            Self::OfflineLoginUnavailable => UserMessage::new(
                "session.offline_login_unavailable",
                "无法连接服务器，且该账号从未在本机联网登录过，无法离线登录。请到有信号的地方再登录。",
                "Cannot reach the server, and this account has never signed in online on this phone, so offline sign-in is not possible. Sign in where there is signal.",
            ),
            Self::WrongOfflinePassword => UserMessage::new(
                "session.wrong_password",
                "密码错误（离线校验）。",
                "Wrong password (checked offline).",
            ),
            Self::FindingNotFound(_) => UserMessage::new(
                "finding.not_found",
                "本机没有找到这条问题，请刷新列表。",
                "This finding is not on this phone. Refresh the list.",
            ),
            Self::PhotoNotFound(_) => UserMessage::new(
                "photo.not_found",
                "照片不在本机（可能尚未下载），联网同步后再试；若是新拍的照片，请重新添加。",
                "The photo is not on this phone (maybe not downloaded yet). Sync and try again; if you just took it, add it again.",
            ),
            Self::ConflictNotFound(_) => UserMessage::new(
                "conflict.not_found",
                "这处冲突已经处理过了，请刷新。",
                "This conflict has already been resolved. Refresh.",
            ),
            Self::InvalidDay(d) => UserMessage::new(
                "request.invalid_day",
                format!("日期“{d}”无效，应为 YYYY-MM-DD。"),
                format!("The day “{d}” is not valid; use YYYY-MM-DD."),
            ),
            Self::BadServerUrl(_) => UserMessage::new(
                "server.bad_url",
                "服务器地址无效，应类似 https://xuncha.example.cn。",
                "The server address is not valid; it should look like https://xuncha.example.cn.",
            ),
            Self::Storage(_) | Self::Io(_) => UserMessage::new(
                "device.storage",
                "本机存储出错，本次操作未保存（之前保存的记录不受影响）。请检查手机存储空间后重试。",
                "Storage error on this phone: this action was not saved (records saved earlier are not affected). Check free space and try again.",
            ),
            Self::Internal(_) => UserMessage::new(
                "device.internal",
                "应用内部错误，本次操作未完成（已保存的记录不受影响）。请重试，若仍出现请联系管理员。",
                "Internal error: this action did not complete (saved records are not affected). Try again; if it persists, tell your administrator.",
            ),
        }
    }
}

pub type Result<T, E = DeviceError> = std::result::Result<T, E>;
