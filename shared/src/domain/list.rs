//! The list query (`GET /api/{user_id}/tasks?...`), parsed from the query string with one
//! clear error per bad parameter, and the page it answers with.

use chrono::{DateTime, Utc};
use serde::de::value::{Error as ValueError, StrDeserializer};
use serde::de::IntoDeserializer;
use serde::{Deserialize, Serialize};

use super::Invalid;
use super::{forbidden_control, parse_timestamp, Controls, Priority, TagName};

pub const DEFAULT_PAGE_SIZE: u32 = 20;
pub const MAX_PAGE_SIZE: u32 = 100;
pub const MAX_SEARCH_CHARS: usize = 200;
/// Pages are numbered from 1 to this.
pub const MAX_PAGE: u32 = 1_000_000;
/// `total_count` is exact up to this many matches (or up to the end of the requested page,
/// when that is further); beyond it, it is this lower bound and `total_count_exact` is false.
/// Counting every match of a 100,000-task user costs tens of milliseconds; `count=exact`
/// asks for it anyway (docs/BENCHMARKS.md, "capped count").
pub const COUNT_CAP: u64 = 1000;

// The enumerated parameters are read by serde from their names (`variant`), the same
// derive the OpenAPI document lists them from, so the two cannot disagree.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    #[default]
    All,
    Pending,
    Completed,
}

/// Sort keys, an allow-list: each maps to a fixed SQL expression in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortBy {
    #[serde(alias = "due_date")]
    DueAt,
    Priority,
    Title,
    #[default]
    CreatedAt,
    UpdatedAt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    Asc,
    Desc,
}

/// How far `total_count` counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Count {
    /// Up to [`COUNT_CAP`] matches, or to the end of the requested page.
    #[default]
    Capped,
    /// Every match.
    Exact,
}

/// The variant of `T` named `value` (by its serde name), if any.
fn variant<'de, T: Deserialize<'de>>(value: &'de str) -> Option<T> {
    let names: StrDeserializer<'de, ValueError> = value.into_deserializer();
    T::deserialize(names).ok()
}

/// The list query's parameters as the OpenAPI document describes them: what
/// `ListQuery::parse` reads (tests check that each is accepted under this name, and that the
/// limits written here are the constants'), the other names of `canonical` included, as
/// deprecated (the routes refuse what their document does not name). Lists are
/// comma-separated.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // a description, never built
pub struct ListParams {
    /// Web-search syntax over title, description and tags: words, `"quoted phrase"`,
    /// `-exclude`, `or`. English words are stemmed (`calls` finds `call`).
    #[param(max_length = 200, example = "rent -car")]
    search: Option<String>,
    /// `all` (the default), `pending` or `completed`.
    #[param(inline)]
    status: Option<Status>,
    /// Any of these priorities, comma-separated: `P1`..`P4` or `urgent`, `high`, `medium`,
    /// `low`.
    #[param(example = "P1,P2")]
    priority: Option<String>,
    /// Any of these tags, comma-separated.
    #[param(example = "work,home")]
    tag: Option<String>,
    /// Due before this time (exclusive).
    due_before: Option<DateTime<Utc>>,
    /// Due after this time (exclusive; not later than `due_before`).
    due_after: Option<DateTime<Utc>>,
    /// `true`: only open tasks whose due date has passed; `false`: only the others.
    overdue: Option<bool>,
    /// The sort key (default `created_at`); ties break on id, nulls sort last.
    #[param(inline)]
    sort_by: Option<SortBy>,
    /// Default: `asc` for `due_at`, `priority`, `title`; `desc` for the timestamps.
    #[param(inline)]
    sort_order: Option<SortOrder>,
    /// The page, from 1.
    #[param(minimum = 1, maximum = 1_000_000, default = 1)]
    page: Option<u32>,
    /// Tasks per page.
    #[param(minimum = 1, maximum = 100, default = 20)]
    page_size: Option<u32>,
    /// `capped` (the default) counts up to the cap (see `total_count_exact`); `exact`
    /// counts every match, at a cost that grows with them.
    #[param(inline)]
    count: Option<Count>,
    /// Another name of `search`.
    #[deprecated]
    #[param(max_length = 200)]
    q: Option<String>,
    /// Another name of `tag`.
    #[deprecated]
    #[param(example = "work,home")]
    tags: Option<String>,
    /// Another name of `sort_by`.
    #[deprecated]
    #[param(inline)]
    sort: Option<SortBy>,
    /// Another name of `sort_order`.
    #[deprecated]
    #[param(inline)]
    order: Option<SortOrder>,
    /// Another name of `page_size`.
    #[deprecated]
    #[param(minimum = 1, maximum = 100, default = 20)]
    limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    /// Web-search syntax over title, description and tags: words, "quoted phrases", -exclusions, or.
    pub search: Option<String>,
    pub status: Status,
    /// Any of these priorities (empty: all).
    pub priorities: Vec<Priority>,
    /// Any of these tags (empty: all).
    pub tags: Vec<TagName>,
    pub due_before: Option<DateTime<Utc>>,
    pub due_after: Option<DateTime<Utc>>,
    /// `Some(true)`: only open tasks whose due date has passed; `Some(false)`: only the others.
    pub overdue: Option<bool>,
    pub sort_by: SortBy,
    pub sort_order: SortOrder,
    /// 1-based.
    pub page: u32,
    pub page_size: u32,
    pub count: Count,
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            search: None,
            status: Status::All,
            priorities: vec![],
            tags: vec![],
            due_before: None,
            due_after: None,
            overdue: None,
            sort_by: SortBy::CreatedAt,
            sort_order: SortOrder::Desc,
            page: 1,
            page_size: DEFAULT_PAGE_SIZE,
            count: Count::Capped,
        }
    }
}

