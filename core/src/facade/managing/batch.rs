//! Work on many managed certificates at once: bulk configure (all or none), one action on one
//! certificate, and batches of an action with bounded concurrency and per-item results. They
//! run on the engine of [`super`] (the sweep's too), which commits each chunk atomically.

use std::collections::HashSet;

use super::*;

impl Certloop {
    /// Bulk configure: apply `patch` to every one of `ids` (id or name), all or none, one
    /// audit event per certificate. Schedules are recomputed from the new configuration; the
    /// certificates themselves are not touched until their next renewal or action.
    pub async fn bulk_configure(
        &self,
        ids: &[String],
        patch: &ConfigPatch,
    ) -> Result<Vec<ManagedCertificate>> {
        if patch.fields().is_empty() {
            return Err(Error::invalid("patch", "the patch sets no field"));
        }
        let now = self.now();
        let mut set = WriteSet::default();
        let mut seen = HashSet::new();
        for (i, id) in ids.iter().enumerate() {
            let mut managed = self.managed(id).await.map_err(|e| in_item(e, i))?;
            if !seen.insert(managed.id.clone()) {
                continue;
            }
            if matches!(managed.state, CertificateState::Deleted | CertificateState::Revoked) {
                return Err(in_item(
                    Error::InvalidState(format!(
                        "managed certificate {} is {} and cannot be configured",
                        managed.name, managed.state
                    )),
                    i,
                ));
            }
            let config = patch.apply(&managed.config);
            let compiled = self.check_config(&config, now).await.map_err(|e| in_item(e, i))?;
            managed.config = config;
            self.reschedule(&mut managed, &compiled, now).await?;
            managed.updated_at = now;
            let detail = format!("bulk configure set {}", patch.fields().join(", "));
            set.events.push(self.managed_event(&managed, AuditAction::ManagedConfigured, detail));
            set.managed.push(managed);
        }
        self.inner.store.write(&set).await?;
        Ok(set.managed)
    }

    /// Run `action` on one managed certificate (id or name); an error when it failed.
    pub async fn act(&self, id: &str, action: Action) -> Result<ActionResult> {
        let managed = self.managed(id).await?;
        let mut results =
            self.run_jobs(vec![managed], Job::Action(action), 1, None, &mut |_, _| {}).await?;
        match results.pop() {
            Some((managed, Ok(detail))) => Ok(ActionResult { managed, detail }),
            Some((_, Err(e))) => Err(e),
            None => Err(Error::store("the action produced no result")),
        }
    }

    /// Batch: run `action` on every one of `ids` (ids or names) with bounded concurrency,
    /// each with its own result. `progress(done, total)` is called once per finished item, so
    /// a caller sees `(1, n)` ... `(n, n)`; ids that are not found count as done once they are
    /// all looked up (one call for them, before any work).
    pub async fn batch(
        &self,
        ids: &[String],
        action: Action,
        options: BatchOptions,
        mut progress: impl FnMut(usize, usize) + Send,
    ) -> Result<BatchReport> {
        let total = ids.len();
        let name = action.name();
        let mut items: Vec<Option<BatchItem>> = vec![None; total];
        let mut found = Vec::new();
        let mut positions = HashMap::new();
        for (i, id) in ids.iter().enumerate() {
            match self.managed(id).await {
                Ok(managed) => {
                    positions.entry(managed.id.clone()).or_insert_with(Vec::new).push(i);
                    if positions[&managed.id].len() == 1 {
                        found.push(managed);
                    }
                }
                Err(e) => items[i] = Some(failed_item(id, None, &e)),
            }
        }
        let mut done = items.iter().filter(|i| i.is_some()).count();
        if done > 0 {
            progress(done, total);
        }
        let mut stop = false;
        for chunk in found.chunks(COMMIT_CHUNK) {
            if stop {
                break;
            }
            let results = self
                .run_jobs(
                    chunk.to_vec(),
                    Job::Action(action.clone()),
                    options.concurrency,
                    None,
                    &mut |_, _| {},
                )
                .await?;
            for (managed, outcome) in results {
                let item = match &outcome {
                    Ok(detail) => BatchItem {
                        id: managed.id.clone(),
                        ok: true,
                        state: Some(managed.state),
                        detail: detail.clone(),
                        error_code: None,
                    },
                    Err(e) => failed_item(&managed.id, Some(managed.state), e),
                };
                stop |= !item.ok && !options.continue_on_error;
                for &i in positions.get(&managed.id).into_iter().flatten() {
                    items[i] = Some(item.clone());
                    done += 1;
                }
                progress(done, total);
            }
        }
        let items: Vec<BatchItem> = items.into_iter().flatten().collect();
        let succeeded = items.iter().filter(|i| i.ok).count();
        Ok(BatchReport {
            action: name,
            total,
            succeeded,
            failed: items.len() - succeeded,
            skipped: total - items.len(),
            items,
        })
    }
}
