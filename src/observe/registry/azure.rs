//! Azure Container Registry with Microsoft Entra ID (`provider: azure`).
//!
//! 1. Get an Entra access token for `https://containerregistry.azure.net`:
//!    client secret (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`,
//!    `AZURE_CLIENT_SECRET`), a federated token file
//!    (`AZURE_FEDERATED_TOKEN_FILE`: workload identity, GitHub/ADO OIDC), or
//!    managed identity (`IDENTITY_ENDPOINT` + `IDENTITY_HEADER`). The Entra
//!    host is `AZURE_AUTHORITY_HOST` (default `https://login.microsoftonline.com/`).
//! 2. Exchange it at `https://<registry>/oauth2/exchange` for an ACR refresh token.
//! 3. Trade the refresh token at the challenge's realm (`/oauth2/token`) for
//!    an access token with the challenge's scope.
//!
//! hoist never reaches the instance-metadata address unless told to: without
//! any of these variables, the error says what to set.

use std::collections::BTreeMap;

use crate::core::secret::Secret;

const ACR_SCOPE: &str = "https://containerregistry.azure.net/.default";
const ACR_RESOURCE: &str = "https://containerregistry.azure.net";

/// Which Entra flow the environment asks for.
#[derive(Debug, Clone)]
pub enum EntraSource {
    ClientSecret {
        tenant: String,
        client: String,
        secret: Secret,
        authority: String,
    },
    Federated {
        tenant: String,
        client: String,
        token_file: String,
        authority: String,
    },
    ManagedIdentity {
        endpoint: String,
        header: Secret,
        client: Option<String>,
    },
}

impl EntraSource {
    /// Pick a flow from environment variables.
    pub fn from_env(env: &BTreeMap<String, String>) -> Result<EntraSource, String> {
        let get = |k: &str| env.get(k).filter(|v| !v.is_empty()).cloned();
        let authority = get("AZURE_AUTHORITY_HOST")
            .unwrap_or_else(|| "https://login.microsoftonline.com/".into());
        let authority = if authority.ends_with('/') {
            authority
        } else {
            format!("{authority}/")
        };
        if let (Some(tenant), Some(client)) = (get("AZURE_TENANT_ID"), get("AZURE_CLIENT_ID")) {
            if let Some(secret) = get("AZURE_CLIENT_SECRET") {
                return Ok(EntraSource::ClientSecret {
                    tenant,
                    client,
                    secret: Secret::new(secret),
                    authority,
                });
            }
            if let Some(token_file) = get("AZURE_FEDERATED_TOKEN_FILE") {
                return Ok(EntraSource::Federated {
                    tenant,
                    client,
                    token_file,
                    authority,
                });
            }
        }
        if let (Some(endpoint), Some(header)) = (get("IDENTITY_ENDPOINT"), get("IDENTITY_HEADER")) {
            return Ok(EntraSource::ManagedIdentity {
                endpoint,
                header: Secret::new(header),
                client: get("AZURE_CLIENT_ID"),
            });
        }
        Err("provider azure needs Microsoft Entra credentials: set AZURE_TENANT_ID and AZURE_CLIENT_ID with \
             AZURE_CLIENT_SECRET or AZURE_FEDERATED_TOKEN_FILE, or IDENTITY_ENDPOINT and IDENTITY_HEADER for managed identity"
            .into())
    }

    pub fn tenant(&self) -> Option<&str> {
        match self {
            EntraSource::ClientSecret { tenant, .. } | EntraSource::Federated { tenant, .. } => {
                Some(tenant)
            }
            EntraSource::ManagedIdentity { .. } => None,
        }
    }
}

#[derive(serde::Deserialize)]
struct TokenReply {
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
}

async fn post_form(
    http: &reqwest::Client,
    url: &str,
    form: &[(&str, &str)],
    what: &str,
) -> Result<TokenReply, String> {
    crate::core::requests::record(crate::core::requests::Service::Registry, "POST", url);
    let resp = http
        .post(url)
        .form(form)
        .send()
        .await
        .map_err(|e| format!("{what}: request failed ({})", e.without_url()))?;
    let status = resp.status().as_u16();
    let bytes = resp
        .bytes()
        .await
        .map_err(|_| format!("{what}: reply cut short"))?;
    if status != 200 {
        return Err(format!("{what} answered {status}"));
    }
    serde_json::from_slice(&bytes).map_err(|_| format!("{what}: malformed reply"))
}

/// A token field that must be present and non-empty.
fn required(token: Option<String>, missing: &str) -> Result<Secret, String> {
    token
        .filter(|t| !t.is_empty())
        .map(Secret::new)
        .ok_or_else(|| missing.to_string())
}

