/*
 * The managed-certificate calls of the C ABI: managed certificates, bulk configure, batches
 * with a progress callback, the sweep, the ACME order calls without a CA, the error detail,
 * and their error cases.
 *
 *   usage: managed DIR   (DIR is shared by the three lifecycle tests; scripts/stages/30-ffi.sh
 *                  runs deploy, managed, then discovery in it)
 */
#include "check.h"

/* ---- managed certificates and batches -------------------------------------------------- */

#define MAX_CALLS 64

/* What the progress callback saw. */
struct progress_log {
  size_t calls;
  size_t done[MAX_CALLS];
  size_t total[MAX_CALLS];
};

static void record_progress(size_t done, size_t total, void *user_data) {
  struct progress_log *log = user_data;
  if (log->calls < MAX_CALLS) {
    log->done[log->calls] = done;
    log->total[log->calls] = total;
  }
  log->calls++;
}

/* A callback that calls back into certloop: refused, recorded in user_data. */
struct reentry {
  certloop_t *c;
  certloop_result result;
  int free_refused;
  size_t calls;
};

static void call_back_in(size_t done, size_t total, void *user_data) {
  (void)done;
  (void)total;
  struct reentry *r = user_data;
  uint64_t n = 0;
  r->result = certloop_count(r->c, NULL, &n);
  /* Freeing the handle the batch runs on is refused too (the handle stays valid). */
  certloop_free(r->c);
  r->free_refused = strstr(last_error(), "inside a certloop callback") != NULL;
  r->calls++;
}

