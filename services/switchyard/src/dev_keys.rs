//! The master key of local runs (`switchyard demo`, and `switchyard bench`
//! against its own in-process stack): when the configuration names none,
//! one is generated into `.data/master.key` on first use and read back on
//! every later run, so a restarted demo still decrypts the credentials its
//! database holds. The API key pepper is kept the same way in
//! `.data/api-key-pepper`, so keys a demo printed keep working after a
//! restart. Deployments configure `secrets.keys` and `api_key_pepper`.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use secrecy::SecretString;
use switchyard_core::config::Config;

/// Where the local key lives, relative to the working directory (the
/// repository root under `scripts/demo.sh`; `.data/` is git-ignored).
pub const DEV_KEY_FILE: &str = ".data/master.key";
/// Where the local API key pepper lives.
pub const DEV_PEPPER_FILE: &str = ".data/api-key-pepper";
/// The id the local key is configured under.
pub const DEV_KEY_ID: &str = "dev";

/// Gives `config` the local key when it has no key at all; returns whether
/// it did.
pub fn ensure(config: &mut Config) -> anyhow::Result<bool> {
    if config.api_key_pepper.is_none() {
        let pepper = load_or_create(Path::new(DEV_PEPPER_FILE))?;
        config.api_key_pepper = Some(SecretString::from(pepper));
    }
    if !config.secrets.keys.is_empty() {
        return Ok(false);
    }
    let key = load_or_create(Path::new(DEV_KEY_FILE))?;
    config
        .secrets
        .keys
        .insert(DEV_KEY_ID.to_string(), SecretString::from(key));
    config.secrets.active_key = Some(DEV_KEY_ID.to_string());
    Ok(true)
}

fn load_or_create(path: &Path) -> anyhow::Result<String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            let key = switchyard_core::config::generate_master_key();
            writeln!(file, "{key}").with_context(|| format!("writing {}", path.display()))?;
            Ok(key)
        }
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Ok(text.trim().to_string())
        }
        Err(error) => Err(error).with_context(|| format!("creating {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_created_once_and_reused() {
        let dir = std::env::temp_dir().join(format!("sy-dev-key-{}", uuid_like()));
        let path = dir.join("master.key");
        let first = load_or_create(&path).expect("created");
        let again = load_or_create(&path).expect("read back");
        assert_eq!(first, again);
        assert!(switchyard_tenancy::secrets::Keyring::single("dev", &again).is_ok());
        let _ = std::fs::remove_dir_all(dir);
    }

    fn uuid_like() -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        format!("{}-{nanos}", std::process::id())
    }
}
