//! The compatibility modes, their spellings (database, proto, command
//! line) and what each one checks.

use std::fmt;

use switchyard_proto::v1::Compatibility;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Mode {
    #[default]
    Backward,
    BackwardTransitive,
    Forward,
    ForwardTransitive,
    Full,
    FullTransitive,
    None,
}

impl Mode {
    pub const ALL: [Mode; 7] = [
        Mode::Backward,
        Mode::BackwardTransitive,
        Mode::Forward,
        Mode::ForwardTransitive,
        Mode::Full,
        Mode::FullTransitive,
        Mode::None,
    ];

    /// The spelling stored in `event_types.compatibility`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Backward => "backward",
            Mode::BackwardTransitive => "backward_transitive",
            Mode::Forward => "forward",
            Mode::ForwardTransitive => "forward_transitive",
            Mode::Full => "full",
            Mode::FullTransitive => "full_transitive",
            Mode::None => "none",
        }
    }

    /// Accepts `backward_transitive`, `BACKWARD-TRANSITIVE`,
    /// `COMPATIBILITY_BACKWARD_TRANSITIVE` and the like.
    pub fn parse(text: &str) -> Option<Mode> {
        let normal = text.trim().to_ascii_lowercase().replace('-', "_");
        let bare = normal.strip_prefix("compatibility_").unwrap_or(&normal);
        Mode::ALL.into_iter().find(|mode| mode.as_str() == bare)
    }

    /// Whether the new schema must read what earlier versions wrote.
    pub fn checks_backward(self) -> bool {
        matches!(
            self,
            Mode::Backward | Mode::BackwardTransitive | Mode::Full | Mode::FullTransitive
        )
    }

    /// Whether earlier versions must read what the new schema writes.
    pub fn checks_forward(self) -> bool {
        matches!(
            self,
            Mode::Forward | Mode::ForwardTransitive | Mode::Full | Mode::FullTransitive
        )
    }

    /// Whether every earlier version is checked, not only the latest.
    pub fn is_transitive(self) -> bool {
        matches!(
            self,
            Mode::BackwardTransitive | Mode::ForwardTransitive | Mode::FullTransitive
        )
    }

    pub fn to_proto(self) -> Compatibility {
        match self {
            Mode::Backward => Compatibility::Backward,
            Mode::BackwardTransitive => Compatibility::BackwardTransitive,
            Mode::Forward => Compatibility::Forward,
            Mode::ForwardTransitive => Compatibility::ForwardTransitive,
            Mode::Full => Compatibility::Full,
            Mode::FullTransitive => Compatibility::FullTransitive,
            Mode::None => Compatibility::None,
        }
    }

    /// `Ok(None)` for UNSPECIFIED; `Err` for a number no mode has.
    pub fn from_proto(value: i32) -> Result<Option<Mode>, String> {
        match Compatibility::try_from(value) {
            Ok(Compatibility::Unspecified) => Ok(None),
            Ok(Compatibility::Backward) => Ok(Some(Mode::Backward)),
            Ok(Compatibility::BackwardTransitive) => Ok(Some(Mode::BackwardTransitive)),
            Ok(Compatibility::Forward) => Ok(Some(Mode::Forward)),
            Ok(Compatibility::ForwardTransitive) => Ok(Some(Mode::ForwardTransitive)),
            Ok(Compatibility::Full) => Ok(Some(Mode::Full)),
            Ok(Compatibility::FullTransitive) => Ok(Some(Mode::FullTransitive)),
            Ok(Compatibility::None) => Ok(Some(Mode::None)),
            Err(_) => Err(format!("{value} is not a compatibility mode")),
        }
    }
}

/// `BACKWARD_TRANSITIVE`, as the proto enum and the docs spell it.
impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str().to_ascii_uppercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip() {
        for mode in Mode::ALL {
            assert_eq!(Mode::parse(mode.as_str()), Some(mode));
            assert_eq!(Mode::parse(&mode.to_string()), Some(mode));
            assert_eq!(Mode::from_proto(mode.to_proto() as i32), Ok(Some(mode)));
        }
        assert_eq!(
            Mode::parse("COMPATIBILITY_FULL_TRANSITIVE"),
            Some(Mode::FullTransitive)
        );
        assert_eq!(
            Mode::parse("forward-transitive"),
            Some(Mode::ForwardTransitive)
        );
        assert_eq!(Mode::parse("sideways"), None);
        assert_eq!(Mode::from_proto(0), Ok(None));
        assert!(Mode::from_proto(99).is_err());
    }

    #[test]
    fn directions_per_mode() {
        let table = [
            (Mode::Backward, true, false, false),
            (Mode::BackwardTransitive, true, false, true),
            (Mode::Forward, false, true, false),
            (Mode::ForwardTransitive, false, true, true),
            (Mode::Full, true, true, false),
            (Mode::FullTransitive, true, true, true),
            (Mode::None, false, false, false),
        ];
        for (mode, backward, forward, transitive) in table {
            assert_eq!(
                (
                    mode.checks_backward(),
                    mode.checks_forward(),
                    mode.is_transitive()
                ),
                (backward, forward, transitive),
                "{mode}"
            );
        }
    }
}
