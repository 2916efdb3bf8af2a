//! [ssr] Password hashing with Argon2id (m = 19 MiB, t = 2, p = 1: OWASP's baseline), always on
//! the blocking pool so a login never stalls the async threads that serve everyone else.

use argon2::{
    password_hash::{
        rand_core::OsRng, PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString,
    },
    Algorithm, Argon2, Params, Version,
};

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing failed: {0}")]
    Hash(argon2::password_hash::Error),
    #[error("password hashing task failed")]
    Task(#[from] tokio::task::JoinError),
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("constant Argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes and verifies passwords. Holds a hash of a random password, verified against whenever
/// the account does not exist, so an unknown login costs as much as a wrong password.
pub struct Passwords {
    decoy_hash: String,
}

impl Passwords {
    pub async fn new() -> Result<Self, HashError> {
        let random = uuid::Uuid::new_v4().to_string();
        Ok(Self {
            decoy_hash: hash(random).await?,
        })
    }

    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        hash(password.to_owned()).await
    }

    /// True when `password` matches `stored`; with no stored hash, pays the same price and
    /// answers false.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool, HashError> {
        let known = stored.is_some();
        let stored = stored.unwrap_or(&self.decoy_hash).to_owned();
        let password = password.to_owned();
        let matches = tokio::task::spawn_blocking(move || {
            let parsed = PasswordHash::new(&stored).map_err(HashError::Hash)?;
            Ok::<_, HashError>(
                argon2()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok(),
            )
        })
        .await??;
        Ok(known && matches)
    }
}

async fn hash(password: String) -> Result<String, HashError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(HashError::Hash)
    })
    .await?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_is_argon2id_with_the_baseline_parameters_and_salted() {
        let passwords = Passwords::new().await.unwrap();
        let first = passwords.hash("correct horse").await.unwrap();
        let second = passwords.hash("correct horse").await.unwrap();
        assert!(
            first.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{first}"
        );
        assert_ne!(first, second, "each hash has its own salt");
        assert!(!first.contains("correct horse"));
    }

    #[tokio::test]
    async fn verify_accepts_the_password_and_refuses_others() {
        let passwords = Passwords::new().await.unwrap();
        let stored = passwords.hash("correct horse").await.unwrap();
        assert!(passwords
            .verify("correct horse", Some(&stored))
            .await
            .unwrap());
        assert!(!passwords
            .verify("correct horsE", Some(&stored))
            .await
            .unwrap());
    }

    #[tokio::test]
    async fn verify_without_an_account_is_false_even_for_the_decoy_password() {
        let passwords = Passwords::new().await.unwrap();
        assert!(!passwords.verify("anything at all", None).await.unwrap());
    }
}
