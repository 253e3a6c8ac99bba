//! Errors a person reads. Every error in Xuncha can be turned into a [`UserMessage`]: a stable code
//! (for tests, logs and the UI's logic) and the same sentence in zh-CN and English, saying what
//! happened and what to do. The UI picks the language; nothing below it guesses.

use serde::{Deserialize, Serialize};

/// A translated message with a stable code such as `position.latitude_out_of_range`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserMessage {
    pub code: String,
    pub zh: String,
    pub en: String,
}

impl UserMessage {
    pub fn new(code: impl Into<String>, zh: impl Into<String>, en: impl Into<String>) -> Self {
        Self { code: code.into(), zh: zh.into(), en: en.into() }
    }
}

impl std::fmt::Display for UserMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} / {}", self.zh, self.en)
    }
}

/// A rule of the domain that an input broke.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DomainError {
    #[error("latitude {0} is outside -90..=90")]
    LatitudeOutOfRange(f64),
    #[error("longitude {0} is outside -180..=180")]
    LongitudeOutOfRange(f64),
    #[error("a coordinate is not a finite number")]
    CoordinateNotFinite,
    #[error("accuracy {0} m is not a non-negative finite number")]
    InvalidAccuracy(f64),
    #[error("no category chosen")]
    EmptyCategory,
    #[error("unknown category {0:?}")]
    UnknownCategory(String),
    #[error("unknown sub-category {sub:?} of {category:?}")]
    UnknownSubcategory { category: String, sub: String },
    #[error("description is {0} characters long, over the limit")]
    DescriptionTooLong(usize),
    #[error("a finding holds at most {0} photos")]
    TooManyPhotos(usize),
    #[error("the same photo is attached twice")]
    DuplicatePhoto,
    #[error("a finding needs a position before it can be submitted")]
    PositionRequired,
    #[error("a finding needs at least one photo before it can be submitted")]
    PhotoRequired,
    #[error("{action} is not allowed while the finding is {from}")]
    TransitionNotAllowed { from: &'static str, action: &'static str },
    #[error("role {role} may not {action}")]
    NotPermitted { role: &'static str, action: &'static str },
    #[error("only the author may change a finding before review")]
    NotAuthor,
    #[error("the finding can no longer be edited: it is {0}")]
    NotEditable(&'static str),
    #[error("a reason is required")]
    ReasonRequired,
    #[error("invalid id {0:?}")]
    InvalidId(String),
    #[error("invalid photo hash")]
    InvalidPhotoHash,
    #[error("invalid taxonomy: {0}")]
    InvalidTaxonomy(String),
    #[error("invalid boundaries: {0}")]
    InvalidBoundaries(String),
}

