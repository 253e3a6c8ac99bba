//! The two-level category list (类别/子类). It ships as `assets/taxonomy.json`, compiled in; an
//! administrator's extensions arrive as the same JSON. Codes are stable; labels are zh-CN and English.

use crate::message::DomainError;
use serde::{Deserialize, Serialize};

/// The built-in taxonomy file, compiled in so the app works offline from the first start.
pub const BUILTIN_TAXONOMY_JSON: &str = include_str!("../../../assets/taxonomy.json");

/// A category or sub-category code: lowercase ASCII letters, digits and `_`, 1–48 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CategoryCode(String);

impl CategoryCode {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CategoryCode {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, DomainError> {
        let s = s.trim().to_string();
        if s.is_empty() {
            return Err(DomainError::EmptyCategory);
        }
        let ok = s.len() <= 48 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if ok {
            Ok(Self(s))
        } else {
            Err(DomainError::UnknownCategory(s.chars().take(48).collect()))
        }
    }
}

impl TryFrom<&str> for CategoryCode {
    type Error = DomainError;
    fn try_from(s: &str) -> Result<Self, DomainError> {
        Self::try_from(s.to_string())
    }
}

impl From<CategoryCode> for String {
    fn from(c: CategoryCode) -> String {
        c.0
    }
}

impl std::fmt::Display for CategoryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subcategory {
    pub code: CategoryCode,
    pub zh: String,
    pub en: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Category {
    pub code: CategoryCode,
    pub zh: String,
    pub en: String,
    pub icon: String,
    /// 时限: hours a transferred problem of this kind may stay open before it is overdue.
    pub time_limit_hours: u32,
    pub subcategories: Vec<Subcategory>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Taxonomy {
    pub version: u32,
    pub categories: Vec<Category>,
}

impl Taxonomy {
    /// Parses and checks a taxonomy: unique codes, labels in both languages, at least one sub-category.
    pub fn from_json(json: &str) -> Result<Self, DomainError> {
        let t: Taxonomy = serde_json::from_str(json).map_err(|e| DomainError::InvalidTaxonomy(e.to_string()))?;
        let mut seen = std::collections::HashSet::new();
        for c in &t.categories {
            if !seen.insert(c.code.clone()) {
                return Err(DomainError::InvalidTaxonomy(format!("duplicate category {}", c.code)));
            }
            if c.zh.trim().is_empty() || c.en.trim().is_empty() || c.subcategories.is_empty() {
                return Err(DomainError::InvalidTaxonomy(format!(
                    "category {} lacks a label or sub-categories",
                    c.code
                )));
            }
            let mut subs = std::collections::HashSet::new();
            for s in &c.subcategories {
                if !subs.insert(s.code.clone()) || s.zh.trim().is_empty() || s.en.trim().is_empty() {
                    return Err(DomainError::InvalidTaxonomy(format!("sub-category {}.{}", c.code, s.code)));
                }
            }
        }
        if t.categories.is_empty() {
            return Err(DomainError::InvalidTaxonomy("no categories".into()));
        }
        Ok(t)
    }

    pub fn builtin() -> Self {
        Self::from_json(BUILTIN_TAXONOMY_JSON).expect("assets/taxonomy.json is checked by a test")
    }

    pub fn category(&self, code: &CategoryCode) -> Option<&Category> {
        self.categories.iter().find(|c| &c.code == code)
    }

    /// Checks that `sub` belongs to `category`, returning the category.
    pub fn check(&self, category: &CategoryCode, sub: &CategoryCode) -> Result<&Category, DomainError> {
        let c = self.category(category).ok_or_else(|| DomainError::UnknownCategory(category.to_string()))?;
        if c.subcategories.iter().any(|s| &s.code == sub) {
            Ok(c)
        } else {
            Err(DomainError::UnknownSubcategory { category: c.zh.clone(), sub: sub.to_string() })
        }
    }

    /// "消防安全 / 消防通道堵塞" for exports and lists.
    pub fn label_zh(&self, category: &CategoryCode, sub: &CategoryCode) -> String {
        match self.category(category) {
            Some(c) => {
                let s = c.subcategories.iter().find(|s| &s.code == sub).map(|s| s.zh.as_str()).unwrap_or(sub.as_str());
                format!("{} / {}", c.zh, s)
            }
            None => format!("{category} / {sub}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_has_the_five_categories_with_three_to_six_subs() {
        let t = Taxonomy::builtin();
        let zh: Vec<_> = t.categories.iter().map(|c| c.zh.as_str()).collect();
        assert_eq!(zh, ["消防安全", "环境污染", "生活环境", "道路秩序", "生产安全"]);
        for c in &t.categories {
            assert!((3..=6).contains(&c.subcategories.len()), "{}", c.code);
        }
    }

    #[test]
    fn check_refuses_mismatched_pairs() {
        let t = Taxonomy::builtin();
        let fire = CategoryCode::try_from("fire_safety").unwrap();
        assert!(t.check(&fire, &"blocked_fire_lane".try_into().unwrap()).is_ok());
        assert!(t.check(&fire, &"illegal_parking".try_into().unwrap()).is_err());
        assert!(t.check(&"nope".try_into().unwrap(), &"x".try_into().unwrap()).is_err());
        assert_eq!(CategoryCode::try_from("  "), Err(DomainError::EmptyCategory));
    }

    #[test]
    fn duplicate_codes_are_refused() {
        let j = r#"{"version":1,"categories":[
          {"code":"a","zh":"甲","en":"A","icon":"","time_limit_hours":1,"subcategories":[{"code":"x","zh":"x","en":"x"}]},
          {"code":"a","zh":"乙","en":"B","icon":"","time_limit_hours":1,"subcategories":[{"code":"y","zh":"y","en":"y"}]}]}"#;
        assert!(Taxonomy::from_json(j).is_err());
    }
}