impl ListQuery {
    /// Parses decoded `key=value` pairs. Unknown keys and repeated keys are refused so a
    /// typo never silently widens the result.
    pub fn parse<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, Invalid> {
        let mut q = ListQuery::default();
        let mut sort_order = None;
        let mut seen = std::collections::HashSet::new();
        for (given, value) in pairs {
            // An alias names the same parameter: `search=a&q=b` is a repeat too.
            let key = canonical(given);
            if !seen.insert(key) {
                return Err(bad(
                    key,
                    if key == given {
                        format!("{key} is given more than once")
                    } else {
                        format!("{key} is given more than once ({given} is another name for it)")
                    },
                ));
            }
            let value = value.trim();
            match key {
                "search" => {
                    if value.chars().count() > MAX_SEARCH_CHARS {
                        return Err(bad(
                            key,
                            format!("search must be at most {MAX_SEARCH_CHARS} characters"),
                        ));
                    }
                    if forbidden_control(value, Controls::None).is_some() {
                        return Err(bad(key, "search must not contain control characters"));
                    }
                    q.search = (!value.is_empty()).then(|| value.to_owned());
                }
                "status" if value.is_empty() => q.status = Status::All,
                "status" => {
                    q.status = variant(value)
                        .ok_or_else(|| bad(key, "status must be all, pending or completed"))?
                }
                "priority" => {
                    q.priorities = list(value)
                        .map(Priority::parse)
                        .collect::<Result<_, _>>()
                        .map_err(|m| bad(key, m))?;
                }
                "tag" => {
                    q.tags = list(value)
                        .map(TagName::parse)
                        .collect::<Result<_, _>>()
                        .map_err(|m| bad(key, m))?;
                }
                "due_before" => q.due_before = Some(timestamp(key, value)?),
                "due_after" => q.due_after = Some(timestamp(key, value)?),
                "overdue" => q.overdue = Some(boolean(key, value)?),
                "sort_by" => {
                    q.sort_by = variant(value).ok_or_else(|| {
                        bad(
                        key,
                        "sort_by must be one of due_at, priority, title, created_at, updated_at",
                    )
                    })?
                }
                "sort_order" => {
                    sort_order = Some(
                        variant(value).ok_or_else(|| bad(key, "sort_order must be asc or desc"))?,
                    )
                }
                "page" => {
                    q.page = value
                        .parse::<u32>()
                        .ok()
                        .filter(|p| (1..=MAX_PAGE).contains(p))
                        .ok_or_else(|| {
                            bad(
                                key,
                                format!("page must be a whole number from 1 to {MAX_PAGE}"),
                            )
                        })?
                }
                "page_size" => {
                    q.page_size = value
                        .parse::<u32>()
                        .ok()
                        .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
                        .ok_or_else(|| {
                            bad(
                                key,
                                format!("page_size must be between 1 and {MAX_PAGE_SIZE}"),
                            )
                        })?
                }
                "count" if value.is_empty() => q.count = Count::Capped,
                "count" => {
                    q.count =
                        variant(value).ok_or_else(|| bad(key, "count must be capped or exact"))?
                }
                other => {
                    return Err(bad(
                        other,
                        format!("unknown query parameter {}", super::text::echo(other)),
                    ))
                }
            }
        }
        // Dates and titles read naturally ascending, "most recent / most urgent" first otherwise.
        q.sort_order = sort_order.unwrap_or(match q.sort_by {
            SortBy::DueAt | SortBy::Priority | SortBy::Title => SortOrder::Asc,
            SortBy::CreatedAt | SortBy::UpdatedAt => SortOrder::Desc,
        });
        if let (Some(before), Some(after)) = (q.due_before, q.due_after) {
            if after > before {
                return Err(bad(
                    "due_after",
                    "due_after must not be later than due_before",
                ));
            }
        }
        Ok(q)
    }

