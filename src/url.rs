//! Splits an absolute `http(s)://` URL into the parts a `wasi:http` outgoing request is built
//! from: scheme, authority and path-with-query. No percent-decoding or normalisation: the URL is
//! expected to be percent-encoded already (see `ports::HttpRequest::url`).

/// The scheme of an absolute URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlScheme {
    Http,
    Https,
}

/// An absolute URL split into its request parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitUrl {
    pub scheme: UrlScheme,
    /// `host[:port]` (IPv6 hosts keep their brackets).
    pub authority: String,
    /// Starts with `/`; the query, if any, is kept; the fragment is dropped.
    pub path_with_query: String,
}

impl SplitUrl {
    /// The host: no port, no IPv6 brackets.
    pub fn host(&self) -> &str {
        match self.authority.strip_prefix('[') {
            Some(rest) => rest.split(']').next().unwrap_or(rest),
            None => self.authority.split(':').next().unwrap_or(&self.authority),
        }
    }

    /// Whether the host is loopback, decided by parsing: `localhost` or an IP literal in
    /// `127.0.0.0/8` or `::1` (IPv4-mapped too). A name such as `127.evil.example` is not.
    pub fn is_loopback(&self) -> bool {
        let host = self.host();
        host.eq_ignore_ascii_case("localhost")
            || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.to_canonical().is_loopback())
    }
}

/// Splits `http(s)://authority[/path][?query][#fragment]`.
///
/// Error messages never repeat the URL (a query string could carry something sensitive).
pub fn split_url(url: &str) -> Result<SplitUrl, String> {
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("URL contains whitespace or control characters".into());
    }
    let (scheme, rest) = if let Some(rest) = strip_prefix_ignore_case(url, "https://") {
        (UrlScheme::Https, rest)
    } else if let Some(rest) = strip_prefix_ignore_case(url, "http://") {
        (UrlScheme::Http, rest)
    } else {
        return Err("URL must start with http:// or https://".into());
    };

    // The fragment is never sent.
    let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    validate_authority(authority)?;

    let path_with_query = if tail.is_empty() {
        "/".to_owned()
    } else if tail.starts_with('?') {
        format!("/{tail}")
    } else {
        tail.to_owned()
    };

    Ok(SplitUrl { scheme, authority: authority.to_owned(), path_with_query })
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &s[prefix.len()..])
}

fn validate_authority(authority: &str) -> Result<(), String> {
    if authority.is_empty() {
        return Err("URL has no host".into());
    }
    if authority.contains('@') {
        return Err("URL must not carry user info (user:password@)".into());
    }
    let (host, port) = if let Some(after_bracket) = authority.strip_prefix('[') {
        // IPv6 literal: `[addr]` or `[addr]:port`.
        let close = after_bracket.find(']').ok_or("URL has an unterminated IPv6 host")?;
        let addr = &after_bracket[..close];
        if addr.is_empty() || !addr.chars().all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.') {
            return Err("URL has an invalid IPv6 host".into());
        }
        let after = &after_bracket[close + 1..];
        match after.strip_prefix(':') {
            Some(port) => (&authority[..close + 2], Some(port)),
            None if after.is_empty() => (authority, None),
            None => return Err("URL has an invalid host".into()),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("URL has no host".into());
    }
    if !host.starts_with('[') && !host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '%'))
    {
        return Err("URL has an invalid host".into());
    }
    if let Some(port) = port {
        let valid = !port.is_empty()
            && port.len() <= 5
            && port.chars().all(|c| c.is_ascii_digit())
            && port.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p));
        if !valid {
            return Err("URL has an invalid port".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(url: &str) -> (UrlScheme, String, String) {
        let s = split_url(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        (s.scheme, s.authority, s.path_with_query)
    }

    #[test]
    fn splits_common_urls() {
        assert_eq!(
            ok("https://api.leapsome.com/scim/v1/Users?startIndex=1&count=100"),
            (UrlScheme::Https, "api.leapsome.com".into(), "/scim/v1/Users?startIndex=1&count=100".into())
        );
        assert_eq!(
            ok("http://127.0.0.1:8080/api/people"),
            (UrlScheme::Http, "127.0.0.1:8080".into(), "/api/people".into())
        );
        assert_eq!(ok("HTTPS://Example.com"), (UrlScheme::Https, "Example.com".into(), "/".into()));
        assert_eq!(ok("https://example.com/"), (UrlScheme::Https, "example.com".into(), "/".into()));
        assert_eq!(ok("https://example.com?a=1"), (UrlScheme::Https, "example.com".into(), "/?a=1".into()));
        assert_eq!(ok("https://example.com/a/b#frag"), (UrlScheme::Https, "example.com".into(), "/a/b".into()));
        assert_eq!(ok("https://example.com#frag"), (UrlScheme::Https, "example.com".into(), "/".into()));
        assert_eq!(
            ok("https://example.com/a%20b?q=%2F"),
            (UrlScheme::Https, "example.com".into(), "/a%20b?q=%2F".into())
        );
        assert_eq!(ok("http://[::1]:3000/x"), (UrlScheme::Http, "[::1]:3000".into(), "/x".into()));
        assert_eq!(ok("http://[::1]"), (UrlScheme::Http, "[::1]".into(), "/".into()));
        assert_eq!(ok("http://localhost:65535"), (UrlScheme::Http, "localhost:65535".into(), "/".into()));
    }

    #[test]
    fn rejects_bad_urls() {
        for url in [
            "",
            "ftp://example.com/",
            "example.com/path",
            "https://",
            "https:///path",
            "https://user:pass@example.com/",
            "https://example.com:/",
            "https://example.com:0/",
            "https://example.com:65536/",
            "https://example.com:80a/",
            "https://exa mple.com/",
            "https://example.com/a b",
            "https://example.com/\n",
            "http://[::1/",
            "http://[]/",
            "http://[::1]x/",
            "https://:443/",
        ] {
            assert!(split_url(url).is_err(), "accepted {url:?}");
        }
    }

    #[test]
    fn loopback_is_decided_by_parsing_the_host() {
        let loopback = |url: &str| split_url(url).unwrap().is_loopback();
        for yes in [
            "http://127.0.0.1:8081/api",
            "http://127.8.9.10/",
            "http://localhost:1/",
            "http://LOCALHOST/",
            "http://[::1]:8081/x",
            "http://[::1]/x",
            "http://[::ffff:127.0.0.1]:80/",
        ] {
            assert!(loopback(yes), "{yes} is loopback");
        }
        for no in [
            "http://127.evil.example/api",
            "http://127.0.0.1.evil.example/",
            "http://localhost.evil.example/",
            "http://localhostx/",
            "http://[::2]/",
            "http://10.0.0.1/",
            "https://api.leapsome.com/",
            "http://127.1/",
        ] {
            assert!(!loopback(no), "{no} is not loopback");
        }
        assert_eq!(split_url("http://[::1]:8081/x").unwrap().host(), "::1");
        assert_eq!(split_url("http://a.example:8081/x").unwrap().host(), "a.example");
    }

    #[test]
    fn errors_do_not_echo_the_url() {
        let err = split_url("ftp://secret-host/?token=abc").unwrap_err();
        assert!(!err.contains("secret") && !err.contains("abc"), "{err}");
    }
}