/* Managed certificates m0..m2, each with its own nginx-type file target (no commands). */
static void managed(certloop_t *c, const char *dir) {
  char ids[3][64];
  char requests[4096] = "[";
  for (int i = 0; i < 3; i++) {
    char name[32], target[2048], cn[64];
    snprintf(name, sizeof name, "m%d.crt", i);
    char crt[1024];
    snprintf(crt, sizeof crt, "%s", path_in(dir, name));
    snprintf(name, sizeof name, "m%d.key", i);
    snprintf(target, sizeof target,
             "{\"name\": \"files-%d\", \"type\": \"nginx\", \"certPath\": \"%s\", \"keyPath\": \"%s\"}",
             i, crt, path_in(dir, name));
    char *saved = NULL;
    MUST(certloop_target_save(c, target, &saved));
    certloop_string_free(saved);
    snprintf(cn, sizeof cn, "m%d.example.internal", i);
    char *issued = issue(c, cn, 1);
    char *id = json_field(issued, "certificateId");
    snprintf(ids[i], sizeof ids[i], "%s", id);
    size_t len = strlen(requests);
    snprintf(requests + len, sizeof requests - len,
             "%s{\"name\": \"m%d\", \"certificateId\": \"%s\", \"config\": {\"profile\": "
             "\"tls-server\", \"targets\": [\"files-%d\"]}}",
             i == 0 ? "" : ", ", i, id, i);
    free(id);
    certloop_string_free(issued);
  }
  strcat(requests, "]");

  char *json = NULL;
  MUST(certloop_managed_create_many(c, requests, &json));
  CHECK(count_of(json, "\"state\":\"managed\"") == 3);
  CHECK(count_of(json, "\"nextCheckAt\":\"") == 3); /* renewal is scheduled */
  certloop_string_free(json);
  MUST(certloop_managed_show(c, "m1", &json));
  char *m1_id = json_field(json, "id");
  CHECK(strstr(json, ids[1]) != NULL);
  certloop_string_free(json);
  MUST(certloop_managed_show(c, m1_id, &json));
  CHECK(strstr(json, "\"name\":\"m1\"") != NULL);
  certloop_string_free(json);
  MUST(certloop_managed_list(c, NULL, &json));
  CHECK(count_of(json, "\"profile\":\"tls-server\"") == 3);
  certloop_string_free(json);
  char query[256];
  snprintf(query, sizeof query, "{\"certificateId\": \"%s\"}", ids[0]);
  MUST(certloop_managed_list(c, query, &json));
  CHECK(count_of(json, "\"name\":\"m") == 1 && strstr(json, "\"name\":\"m0\"") != NULL);
  certloop_string_free(json);

  char *out = SENTINEL;
  char request[512];
  snprintf(request, sizeof request,
           "{\"certificateId\": \"%s\", \"config\": {\"profile\": \"tls-server\"}}", ids[0]);
  MUST_FAIL(certloop_managed_create(c, request, &out), CERTLOOP_RESULT_ALREADY_EXISTS, ids[0]);
  MUST_FAIL(certloop_managed_create(c, "{\"config\": {\"profile\": \"tls-server\", \"bogus\": 1}}",
                                    &out),
            CERTLOOP_RESULT_INVALID_JSON, "unknown field `bogus`");
  MUST_FAIL(certloop_managed_create(c, "{\"config\": {\"profile\": \"tls-server\"}}", &out),
            CERTLOOP_RESULT_INVALID_INPUT, "config.csr");
  MUST_FAIL(certloop_managed_show(c, "nope", &out), CERTLOOP_RESULT_NOT_FOUND, "nope");

  /* Bulk configure: two of three, all or none. */
  char ids_json[256];
  snprintf(ids_json, sizeof ids_json, "[\"m0\", \"%s\"]", m1_id);
  MUST(certloop_managed_configure(c, ids_json, "{\"rollback\": false, \"validity\": \"30d\"}",
                                  &json));
  CHECK(count_of(json, "\"rollback\":false") == 2);
  CHECK(count_of(json, "\"validity\":\"30d\"") == 2);
  certloop_string_free(json);
  MUST_FAIL(certloop_managed_configure(c, "[\"m2\", \"nope\"]", "{\"rollback\": false}", &out),
            CERTLOOP_RESULT_NOT_FOUND, "nope");
  MUST(certloop_managed_show(c, "m2", &json));
  CHECK(strstr(json, "\"rollback\":true") != NULL); /* all or none */
  certloop_string_free(json);
  MUST_FAIL(certloop_managed_configure(c, "[\"m0\"]", "{}", &out), CERTLOOP_RESULT_INVALID_INPUT,
            "patch");

  /* Batch: rotate three and an unknown id, with the progress callback. */
  char *before[3];
  for (int i = 0; i < 3; i++) {
    char name[32];
    snprintf(name, sizeof name, "m%d.crt", i);
    before[i] = access(path_in(dir, name), F_OK) == 0 ? read_file(dir, name) : NULL;
  }
  struct progress_log log = {0};
  char batch_ids[512];
  snprintf(batch_ids, sizeof batch_ids, "[\"%s\", \"m1\", \"m2\", \"no-such-certificate\"]",
           "m0");
  MUST(certloop_managed_batch(c, batch_ids, "{\"action\": \"rotate\"}", "{\"concurrency\": 2}",
                              record_progress, &log, &json));
  CHECK(strstr(json, "\"action\":\"rotate\"") != NULL);
  CHECK(strstr(json, "\"total\":4,\"succeeded\":3,\"failed\":1,\"skipped\":0") != NULL);
  CHECK(strstr(json, "\"id\":\"no-such-certificate\",\"ok\":false") != NULL);
  CHECK(strstr(json, "\"errorCode\":") != NULL);
  certloop_string_free(json);
  CHECK(log.calls >= 2 && log.calls <= MAX_CALLS);
  for (size_t i = 0; i < log.calls && i < MAX_CALLS; i++) {
    CHECK(log.total[i] == 4);
    CHECK(log.done[i] <= 4);
    if (i > 0) CHECK(log.done[i] >= log.done[i - 1]);
  }
  CHECK(log.done[log.calls - 1] == 4);
  CHECK(log.done[0] >= 1); /* the unknown id is done once the ids are looked up */
  for (int i = 0; i < 3; i++) {
    char name[32];
    snprintf(name, sizeof name, "m%d", i);
    MUST(certloop_managed_show(c, name, &json));
    CHECK(strstr(json, ids[i]) == NULL); /* a new certificate is in service */
    CHECK(strstr(json, "\"state\":\"deployed\"") != NULL);
    certloop_string_free(json);
    snprintf(name, sizeof name, "m%d.crt", i);
    char *after = read_file(dir, name);
    CHECK(before[i] == NULL || strcmp(before[i], after) != 0);
    free(after);
    free(before[i]);
  }

  /* A callback calling back into certloop is refused, and the batch still completes. */
  struct reentry reentry = {c, CERTLOOP_RESULT_OK, 0, 0};
  MUST(certloop_managed_batch(c, "[\"m0\"]", "{\"action\": \"pinCheck\"}", NULL, call_back_in,
                              &reentry, &json));
  CHECK(strstr(json, "\"total\":1") != NULL);
  certloop_string_free(json);
  CHECK(reentry.calls >= 1);
  CHECK(reentry.result == CERTLOOP_RESULT_REENTRANT_CALL);
  CHECK(reentry.free_refused);
  /* No callback at all is fine. */
  MUST(certloop_managed_batch(c, "[\"m2\"]", "{\"action\": \"suspend\"}", NULL, NULL, NULL, &json));
  CHECK(strstr(json, "\"state\":\"suspended\"") != NULL);
  certloop_string_free(json);

  /* One action; delete is how a managed certificate is removed from management. */
  MUST(certloop_managed_act(c, "m1", "{\"action\": \"suspend\"}", &json));
  CHECK(strstr(json, "\"state\":\"suspended\"") != NULL);
  CHECK(has_field(json, "detail"));
  certloop_string_free(json);
  MUST(certloop_managed_list(c, "{\"states\": [\"suspended\"]}", &json));
  CHECK(count_of(json, "\"name\":\"m") == 2);
  certloop_string_free(json);
  MUST(certloop_managed_act(c, "m2", "{\"action\": \"delete\"}", &json));
  CHECK(strstr(json, "\"state\":\"deleted\"") != NULL);
  certloop_string_free(json);
  MUST(certloop_managed_list(c, NULL, &json));
  CHECK(count_of(json, "\"name\":\"m") == 2 && strstr(json, "\"name\":\"m2\"") == NULL);
  certloop_string_free(json);

  MUST_FAIL(certloop_managed_act(c, "m0", "{\"action\": \"explode\"}", &out),
            CERTLOOP_RESULT_INVALID_JSON, "action_json");
  MUST_FAIL(certloop_managed_act(c, "nope", "{\"action\": \"rotate\"}", &out),
            CERTLOOP_RESULT_NOT_FOUND, "nope");
  MUST_FAIL(certloop_managed_batch(c, "\"m0\"", "{\"action\": \"rotate\"}", NULL, NULL, NULL, &out),
            CERTLOOP_RESULT_INVALID_JSON, "ids_json");
  MUST_FAIL(certloop_managed_batch(c, "[\"m0\"]", "{\"action\": \"rotate\"}",
                                   "{\"concurrency\": \"two\"}", NULL, NULL, &out),
            CERTLOOP_RESULT_INVALID_JSON, "options_json");
  MUST_FAIL(certloop_managed_batch(c, NULL, "{}", NULL, NULL, NULL, &out),
            CERTLOOP_RESULT_NULL_PARAMETER, "ids_json");
  MUST_FAIL(certloop_managed_batch(c, "[]", "{\"action\": \"rotate\"}", NULL, NULL, NULL, NULL),
            CERTLOOP_RESULT_NULL_PARAMETER, "report_json");
  MUST_FAIL(certloop_managed_create(c, NULL, &out), CERTLOOP_RESULT_NULL_PARAMETER, "request_json");
  MUST_FAIL(certloop_managed_show(NULL, "m0", &out), CERTLOOP_RESULT_NULL_PARAMETER, "certloop");
  MUST_FAIL(certloop_managed_list(c, "[", &out), CERTLOOP_RESULT_INVALID_JSON, "query_json");
  MUST_FAIL(certloop_managed_configure(c, "[\"m0\"]", NULL, &out), CERTLOOP_RESULT_NULL_PARAMETER,
            "patch_json");
  CHECK(out == SENTINEL);
  free(m1_id);
}