    pub fn offset(&self) -> u64 {
        (self.page as u64 - 1) * self.page_size as u64
    }

    /// The most matches a count has to find: `None` counts them all.
    pub fn count_limit(&self) -> Option<u64> {
        match self.count {
            Count::Exact => None,
            Count::Capped => Some(COUNT_CAP.max(self.offset() + self.page_size as u64)),
        }
    }
}

/// The parameter an alias stands for (`q` is `search`, ...); other names stand for
/// themselves.
fn canonical(key: &str) -> &str {
    match key {
        "q" => "search",
        "tags" => "tag",
        "sort" => "sort_by",
        "order" => "sort_order",
        "limit" => "page_size",
        other => other,
    }
}

fn bad(field: &str, message: impl Into<String>) -> Invalid {
    Invalid::new(field, message)
}

fn list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

fn timestamp(key: &str, value: &str) -> Result<DateTime<Utc>, Invalid> {
    parse_timestamp(key, value)
}

fn boolean(key: &str, value: &str) -> Result<bool, Invalid> {
    match value {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(bad(key, format!("{key} must be true or false"))),
    }
}

/// One page of a list.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Every match when `total_count_exact`; otherwise a lower bound (there are more).
    pub total_count: u64,
    pub page: u32,
    pub page_size: u32,
    pub total_pages: u64,
    pub total_count_exact: bool,
}

/// What a count found: every match, or more than its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Total {
    Exact(u64),
    AtLeast(u64),
}

impl Total {
    /// What a count of `n` rows found when it stopped at `limit + 1` (`None`: it ran to the
    /// end): one row more than the limit proves there are more.
    pub fn counted(n: u64, limit: Option<u64>) -> Total {
        match limit {
            Some(limit) if n > limit => Total::AtLeast(limit),
            _ => Total::Exact(n),
        }
    }
}

