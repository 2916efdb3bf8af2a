//! Where to send a person after they log in: the page they wanted, but only ever a path on this
//! site, so `?next=` cannot be turned into an open redirect.

/// A same-site path such as `/profile?tab=1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextPath(String);

impl NextPath {
    /// Where people land when no (usable) `next` was given.
    pub const DEFAULT: &'static str = "/profile";

    /// A safe path from an untrusted `next` value, or `None`.
    pub fn parse(raw: &str) -> Option<Self> {
        let is_local = raw.starts_with('/')
            && !raw.starts_with("//")
            && !raw.starts_with("/\\")
            && raw.len() <= 2048
            && !raw.chars().any(|c| c.is_control() || c == '\\');
        // Coming back to the login or register page after logging in would be a loop.
        let is_auth_page = ["/login", "/register"]
            .iter()
            .any(|page| raw == *page || raw.starts_with(&format!("{page}?")));
        (is_local && !is_auth_page).then(|| Self(raw.to_owned()))
    }

    /// `parse`, falling back to [`Self::DEFAULT`].
    pub fn or_default(raw: Option<&str>) -> Self {
        raw.and_then(Self::parse)
            .unwrap_or_else(|| Self(Self::DEFAULT.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_are_kept() {
        assert_eq!(NextPath::parse("/profile").unwrap().as_str(), "/profile");
        assert_eq!(
            NextPath::parse("/profile?x=1#y").unwrap().as_str(),
            "/profile?x=1#y"
        );
    }

    #[test]
    fn other_sites_and_odd_paths_are_refused() {
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "evil",
            "",
            "javascript:alert(1)",
            "/a\nb",
            "/login",
            "/login?next=/x",
            "/register",
        ] {
            assert_eq!(NextPath::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn default_is_the_profile() {
        assert_eq!(NextPath::or_default(Some("//evil")).as_str(), "/profile");
        assert_eq!(NextPath::or_default(None).as_str(), "/profile");
    }
}
