//! ACME accounts, orders kept for manual domain validation (list, get, resume) and renewal
//! windows on `Certloop`. Conversion only; accounts come back without their keys.

use napi::bindgen_prelude::Unknown;
use napi_derive::napi;

use crate::Certloop;
use crate::task::{self, Pending};

#[napi]
impl Certloop {
    /// Register (or reuse) the ACME account of ACME profile `profile` (id or slug).
    #[napi(ts_args_type = "profile: string", ts_return_type = "Promise<AcmeAccount>")]
    pub fn acme_register(&self, profile: Unknown<'_>) -> Pending {
        let profile = task::string(profile, "profile");
        self.run_with(profile, |cl, profile| async move { cl.acme_register(&profile).await })
    }

    /// Every stored ACME account (never its key).
    #[napi(ts_return_type = "Promise<AcmeAccount[]>")]
    pub fn acme_accounts(&self) -> Pending {
        self.run(|cl| async move { cl.acme_accounts().await })
    }

    /// The renewal window (RFC 9773) the ACME CA suggested for certificate `id`, or `null`.
    #[napi(ts_args_type = "id: string", ts_return_type = "Promise<RenewalWindow | null>")]
    pub fn acme_renewal_window(&self, id: Unknown<'_>) -> Pending {
        let id = task::string(id, "id");
        self.run_with(id, |cl, id| async move { cl.acme_renewal_window(&id).await })
    }

    /// Every ACME order kept for manual domain validation, oldest first.
    #[napi(ts_return_type = "Promise<PendingOrder[]>")]
    pub fn list_orders(&self) -> Pending {
        self.run(|cl| async move { cl.list_orders().await })
    }

    /// One kept order, with the `instructions` a person must follow.
    #[napi(ts_args_type = "id: string", ts_return_type = "Promise<PendingOrder>")]
    pub fn get_order(&self, id: Unknown<'_>) -> Pending {
        let id = task::string(id, "id");
        self.run_with(id, |cl, id| async move { cl.get_order(&id).await })
    }

    /// Complete an order pending manual validation once the file or record is published.
    #[napi(ts_args_type = "id: string", ts_return_type = "Promise<IssuedCertificate>")]
    pub fn resume_order(&self, id: Unknown<'_>) -> Pending {
        let id = task::string(id, "id");
        self.run_with(id, |cl, id| async move { cl.resume_order(&id).await })
    }
}
