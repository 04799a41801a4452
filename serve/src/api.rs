//! The `/api/v1/cert-manager` endpoints: profiles, certificates, CRLs.

use axum::Extension;
use axum::Json;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use certloop::defaults;
use certloop::model::{
    CertificateRecord, CertificateState, IssueRequest, IssuedCertificate, RevocationReason,
    TokenAction,
};
use certloop::policy::CertificateProfile;
use certloop::store::CertificateQuery;
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, Body, OptionalBody, Params, Segment};

/// Default and largest page of a certificate list.
const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;

pub(crate) fn routes() -> axum::Router<AppState> {
    const BASE: &str = "/api/v1/cert-manager";
    axum::Router::new()
        .route(&format!("{BASE}/certificate-profiles"), post(save_profile).get(list_profiles))
        .route(&format!("{BASE}/certificate-profiles/{{id}}"), get(show_profile))
        .route(&format!("{BASE}/certificates"), post(issue).get(list_certificates))
        .route(&format!("{BASE}/certificates/{{id}}"), get(show_certificate))
        .route(&format!("{BASE}/certificates/{{id}}/certificate"), get(certificate_body))
        .route(&format!("{BASE}/certificates/{{id}}/renew"), post(renew))
        .route(&format!("{BASE}/certificates/{{id}}/revoke"), post(revoke))
        .route(&format!("{BASE}/cas/{{id}}/crl"), get(crl))
}

// ---- profiles ---------------------------------------------------------------------------------

