//! The compatibility mode on the command line is the public
//! `proto::Compatibility`: parsed leniently (`backward-transitive`,
//! `FULL`, `COMPATIBILITY_NONE`, …) and shown as the docs spell it
//! (`BACKWARD_TRANSITIVE`), both from the proto enum's own names.

use switchyard_client::proto::Compatibility;

/// The prefix of the proto names (`COMPATIBILITY_FULL`).
const PREFIX: &str = "COMPATIBILITY_";

/// A mode given on the command line; UNSPECIFIED is not one.
pub fn parse_mode(text: &str) -> Result<Compatibility, String> {
    let normal = text.trim().to_ascii_uppercase().replace('-', "_");
    let bare = normal.strip_prefix(PREFIX).unwrap_or(&normal);
    Compatibility::from_str_name(&format!("{PREFIX}{bare}"))
        .filter(|mode| *mode != Compatibility::Unspecified)
        .ok_or_else(|| {
            format!("`{text}` is not a mode: BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE or NONE")
        })
}

/// `BACKWARD_TRANSITIVE`, …; `UNSPECIFIED` for UNSPECIFIED.
pub fn mode_name(mode: Compatibility) -> &'static str {
    let name = mode.as_str_name();
    name.strip_prefix(PREFIX).unwrap_or(name)
}

/// The name of a mode received as a number; `UNSPECIFIED` for a number no
/// mode has.
pub fn mode_name_of(value: i32) -> &'static str {
    mode_name(Compatibility::try_from(value).unwrap_or(Compatibility::Unspecified))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODES: [(Compatibility, &str); 7] = [
        (Compatibility::Backward, "BACKWARD"),
        (Compatibility::BackwardTransitive, "BACKWARD_TRANSITIVE"),
        (Compatibility::Forward, "FORWARD"),
        (Compatibility::ForwardTransitive, "FORWARD_TRANSITIVE"),
        (Compatibility::Full, "FULL"),
        (Compatibility::FullTransitive, "FULL_TRANSITIVE"),
        (Compatibility::None, "NONE"),
    ];

    #[test]
    fn spellings_round_trip() {
        for (mode, name) in MODES {
            assert_eq!(mode_name(mode), name);
            assert_eq!(mode_name_of(mode as i32), name);
            assert_eq!(parse_mode(name), Ok(mode));
            assert_eq!(parse_mode(&name.to_ascii_lowercase()), Ok(mode));
        }
        assert_eq!(
            parse_mode("COMPATIBILITY_FULL_TRANSITIVE"),
            Ok(Compatibility::FullTransitive)
        );
        assert_eq!(
            parse_mode(" forward-transitive "),
            Ok(Compatibility::ForwardTransitive)
        );
        assert_eq!(
            parse_mode("sideways"),
            Err("`sideways` is not a mode: BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE or NONE".to_string())
        );
        assert!(parse_mode("unspecified").is_err());
        assert!(parse_mode("COMPATIBILITY_UNSPECIFIED").is_err());
        assert_eq!(mode_name_of(0), "UNSPECIFIED");
        assert_eq!(mode_name_of(99), "UNSPECIFIED");
    }
}