impl DomainError {
    /// The message shown to a person, in both languages.
    pub fn user_message(&self) -> UserMessage {
        use DomainError::*;
        let (code, zh, en): (&str, String, String) = match self {
            LatitudeOutOfRange(v) => (
                "position.latitude_out_of_range",
                format!("纬度 {v} 超出范围（应在 -90 到 90 之间），请检查或在地图上重新选点。"),
                format!("Latitude {v} is out of range (it must be between -90 and 90). Check it or pick the point on the map."),
            ),
            LongitudeOutOfRange(v) => (
                "position.longitude_out_of_range",
                format!("经度 {v} 超出范围（应在 -180 到 180 之间），请检查或在地图上重新选点。"),
                format!("Longitude {v} is out of range (it must be between -180 and 180). Check it or pick the point on the map."),
            ),
            CoordinateNotFinite => (
                "position.not_a_number",
                "坐标不是有效数字，请重新输入或在地图上选点。".into(),
                "The coordinate is not a valid number. Type it again or pick the point on the map.".into(),
            ),
            InvalidAccuracy(v) => (
                "position.invalid_accuracy",
                format!("定位精度 {v} 米无效。"),
                format!("The position accuracy {v} m is not valid."),
            ),
            EmptyCategory => (
                "finding.category_required",
                "请选择问题类别。".into(),
                "Choose a category for the finding.".into(),
            ),
            UnknownCategory(c) => (
                "finding.unknown_category",
                format!("类别“{c}”不存在，请重新选择（类别表可能已更新，请同步）。"),
                format!("The category “{c}” does not exist. Choose again (the category list may have changed: sync)."),
            ),
            UnknownSubcategory { category, sub } => (
                "finding.unknown_subcategory",
                format!("“{category}”下没有子类“{sub}”，请重新选择。"),
                format!("“{category}” has no sub-category “{sub}”. Choose again."),
            ),
            DescriptionTooLong(n) => (
                "finding.description_too_long",
                format!("描述有 {n} 个字，超过上限 {} 字，请精简。", crate::finding::MAX_DESCRIPTION_CHARS),
                format!("The description has {n} characters, over the limit of {}. Shorten it.", crate::finding::MAX_DESCRIPTION_CHARS),
            ),
            TooManyPhotos(n) => (
                "finding.too_many_photos",
                format!("每条问题最多 {n} 张照片。"),
                format!("A finding holds at most {n} photos."),
            ),
            DuplicatePhoto => (
                "finding.duplicate_photo",
                "这张照片已经添加过了。".into(),
                "This photo is already attached.".into(),
            ),
            PositionRequired => (
                "finding.position_required",
                "提交前需要位置：请等待定位、使用照片位置、在地图上选点或手动输入坐标。".into(),
                "A position is needed before submitting: wait for GPS, use the photo's position, pick on the map or type the coordinates.".into(),
            ),
            PhotoRequired => (
                "finding.photo_required",
                "提交前至少需要一张照片。".into(),
                "At least one photo is needed before submitting.".into(),
            ),
            TransitionNotAllowed { from, action } => (
                "status.transition_not_allowed",
                format!("当前状态“{}”下不能执行“{}”。", crate::status::status_zh(from), crate::status::action_zh(action)),
                format!("“{action}” is not possible while the finding is “{from}”."),
            ),
            NotPermitted { role, action } => (
                "auth.not_permitted",
                format!("您的角色（{}）无权执行“{}”。", crate::role::role_zh(role), crate::status::action_zh(action)),
                format!("Your role ({role}) may not “{action}”."),
            ),
            NotAuthor => (
                "auth.not_author",
                "审核前只有记录人本人可以修改这条问题。".into(),
                "Only the author may change this finding before review.".into(),
            ),
            NotEditable(s) => (
                "finding.not_editable",
                format!("这条问题已是“{}”状态，不能再修改。", crate::status::status_zh(s)),
                format!("This finding is “{s}” and can no longer be edited."),
            ),
            ReasonRequired => ("finding.reason_required", "请填写原因。".into(), "Give a reason.".into()),
            InvalidId(s) => ("request.invalid_id", format!("编号“{s}”无效。"), format!("The id “{s}” is not valid.")),
            InvalidPhotoHash => (
                "photo.invalid_hash",
                "照片编号无效。".into(),
                "The photo reference is not valid.".into(),
            ),
            InvalidTaxonomy(s) => ("taxonomy.invalid", format!("类别表无效：{s}"), format!("The category list is not valid: {s}")),
            InvalidBoundaries(s) => (
                "boundaries.invalid",
                format!("辖区边界数据无效：{s}"),
                format!("The boundary data is not valid: {s}"),
            ),
        };
        UserMessage::new(code, zh, en)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_has_chinese_and_english() {
        let samples = [
            DomainError::LatitudeOutOfRange(91.0),
            DomainError::EmptyCategory,
            DomainError::PositionRequired,
            DomainError::TransitionNotAllowed { from: "submitted", action: "submit" },
            DomainError::NotPermitted { role: "inspector", action: "approve" },
        ];
        for e in samples {
            let m = e.user_message();
            assert!(m.code.contains('.'), "{m:?}");
            assert!(m.zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "zh has no Chinese: {m:?}");
            assert!(m.en.is_ascii() || m.en.contains('“'), "{m:?}");
            assert_ne!(m.zh, m.en);
        }
    }
}