/// `POST certificate-profiles`: Infisical's body (`caId`, `certificateTemplateId`, `slug`,
/// `enrollmentType`, `apiConfig`; `projectId` is accepted and ignored) or certloop's `issuer`.
async fn save_profile(
    Extension(caller): Extension<Caller>,
    Body(profile): Body<CertificateProfile>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(TokenAction::ManageProfiles, &profile)?;
    // Replacing a profile (by slug, or by id under another slug) needs the right on the
    // profile as it is now, too.
    for key in [&profile.slug, &profile.id] {
        if key.is_empty() {
            continue;
        }
        match caller.certloop.get_profile(key).await {
            Ok(existing) => caller.require(TokenAction::ManageProfiles, &existing)?,
            Err(certloop::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let saved = caller.certloop.save_profile(profile).await?;
    Ok((StatusCode::CREATED, Json(json!({ "certificateProfile": saved }))))
}

async fn list_profiles(Extension(caller): Extension<Caller>) -> Result<Json<Value>, ApiError> {
    caller.require_action(TokenAction::Read)?;
    let profiles: Vec<_> = caller
        .certloop
        .list_profiles()
        .await?
        .into_iter()
        .filter(|p| caller.token.allows(TokenAction::Read, &p.id, &p.slug))
        .collect();
    Ok(Json(json!({ "certificateProfiles": profiles })))
}

async fn show_profile(
    Extension(caller): Extension<Caller>,
    Segment(id): Segment,
) -> Result<Json<Value>, ApiError> {
    let profile = caller.certloop.get_profile(&id).await?;
    caller.require(TokenAction::Read, &profile)?;
    Ok(Json(json!({ "certificateProfile": profile })))
}

// ---- certificates -----------------------------------------------------------------------------

/// `POST certificates`: Infisical's issue body, with or without a CSR.
async fn issue(
    Extension(caller): Extension<Caller>,
    Body(mut request): Body<IssueRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let asked = request.profile_id.as_deref().unwrap_or(defaults::PROFILE);
    let profile = caller.certloop.get_profile(asked).await?;
    caller.require(TokenAction::Issue, &profile)?;
    // Issue under exactly the profile that was authorized.
    request.profile_id = Some(profile.id);
    let issued = caller.certloop.issue(request).await?;
    Ok((StatusCode::CREATED, Json(issued_body(issued)?)))
}

async fn renew(
    Extension(caller): Extension<Caller>,
    Segment(id): Segment,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let record = caller.certificate(TokenAction::Renew, &id).await?;
    let issued = caller.certloop.renew(&record.certificate_id).await?;
    Ok((StatusCode::CREATED, Json(issued_body(issued)?)))
}

/// `{"revocationReason": "keyCompromise"}`; the reason is `unspecified` when the body is empty.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RevokeBody {
    #[serde(default)]
    revocation_reason: Option<RevocationReason>,
}

async fn revoke(
    Extension(caller): Extension<Caller>,
    Segment(id): Segment,
    OptionalBody(body): OptionalBody<RevokeBody>,
) -> Result<Json<Value>, ApiError> {
    let record = caller.certificate(TokenAction::Revoke, &id).await?;
    let reason = body.and_then(|b| b.revocation_reason).unwrap_or(RevocationReason::Unspecified);
    let record = caller.certloop.revoke(&record.certificate_id, reason).await?;
    Ok(Json(json!({ "certificate": record })))
}

async fn show_certificate(
    Extension(caller): Extension<Caller>,
    Segment(id): Segment,
) -> Result<Json<Value>, ApiError> {
    let record = caller.certificate(TokenAction::Read, &id).await?;
    Ok(Json(json!({ "certificate": record })))
}

/// The certificate and its chain, as Infisical's `GET .../certificate` answers.
async fn certificate_body(
    Extension(caller): Extension<Caller>,
    Segment(id): Segment,
) -> Result<Json<Value>, ApiError> {
    let record = caller.certificate(TokenAction::Read, &id).await?;
    Ok(Json(json!({
        "certificate": record.certificate,
        "certificateChain": record.certificate_chain,
        "serialNumber": record.serial_number,
    })))
}

/// List filters: `commonName`, `san`, `state` (comma-separated), `profileId`,
/// `expiringBefore` (RFC 3339), `limit` (default 100, at most 1000), `offset`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ListParams {
    common_name: Option<String>,
    san: Option<String>,
    state: Option<String>,
    profile_id: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    expiring_before: Option<OffsetDateTime>,
    limit: Option<u32>,
    offset: Option<u32>,
}

async fn list_certificates(
    Extension(caller): Extension<Caller>,
    Params(params): Params<ListParams>,
) -> Result<Json<Value>, ApiError> {
    caller.require_action(TokenAction::Read)?;
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::invalid("limit", format!("must be 1 to {MAX_LIMIT}")));
    }
    let offset = params.offset.unwrap_or(0);
    let mut query = CertificateQuery {
        common_name: params.common_name,
        san: params.san,
        states: parse_states(params.state.as_deref())?,
        expiring_before: params.expiring_before,
        ..CertificateQuery::default()
    };
    // The profiles the answer may come from: the one asked for (if the token may read it),
    // or every profile the token names.
    let profiles: Option<Vec<String>> = match (params.profile_id, caller.sees_everything()) {
        (Some(asked), _) => {
            let profile = caller.certloop.get_profile(&asked).await?;
            caller.require(TokenAction::Read, &profile)?;
            Some(vec![profile.id])
        }
        (None, true) => None,
        (None, false) => {
            let mut ids = Vec::new();
            for named in &caller.token.profiles {
                match caller.certloop.get_profile(named).await {
                    Ok(profile) => ids.push(profile.id),
                    Err(certloop::Error::NotFound { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Some(ids)
        }
    };
    let (certificates, total) = match profiles {
        None => {
            query.limit = Some(limit);
            query.offset = Some(offset);
            let total = caller
                .certloop
                .count(&CertificateQuery { limit: None, offset: None, ..query.clone() })
                .await?;
            (caller.certloop.list(&query).await?, total)
        }
        Some(ids) => page_over_profiles(&caller, query, &ids, limit, offset).await?,
    };
    Ok(Json(json!({ "certificates": certificates, "totalCount": total })))
}

/// One page of the union of `query` over several profiles, in the store's order (creation, or
/// expiry when `expiringBefore` is set): each profile's first `offset + limit` results are
/// merged, so the page is exact.
async fn page_over_profiles(
    caller: &Caller,
    query: CertificateQuery,
    profile_ids: &[String],
    limit: u32,
    offset: u32,
) -> Result<(Vec<CertificateRecord>, u64), ApiError> {
    let by_expiry = query.expiring_before.is_some();
    let mut merged = Vec::new();
    let mut total = 0;
    for id in profile_ids {
        let one = CertificateQuery { profile_id: Some(id.clone()), ..query.clone() };
        total += caller.certloop.count(&one).await?;
        let first =
            CertificateQuery { limit: Some(offset.saturating_add(limit)), offset: None, ..one };
        merged.extend(caller.certloop.list(&first).await?);
    }
    merged.sort_by(|a, b| {
        let key = |r: &CertificateRecord| if by_expiry { r.not_after } else { r.created_at };
        key(a).cmp(&key(b)).then_with(|| a.certificate_id.cmp(&b.certificate_id))
    });
    let page = merged.into_iter().skip(offset as usize).take(limit as usize).collect();
    Ok((page, total))
}

fn parse_states(text: Option<&str>) -> Result<Vec<CertificateState>, ApiError> {
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        return Ok(Vec::new());
    };
    text.split(',')
        .map(|s| {
            s.trim()
                .parse::<CertificateState>()
                .map_err(|e| ApiError::invalid("state", e.to_string()))
        })
        .collect()
}

/// Infisical's issue answer: the certificate (key only when generated) and, beside it, the
/// request id.
fn issued_body(issued: IssuedCertificate) -> Result<Value, ApiError> {
    let request_id = issued.certificate_request_id.clone();
    let mut certificate = serde_json::to_value(&issued).map_err(certloop::Error::store)?;
    if let Some(object) = certificate.as_object_mut() {
        object.remove("certificateRequestId");
    }
    Ok(json!({ "certificate": certificate, "certificateRequestId": request_id }))
}

// ---- CRLs -------------------------------------------------------------------------------------

/// A freshly signed CRL of the CA: PEM, or DER when the caller accepts
/// `application/pkix-crl`. Signing is audited, so this needs a token that reads every profile.
async fn crl(
    Extension(caller): Extension<Caller>,
    Segment(ca): Segment,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    caller.require_everything(TokenAction::Read)?;
    let crl = caller.certloop.crl(Some(&ca)).await?;
    let der = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("application/pkix-crl"));
    Ok(if der {
        ([(header::CONTENT_TYPE, "application/pkix-crl")], crl.der).into_response()
    } else {
        ([(header::CONTENT_TYPE, "application/x-pem-file")], crl.pem).into_response()
    })
}