/// Step 1: an Entra access token for ACR.
pub async fn entra_token(http: &reqwest::Client, src: &EntraSource) -> Result<Secret, String> {
    let reply = match src {
        EntraSource::ClientSecret {
            tenant,
            client,
            secret,
            authority,
        } => {
            let url = format!("{authority}{tenant}/oauth2/v2.0/token");
            post_form(
                http,
                &url,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", client),
                    ("client_secret", secret.expose()),
                    ("scope", ACR_SCOPE),
                ],
                "Microsoft Entra token endpoint",
            )
            .await?
        }
        EntraSource::Federated {
            tenant,
            client,
            token_file,
            authority,
        } => {
            let assertion = std::fs::read_to_string(token_file)
                .map_err(|e| format!("cannot read AZURE_FEDERATED_TOKEN_FILE {token_file}: {e}"))?;
            let url = format!("{authority}{tenant}/oauth2/v2.0/token");
            post_form(
                http,
                &url,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", client),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", assertion.trim()),
                    ("scope", ACR_SCOPE),
                ],
                "Microsoft Entra token endpoint (federated)",
            )
            .await?
        }
        EntraSource::ManagedIdentity {
            endpoint,
            header,
            client,
        } => {
            let mut req = http
                .get(endpoint)
                .query(&[("api-version", "2019-08-01"), ("resource", ACR_RESOURCE)])
                .header("X-IDENTITY-HEADER", header.expose());
            if let Some(c) = client {
                req = req.query(&[("client_id", c.as_str())]);
            }
            crate::core::requests::record(
                crate::core::requests::Service::Registry,
                "GET",
                endpoint,
            );
            let resp = req
                .send()
                .await
                .map_err(|e| format!("managed identity endpoint: {}", e.without_url()))?;
            let status = resp.status().as_u16();
            let bytes = resp
                .bytes()
                .await
                .map_err(|_| "managed identity endpoint: reply cut short".to_string())?;
            if status != 200 {
                return Err(format!("managed identity endpoint answered {status}"));
            }
            serde_json::from_slice(&bytes)
                .map_err(|_| "managed identity endpoint: malformed reply".to_string())?
        }
    };
    required(reply.access_token, "Microsoft Entra sent no access token")
}

/// Step 2: exchange the Entra token for an ACR refresh token.
pub async fn exchange(
    http: &reqwest::Client,
    realm: &str,
    service: &str,
    tenant: Option<&str>,
    aad: &Secret,
) -> Result<Secret, String> {
    let url =
        reqwest::Url::parse(realm).map_err(|_| format!("token realm {realm:?} is not a URL"))?;
    let exchange = url
        .join("/oauth2/exchange")
        .map_err(|_| "cannot build the exchange URL".to_string())?;
    let mut form = vec![
        ("grant_type", "access_token"),
        ("service", service),
        ("access_token", aad.expose()),
    ];
    if let Some(t) = tenant {
        form.push(("tenant", t));
    }
    let reply = post_form(http, exchange.as_str(), &form, "ACR /oauth2/exchange").await?;
    required(
        reply.refresh_token,
        "ACR /oauth2/exchange sent no refresh token",
    )
}

/// Step 3: an access token for `scope` from the realm.
pub async fn access_token(
    http: &reqwest::Client,
    realm: &str,
    service: &str,
    scope: &str,
    refresh: &Secret,
) -> Result<Secret, String> {
    let reply = post_form(
        http,
        realm,
        &[
            ("grant_type", "refresh_token"),
            ("service", service),
            ("scope", scope),
            ("refresh_token", refresh.expose()),
        ],
        "ACR /oauth2/token",
    )
    .await?;
    required(reply.access_token, "ACR /oauth2/token sent no access token")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_selection() {
        let env = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        assert!(matches!(
            EntraSource::from_env(&env(&[
                ("AZURE_TENANT_ID", "t"),
                ("AZURE_CLIENT_ID", "c"),
                ("AZURE_CLIENT_SECRET", "s")
            ])),
            Ok(EntraSource::ClientSecret { .. })
        ));
        assert!(matches!(
            EntraSource::from_env(&env(&[
                ("AZURE_TENANT_ID", "t"),
                ("AZURE_CLIENT_ID", "c"),
                ("AZURE_FEDERATED_TOKEN_FILE", "/f")
            ])),
            Ok(EntraSource::Federated { .. })
        ));
        assert!(matches!(
            EntraSource::from_env(&env(&[
                ("IDENTITY_ENDPOINT", "http://127.0.0.1:1/msi"),
                ("IDENTITY_HEADER", "h")
            ])),
            Ok(EntraSource::ManagedIdentity { .. })
        ));
        let e = EntraSource::from_env(&env(&[])).unwrap_err();
        assert!(e.contains("AZURE_CLIENT_SECRET"));
    }
}
