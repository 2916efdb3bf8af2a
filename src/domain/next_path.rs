//! Where to send a person after they log in: the page they wanted, but only ever a path on this
//! site, and a page rather than an endpoint, so `?next=` cannot be turned into an open redirect
//! or a request of this site's own to a target of someone else's choosing.

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
        // Pages only: an endpoint as `next` would make the redirect there a request of this
        // site's own (cookies and all) to a target another site chose, and `resume` inside
        // `resume` a chain of rotations.
        let is_endpoint = ["/api", "/pkg"].iter().any(|root| {
            raw.strip_prefix(root)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?', '#']))
        });
        (is_local && !is_auth_page && !is_endpoint).then(|| Self(raw.to_owned()))
    }

    /// `parse`, falling back to [`Self::DEFAULT`].
    pub fn or_default(raw: Option<&str>) -> Self {
        raw.and_then(Self::parse)
            .unwrap_or_else(|| Self(Self::DEFAULT.to_owned()))
    }

    /// The path and query of an absolute URL such as a `Referer`, when they make a usable
    /// `next`. The scheme and host are dropped, so the result is always on this site.
    pub fn of_url(url: &str) -> Option<Self> {
        let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
        let path = &after_scheme[after_scheme.find('/')?..];
        Self::parse(path)
    }

    /// The login page, coming back here afterwards.
    pub fn login_url(&self) -> String {
        self.via("/login")
    }

    /// `page`, passing this path on as its `?next=`.
    pub fn via(&self, page: &str) -> String {
        format!("{page}?next={}", percent_encode(&self.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Percent-encodes a path for use as a query value (`/` is kept for readability: it is legal
/// in a query).
fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_are_kept() {
        assert_eq!(NextPath::parse("/profile").unwrap().as_str(), "/profile");
        assert_eq!(NextPath::parse("/apiary").unwrap().as_str(), "/apiary");
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
            "/api/auth/sessions",
            "/api/auth/resume?next=/api/auth/resume",
            "/api",
            "/api?x",
            "/pkg/gatehouse.wasm",
        ] {
            assert_eq!(NextPath::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_path_of_a_url_is_kept_and_its_host_dropped() {
        let of = |url| NextPath::of_url(url).map(|p| p.as_str().to_owned());
        assert_eq!(
            of("http://127.0.0.1:3000/profile?tab=1").as_deref(),
            Some("/profile?tab=1")
        );
        assert_eq!(
            of("https://evil.example/profile").as_deref(),
            Some("/profile")
        );
        assert_eq!(of("https://evil.example").as_deref(), None);
        assert_eq!(of("http://127.0.0.1:3000/login?next=/x").as_deref(), None);
    }

    #[test]
    fn the_login_url_carries_the_path_encoded() {
        let next = NextPath::parse("/profile?a=1&b=2").unwrap();
        assert_eq!(next.login_url(), "/login?next=/profile%3Fa%3D1%26b%3D2");
    }

    #[test]
    fn default_is_the_profile() {
        assert_eq!(NextPath::or_default(Some("//evil")).as_str(), "/profile");
        assert_eq!(NextPath::or_default(None).as_str(), "/profile");
    }
}