/* ---- the sweep ------------------------------------------------------------------------- */

static void sweep(const char *dir) {
  certloop_t *c = NULL;
  MUST(certloop_in_memory(&c));
  MUST(certloop_init_default(c));
  char *due = SENTINEL;
  MUST(certloop_next_due_at(c, &due));
  CHECK(due == NULL); /* nothing managed, nothing due */

  char target[2048];
  snprintf(target, sizeof target,
           "{\"name\": \"fresh-files\", \"type\": \"nginx\", \"certPath\": \"%s\", \"keyPath\": \"%s\"}",
           path_in(dir, "fresh.crt"), path_in(dir, "fresh.key"));
  char *json = NULL;
  MUST(certloop_target_save(c, target, &json));
  certloop_string_free(json);
  /* `deployment: {}`: deploy at once; without a certificateId the first sweep orders it. */
  MUST(certloop_managed_create(
      c,
      "{\"name\": \"fresh\", \"config\": {\"profile\": \"tls-server\", \"targets\": [\"fresh-files\"],"
      " \"csr\": {\"mode\": \"fullOverride\", \"commonName\": \"fresh.example.internal\","
      " \"altNames\": [{\"type\": \"DNS\", \"value\": \"fresh.example.internal\"}]},"
      " \"deployment\": {}}}",
      &json));
  CHECK(strstr(json, "\"certificateId\"") == NULL);
  certloop_string_free(json);
  MUST(certloop_next_due_at(c, &due));
  CHECK(due != NULL && strlen(due) >= 20 && due[4] == '-' && due[10] == 'T');
  certloop_string_free(due);

  MUST(certloop_sweep(c, "{\"owner\": \"c-test\", \"concurrency\": 1}", &json));
  CHECK(strstr(json, "\"processed\":1,\"renewed\":1,\"deployed\":1,\"retried\":0,\"failed\":0") !=
        NULL);
  certloop_string_free(json);
  MUST(certloop_managed_show(c, "fresh", &json));
  CHECK(strstr(json, "\"state\":\"deployed\"") != NULL);
  char *certificate_id = json_field(json, "certificateId");
  certloop_string_free(json);
  CHECK(certificate_id != NULL);
  CHECK(mode_of(path_in(dir, "fresh.key")) == 0600);
  char *deployed = read_file(dir, "fresh.crt");
  MUST(certloop_show(c, certificate_id, &json));
  char *pem = json_field(json, "certificate");
  CHECK(pem != NULL && strncmp(deployed, pem, strlen(pem)) == 0);
  free(pem);
  certloop_string_free(json);
  free(deployed);
  free(certificate_id);

  MUST(certloop_sweep(c, NULL, &json));
  CHECK(strstr(json, "\"processed\":0") != NULL); /* nothing due any more */
  certloop_string_free(json);
  uint64_t n = 0;
  MUST(certloop_count(c, "{\"san\": \"fresh.example.internal\"}", &n));
  CHECK(n == 1);
  MUST(certloop_count(c, NULL, &n));
  CHECK(n == 1);

  char *out = SENTINEL;
  MUST_FAIL(certloop_sweep(c, "{\"lease\": 10}", &out), CERTLOOP_RESULT_INVALID_JSON,
            "unknown field `lease`");
  MUST_FAIL(certloop_sweep(c, NULL, NULL), CERTLOOP_RESULT_NULL_PARAMETER, "report_json");
  MUST_FAIL(certloop_next_due_at(NULL, &out), CERTLOOP_RESULT_NULL_PARAMETER, "certloop");
  MUST_FAIL(certloop_count(c, NULL, NULL), CERTLOOP_RESULT_NULL_PARAMETER, "count");
  MUST_FAIL(certloop_count(c, "{\"states\": 5}", &n), CERTLOOP_RESULT_INVALID_JSON, "query_json");
  CHECK(out == SENTINEL);
  certloop_free(c);
}

