//! Where an image lives: `spec.image` → registry host + repository path.
//!
//! Follows Docker's normalisation: a first path component is a registry host
//! only if it contains `.` or `:` or is `localhost`; otherwise the image is
//! on Docker Hub, whose API lives at `registry-1.docker.io` and whose
//! official images sit under `library/`.

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

pub const DOCKER_HUB: &str = "docker.io";
const DOCKER_HUB_API: &str = "registry-1.docker.io";

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageRef {
    /// Registry host as the user names it (`ghcr.io`, `docker.io`, `localhost:5000`).
    pub registry: String,
    /// Repository path within the registry (`acme/api`, `library/nginx`).
    pub repository: String,
}

impl ImageRef {
    /// Parse a `spec.image` value (no scheme, tag or digest).
    pub fn parse(image: &str) -> Result<ImageRef, String> {
        check_image_name(image)?;
        let (first, rest) = match image.split_once('/') {
            Some((f, r)) => (f, Some(r)),
            None => (image, None),
        };
        let is_host = first.contains('.') || first.contains(':') || first == "localhost";
        let (registry, repository) = match (is_host, rest) {
            (true, Some(r)) => (first.to_string(), r.to_string()),
            (true, None) => return Err(format!("{image:?} names a registry but no repository")),
            (false, _) => (DOCKER_HUB.to_string(), image.to_string()),
        };
        let registry = match registry.as_str() {
            "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.to_string(),
            _ => registry,
        };
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        if repository.split('/').any(str::is_empty) {
            return Err(format!("{image:?} has an empty path component"));
        }
        Ok(ImageRef {
            registry,
            repository,
        })
    }

    /// The host to send API requests to.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// `*.azurecr.io` (Azure Container Registry).
    pub fn is_acr(&self) -> bool {
        self.registry.ends_with(".azurecr.io")
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)
    }
}

/// Is `image` a repository reference without scheme, tag or digest?
pub fn check_image_name(image: &str) -> Result<(), String> {
    if image.contains("://") {
        return Err(format!("{image:?} must not include a scheme"));
    }
    if image.contains('@') {
        return Err(format!("{image:?} must not include a digest"));
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains(':') {
        return Err(format!("{image:?} must not include a tag"));
    }
    let ok = !image.is_empty()
        && image.len() <= 255
        && image
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-/:".contains(&b));
    if !ok {
        return Err(format!(
            "{image:?} is not a valid image repository (lowercase letters, digits, '.', '_', '-', '/', and ':' for a port)"
        ));
    }
    Ok(())
}

static DIGEST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$").expect("static regex")
});

/// OCI distribution tag grammar: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
pub fn is_valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(c))
}

/// OCI digest grammar (`algorithm:encoded`).
pub fn is_valid_digest(d: &str) -> bool {
    d.len() <= 256 && DIGEST.is_match(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> (String, String, String) {
        let r = ImageRef::parse(s).unwrap();
        (
            r.registry.clone(),
            r.repository.clone(),
            r.api_host().to_string(),
        )
    }

    #[test]
    fn normalisation() {
        assert_eq!(
            p("nginx"),
            (
                "docker.io".into(),
                "library/nginx".into(),
                "registry-1.docker.io".into()
            )
        );
        assert_eq!(
            p("acme/api"),
            (
                "docker.io".into(),
                "acme/api".into(),
                "registry-1.docker.io".into()
            )
        );
        assert_eq!(p("index.docker.io/acme/api").1, "acme/api");
        assert_eq!(
            p("ghcr.io/acme/api"),
            ("ghcr.io".into(), "acme/api".into(), "ghcr.io".into())
        );
        assert_eq!(p("localhost:5000/a/b/c").0, "localhost:5000");
        assert_eq!(p("localhost/a").0, "localhost");
        assert!(ImageRef::parse("acme.azurecr.io/api").unwrap().is_acr());
        assert!(ImageRef::parse("ghcr.io").is_err());
        assert!(ImageRef::parse("ghcr.io/a:1").is_err());
        assert!(ImageRef::parse("ghcr.io//a").is_err());
    }
}
