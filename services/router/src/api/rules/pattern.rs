//! The event type a rule names: exact (`lead.created`), a prefix wildcard
//! (`lead.*`: every type with one or more segments after `lead.`, so
//! `lead.created` and `lead.status.changed`, not `leads.created`), or `*`
//! (every type). Only a trailing `*` is a wildcard; `lead.*.created` is
//! refused. An exact name must be registered when the rule is saved; a
//! wildcard need not match any type yet.

use std::fmt;

use switchyard_core::names::EventTypeName;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum EventPattern {
    Exact(EventTypeName),
    /// The prefix including its trailing dot: `lead.` for `lead.*`.
    Prefix(String),
    All,
}

impl EventPattern {
    pub fn parse(text: &str) -> Result<Self, String> {
        if text == "*" {
            return Ok(Self::All);
        }
        let Some(prefix) = text.strip_suffix(".*") else {
            if text.contains('*') {
                return Err(format!(
                    "`{text}`: `*` may only stand alone or as the last segment (`lead.*`)"
                ));
            }
            return EventTypeName::parse(text).map(Self::Exact);
        };
        if prefix.contains('*') {
            return Err(format!(
                "`{text}`: `*` may only stand alone or as the last segment (`lead.*`)"
            ));
        }
        // A prefix is a type name missing its last segment: check it as one.
        EventTypeName::parse(&format!("{prefix}.x"))
            .map_err(|_| format!("`{text}`: the part before `.*` must be dot-separated lower-case segments (e.g. `lead.*`)"))?;
        Ok(Self::Prefix(format!("{prefix}.")))
    }

    pub fn matches(&self, event_type: &str) -> bool {
        match self {
            Self::Exact(name) => name.as_str() == event_type,
            Self::Prefix(prefix) => {
                event_type.len() > prefix.len() && event_type.starts_with(prefix.as_str())
            }
            Self::All => true,
        }
    }

    pub fn is_wildcard(&self) -> bool {
        !matches!(self, Self::Exact(_))
    }

    /// A concrete type this pattern matches, for sample events.
    pub fn example(&self) -> String {
        match self {
            Self::Exact(name) => name.to_string(),
            Self::Prefix(prefix) => format!("{prefix}example"),
            Self::All => "sample.event".to_string(),
        }
    }
}

impl fmt::Display for EventPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(name) => write!(f, "{name}"),
            Self::Prefix(prefix) => write!(f, "{prefix}*"),
            Self::All => f.write_str("*"),
        }
    }
}

/// Every stored pattern that matches `event_type`: the type itself, `*`,
/// and `p.*` for each proper prefix `p` (`a.*` and `a.b.*` for `a.b.c`), so
/// one indexed `event_type = ANY(…)` finds a type's rules.
pub fn patterns_matching(event_type: &str) -> Vec<String> {
    let mut patterns = vec![event_type.to_string(), "*".to_string()];
    for (index, _) in event_type.match_indices('.') {
        patterns.push(format!("{}.*", &event_type[..index]));
    }
    patterns
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exact_prefix_and_all() {
        assert!(matches!(
            EventPattern::parse("lead.created"),
            Ok(EventPattern::Exact(_))
        ));
        assert_eq!(
            EventPattern::parse("lead.*"),
            Ok(EventPattern::Prefix("lead.".to_string()))
        );
        assert_eq!(
            EventPattern::parse("a.b.*"),
            Ok(EventPattern::Prefix("a.b.".to_string()))
        );
        assert_eq!(EventPattern::parse("*"), Ok(EventPattern::All));
        for bad in [
            "lead.*.created",
            "*.created",
            "Lead.*",
            "lead*",
            ".*",
            "lead",
            "",
            "lead.**",
        ] {
            assert!(EventPattern::parse(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn wildcards_match_one_or_more_trailing_segments() {
        let lead = EventPattern::parse("lead.*").expect("ok");
        assert!(lead.matches("lead.created"));
        assert!(lead.matches("lead.status.changed"));
        assert!(!lead.matches("leads.created"));
        assert!(!lead.matches("lead."));
        assert!(!lead.matches("invoice.paid"));
        assert!(EventPattern::All.matches("invoice.paid"));
        let exact = EventPattern::parse("lead.created").expect("ok");
        assert!(exact.matches("lead.created") && !exact.matches("lead.created.v2"));
        for pattern in ["lead.*", "*", "lead.created"] {
            let parsed = EventPattern::parse(pattern).expect("ok");
            assert_eq!(parsed.to_string(), pattern);
            assert!(parsed.matches(&parsed.example()));
        }
    }

    #[test]
    fn lists_the_patterns_a_type_is_matched_by() {
        assert_eq!(
            patterns_matching("a.b.c"),
            vec!["a.b.c", "*", "a.*", "a.b.*"]
        );
        for pattern in patterns_matching("lead.status.changed") {
            assert!(
                EventPattern::parse(&pattern)
                    .expect("ok")
                    .matches("lead.status.changed")
            );
        }
    }
}