/* ---- ACME orders and accounts without a CA; the error detail --------------------------- */

static void acme_without_ca(certloop_t *c) {
  char *json = NULL;
  MUST(certloop_order_list(c, &json));
  CHECK(strcmp(json, "[]") == 0);
  certloop_string_free(json);
  MUST(certloop_acme_account_list(c, &json));
  CHECK(strcmp(json, "[]") == 0);
  certloop_string_free(json);

  char *out = SENTINEL;
  MUST_FAIL(certloop_order_show(c, "no-such-order", &out), CERTLOOP_RESULT_NOT_FOUND,
            "no-such-order");
  char *detail = last_detail();
  CHECK(strstr(detail, "\"what\":\"order\"") != NULL);
  CHECK(strstr(detail, "\"id\":\"no-such-order\"") != NULL);
  CHECK(strstr(detail, "\"retryable\":false") != NULL);
  certloop_string_free(detail);
  MUST_FAIL(certloop_order_resume(c, "no-such-order", &out), CERTLOOP_RESULT_NOT_FOUND,
            "no-such-order");
  MUST_FAIL(certloop_acme_register(c, "tls-server", &out), CERTLOOP_RESULT_INVALID_INPUT,
            "does not issue via ACME");
  detail = last_detail();
  CHECK(strstr(detail, "\"field\":\"profile\"") != NULL);
  certloop_string_free(detail);
  MUST_FAIL(certloop_acme_renewal_window(c, "no-such-certificate", &out), CERTLOOP_RESULT_NOT_FOUND,
            "no-such-certificate");
  MUST_FAIL(certloop_order_list(c, NULL), CERTLOOP_RESULT_NULL_PARAMETER, "orders_json");
  MUST_FAIL(certloop_order_show(c, NULL, &out), CERTLOOP_RESULT_NULL_PARAMETER, "order_id");
  MUST_FAIL(certloop_order_resume(NULL, "x", &out), CERTLOOP_RESULT_NULL_PARAMETER, "certloop");
  MUST_FAIL(certloop_acme_account_list(c, NULL), CERTLOOP_RESULT_NULL_PARAMETER, "accounts_json");
  MUST_FAIL(certloop_acme_register(c, NULL, &out), CERTLOOP_RESULT_NULL_PARAMETER, "profile");
  CHECK(out == SENTINEL);

  /* The detail of a NULL-pointer failure names the parameter; the accessor itself checks. */
  detail = last_detail();
  CHECK(strstr(detail, "\"code\":\"NULL_PARAMETER\"") != NULL);
  CHECK(strstr(detail, "\"field\":\"profile\"") != NULL);
  certloop_string_free(detail);
  CHECK(certloop_error_detail(NULL) == CERTLOOP_RESULT_NULL_PARAMETER);
  CHECK(strstr(last_error(), "profile must not be NULL") != NULL); /* not replaced */
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const char *dir = argv[1];
  certloop_t *c = NULL;
  MUST(certloop_in_memory(&c));
  MUST(certloop_init_default(c));
  managed(c, dir);
  acme_without_ca(c);
  certloop_free(c);
  sweep(dir);
  return check_summary("managed");
}