impl<T> Page<T> {
    pub fn new(items: Vec<T>, total: Total, query: &ListQuery) -> Self {
        let (total_count, total_count_exact) = match total {
            Total::Exact(n) => (n, true),
            Total::AtLeast(n) => (n, false),
        };
        Page {
            items,
            total_count,
            page: query.page,
            page_size: query.page_size,
            total_pages: total_count.div_ceil(query.page_size as u64),
            total_count_exact,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let q = ListQuery::parse([]).unwrap();
        assert_eq!(q, ListQuery::default());
        assert_eq!(q.offset(), 0);
    }

    #[test]
    fn full_query() {
        let q = ListQuery::parse([
            ("search", "milk"),
            ("status", "pending"),
            ("priority", "P1,high"),
            ("tag", "Work, home"),
            ("due_before", "2027-01-01T00:00:00Z"),
            ("due_after", "2026-01-01T00:00:00Z"),
            ("overdue", "false"),
            ("sort_by", "due_at"),
            ("page", "3"),
            ("page_size", "50"),
        ])
        .unwrap();
        assert_eq!(q.priorities.len(), 2);
        assert_eq!(q.tags[0].as_str(), "work");
        assert_eq!(q.sort_order, SortOrder::Asc);
        assert_eq!(q.offset(), 100);
    }

    /// The documented parameters (`ListParams`) are the ones `parse` reads, with the same
    /// limits: each documented example or bound is accepted, one past a bound refused.
    #[test]
    fn the_documented_parameters_are_the_parsed_ones() {
        use utoipa::IntoParams;
        let params: Vec<serde_json::Value> = ListParams::into_params(|| None)
            .iter()
            .map(|p| serde_json::to_value(p).unwrap())
            .collect();
        let names: Vec<&str> = params.iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            [
                "search",
                "status",
                "priority",
                "tag",
                "due_before",
                "due_after",
                "overdue",
                "sort_by",
                "sort_order",
                "page",
                "page_size",
                "count",
                "q",
                "tags",
                "sort",
                "order",
                "limit"
            ]
        );
        for alias in &params[names.len() - 5..] {
            assert_eq!(alias["deprecated"], true, "{alias}");
            let name = alias["name"].as_str().unwrap();
            assert_ne!(canonical(name), name);
        }
        for param in &params {
            let (name, schema) = (param["name"].as_str().unwrap(), &param["schema"]);
            let mut accepted: Vec<String> = schema["enum"]
                .as_array()
                .into_iter()
                .flatten()
                .chain(param.get("example"))
                .map(|v| v.as_str().unwrap().to_owned())
                .collect();
            if let Some(max) = schema["maximum"].as_u64() {
                let min = schema["minimum"].as_u64().unwrap();
                accepted.extend([min.to_string(), max.to_string()]);
                let past = (max + 1).to_string();
                assert!(ListQuery::parse([(name, past.as_str())]).is_err(), "{name}");
            }
            if let Some(max) = schema["maxLength"].as_u64() {
                accepted.push("x".repeat(max as usize));
                let past = "x".repeat(max as usize + 1);
                assert!(ListQuery::parse([(name, past.as_str())]).is_err(), "{name}");
            }
            match schema["format"].as_str().or(schema["type"].as_str()) {
                Some("date-time") => accepted.push("2026-12-01T09:00:00Z".into()),
                Some("boolean") => accepted.extend(["true".into(), "false".into()]),
                _ => {}
            }
            assert!(!accepted.is_empty(), "{name}: nothing to try");
            for value in accepted {
                let parsed = ListQuery::parse([(name, value.as_str())]);
                assert!(parsed.is_ok(), "{name}={value}: {parsed:?}");
            }
        }
    }

    #[test]
    fn every_bad_parameter_is_named() {
        for (k, v) in [
            ("page_size", "101"),
            ("page_size", "0"),
            ("page", "0"),
            ("sort_by", "colour"),
            ("sort_order", "up"),
            ("status", "done"),
            ("priority", "P9"),
            ("due_before", "soon"),
            ("overdue", "maybe"),
            ("colour", "red"),
            ("count", "all"),
        ] {
            let err = ListQuery::parse([(k, v)]).unwrap_err();
            assert!(err.field == k, "{k}={v}: {err:?}");
        }
    }

    #[test]
    fn a_count_past_its_limit_is_a_lower_bound() {
        assert_eq!(Total::counted(1001, Some(1000)), Total::AtLeast(1000));
        assert_eq!(Total::counted(1000, Some(1000)), Total::Exact(1000));
        assert_eq!(Total::counted(5000, None), Total::Exact(5000));
    }

    #[test]
    fn total_pages_rounds_up() {
        let q = ListQuery {
            page_size: 10,
            ..Default::default()
        };
        assert_eq!(Page::<()>::new(vec![], Total::Exact(0), &q).total_pages, 0);
        assert_eq!(Page::<()>::new(vec![], Total::Exact(10), &q).total_pages, 1);
        assert_eq!(Page::<()>::new(vec![], Total::Exact(11), &q).total_pages, 2);
        let capped = Page::<()>::new(vec![], Total::AtLeast(1000), &q);
        assert_eq!((capped.total_pages, capped.total_count_exact), (100, false));
    }

    #[test]
    fn count_limit_reaches_the_requested_page() {
        let q = |pairs: &[(&'static str, &'static str)]| {
            ListQuery::parse(pairs.iter().copied()).unwrap()
        };
        assert_eq!(q(&[]).count_limit(), Some(COUNT_CAP));
        assert_eq!(
            q(&[("page", "60"), ("page_size", "20")]).count_limit(),
            Some(1200)
        );
        assert_eq!(q(&[("count", "exact")]).count_limit(), None);
    }
}
