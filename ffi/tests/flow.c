/*
 * The whole certloop flow through the C ABI, on a state directory:
 * default set-up, CAs, templates, profiles, issue with and without a CSR, inspection, the
 * inventory, renewal, revocation, suspension, CRLs, the audit log, one handle shared by
 * several threads, and reopening the directory.
 *
 *   usage: flow DIR      (DIR/request.csr must hold a P-256 CSR for CN=api.corp.example)
 *
 * Writes PEM files into DIR that scripts/stages/30-ffi.sh checks with `openssl verify`.
 */
#include "check.h"

#include <pthread.h>

#define THREADS 4
#define ISSUES_PER_THREAD 3

/* A JSON string literal for `text` (quotes included), malloc'd. */
static char *json_quote(const char *text) {
  char *out = malloc(strlen(text) * 6 + 3), *o = out;
  *o++ = '"';
  for (const char *p = text; *p; p++) {
    if (*p == '\n') { *o++ = '\\'; *o++ = 'n'; }
    else if (*p == '"' || *p == '\\') { *o++ = '\\'; *o++ = *p; }
    else *o++ = *p;
  }
  *o++ = '"';
  *o = '\0';
  return out;
}

static void set_up_policy(certloop_t *c, const char *dir) {
  MUST(certloop_init_default(c));
  MUST(certloop_init_default(c)); /* idempotent */

  char *json = NULL;
  MUST(certloop_ca_show(c, "certloop-root", &json));
  write_field_file(json, "certificate", dir, "root.pem");
  certloop_string_free(json);
  MUST(certloop_ca_show(c, "certloop-issuing", &json));
  write_field_file(json, "certificate", dir, "issuing.pem");
  CHECK(strstr(json, "\"privateKey\"") == NULL);
  certloop_string_free(json);

  MUST(certloop_ca_create(c, "{\"name\": \"corp-root\", \"subject\": {\"commonName\": \"Corp Root\"}}",
                          &json));
  write_field_file(json, "certificate", dir, "corp-root.pem");
  certloop_string_free(json);
  MUST(certloop_ca_create(c,
                          "{\"name\": \"corp-issuing\", \"subject\": {\"commonName\": \"Corp Issuing\"},"
                          " \"parent\": \"corp-root\", \"pathLength\": 0, \"keyAlgorithm\": \"RSA_2048\"}",
                          &json));
  write_field_file(json, "certificate", dir, "corp-issuing.pem");
  certloop_string_free(json);
  MUST(certloop_ca_list(c, &json));
  CHECK(count_of(json, "\"fingerprintSha256\"") == 4);
  certloop_string_free(json);

  MUST(certloop_template_save(
      c,
      "{\"slug\": \"corp\", \"subject\": [{\"type\": \"common_name\", \"allowed\": [\"*.corp.example\"],"
      " \"required\": true}], \"sans\": [{\"type\": \"DNS\", \"allowed\": [\"*.corp.example\"]}],"
      " \"extendedKeyUsages\": {\"required\": [\"server_auth\"]}, \"validity\": {\"max\": \"30d\"}}",
      &json));
  CHECK(has_field(json, "id"));
  certloop_string_free(json);
  MUST(certloop_template_show(c, "corp", &json));
  CHECK(strstr(json, "*.corp.example") != NULL);
  certloop_string_free(json);
  MUST(certloop_template_list(c, &json));
  CHECK(count_of(json, "\"slug\"") == 2); /* tls-server and corp */
  certloop_string_free(json);

  MUST(certloop_profile_save(c,
                             "{\"slug\": \"corp\", \"templateId\": \"corp\", \"issuer\": {\"type\": "
                             "\"internalCa\", \"caId\": \"corp-issuing\"}, \"apiConfig\": "
                             "{\"autoRenew\": true, \"renewBeforeDays\": 7}}",
                             &json));
  certloop_string_free(json);
  MUST(certloop_profile_show(c, "corp", &json));
  CHECK(strstr(json, "\"renewBeforeDays\":7") != NULL);
  certloop_string_free(json);
  MUST(certloop_profile_list(c, &json));
  CHECK(count_of(json, "\"templateId\"") == 2);
  certloop_string_free(json);
}

/* Issue with a generated key from the default profile; returns the certificate id. */
static char *issue_generated(certloop_t *c, const char *dir) {
  char *response = NULL;
  MUST(certloop_issue(c,
                      "{\"attributes\": {\"commonName\": \"www.example.test\", \"ttl\": \"90d\","
                      " \"altNames\": [{\"type\": \"DNS\", \"value\": \"www.example.test\"},"
                      " {\"type\": \"IP\", \"value\": \"127.0.0.1\"}]}}",
                      &response));
  write_field_file(response, "certificate", dir, "leaf.pem");
  write_field_file(response, "privateKey", dir, "leaf.key");
  write_field_file(response, "certificateChain", dir, "leaf-chain.pem");
  char *id = json_field(response, "certificateId");
  CHECK(id != NULL);
  CHECK(has_field(response, "serialNumber"));

  char *pem = json_field(response, "certificate");
  char *info = NULL;
  MUST(certloop_certificate_inspect(pem, &info));
  CHECK(strstr(info, "\"commonName\":\"www.example.test\"") != NULL);
  CHECK(strstr(info, "\"isCa\":false") != NULL);
  certloop_string_free(info);
  free(pem);
  certloop_string_free(response);
  return id;
}

/* Issue from the caller's CSR under the corp profile; returns the certificate id. */
static char *issue_from_csr(certloop_t *c, const char *dir) {
  char *csr = read_file(dir, "request.csr");
  char *info = NULL;
  MUST(certloop_csr_inspect(csr, &info));
  CHECK(strstr(info, "api.corp.example") != NULL);
  certloop_string_free(info);

  char *quoted = json_quote(csr);
  char *request = malloc(strlen(quoted) + 128);
  sprintf(request, "{\"profileId\": \"corp\", \"csr\": %s, \"attributes\": {\"ttl\": \"30d\"}}",
          quoted);
  char *response = NULL;
  MUST(certloop_issue(c, request, &response));
  CHECK(strstr(response, "\"privateKey\"") == NULL); /* the caller kept its key */
  write_field_file(response, "certificate", dir, "csr-leaf.pem");
  char *id = json_field(response, "certificateId");
  certloop_string_free(response);
  free(request);
  free(quoted);
  free(csr);
  return id;
}

/* A batch: one refused request does not stop the others, and results keep request order. */
static void issue_batch(certloop_t *c) {
  char *json = NULL;
  MUST(certloop_issue_many(c,
                           "[{\"attributes\": {\"commonName\": \"b1.batch.test\"}},"
                           " {\"attributes\": {\"commonName\": \"b2.batch.test\", \"ttl\": \"2y\"}},"
                           " {\"attributes\": {\"commonName\": \"b3.batch.test\"}}]",
                           &json));
  CHECK(count_of(json, "{\"certificate\":{") == 2);
  CHECK(count_of(json, "\"privateKey\"") == 2);
  const char *error = strstr(json, "{\"error\":{\"code\":200,");
  CHECK(error != NULL && strstr(error, "attributes.ttl") != NULL);
  /* Order: certificate, error, certificate. */
  const char *first = strstr(json, "{\"certificate\":{");
  CHECK(first != NULL && error != NULL && first < error && strstr(error, "{\"certificate\":{") != NULL);
  certloop_string_free(json);
  MUST(certloop_search(c, "{\"commonName\": \".batch.test\"}", &json));
  CHECK(count_of(json, "\"certificateId\"") == 2);
  certloop_string_free(json);
}

static void check_inventory(certloop_t *c, const char *generated_id, const char *csr_id) {
  char *json = NULL;
  MUST(certloop_list(c, &json));
  CHECK(strstr(json, generated_id) != NULL);
  CHECK(strstr(json, csr_id) != NULL);
  CHECK(strstr(json, "PRIVATE KEY") == NULL);
  certloop_string_free(json);

  MUST(certloop_search(c, "{\"commonName\": \"corp.example\", \"states\": [\"issued\"]}", &json));
  CHECK(strstr(json, csr_id) != NULL);
  CHECK(strstr(json, generated_id) == NULL);
  certloop_string_free(json);
  MUST(certloop_search(c, "{\"san\": \"127.0.0.1\", \"expiringWithinDays\": 91}", &json));
  CHECK(strstr(json, generated_id) != NULL);
  certloop_string_free(json);
  MUST(certloop_search(c, "{\"expiringWithinDays\": 10}", &json));
  CHECK(strcmp(json, "[]") == 0);
  certloop_string_free(json);

  MUST(certloop_show(c, generated_id, &json));
  CHECK(strstr(json, "\"state\":\"issued\"") != NULL);
  certloop_string_free(json);

  MUST(certloop_renewals_due(c, &json));
  CHECK(strcmp(json, "[]") == 0);
  certloop_string_free(json);
  MUST(certloop_expire_overdue(c, &json));
  CHECK(strcmp(json, "[]") == 0);
  certloop_string_free(json);
}

/* Renew, revoke, suspend and lift, with a CRL written at each step. */
static void revocation(certloop_t *c, const char *dir, const char *generated_id,
                       const char *csr_id) {
  char *json = NULL;
  MUST(certloop_renew(c, generated_id, &json));
  write_field_file(json, "certificate", dir, "renewed.pem");
  char *renewed_id = json_field(json, "certificateId");
  CHECK(renewed_id != NULL && strcmp(renewed_id, generated_id) != 0);
  certloop_string_free(json);
  MUST(certloop_show(c, generated_id, &json));
  CHECK(renewed_id != NULL && strstr(json, renewed_id) != NULL); /* renewedBy */
  certloop_string_free(json);

  MUST(certloop_revoke(c, csr_id, "keyCompromise"));
  MUST(certloop_crl(c, "corp-issuing", &json));
  write_field_file(json, "crl", dir, "corp.crl.pem");
  char *crl_pem = json_field(json, "crl");
  certloop_string_free(json);
  MUST(certloop_crl_inspect(crl_pem, &json));
  CHECK(strstr(json, "keyCompromise") != NULL);
  certloop_string_free(json);
  free(crl_pem);

  MUST(certloop_suspend(c, renewed_id));
  MUST(certloop_crl(c, NULL, &json));
  write_field_file(json, "crl", dir, "held.crl.pem");
  CHECK(strstr(json, "\"crlNumber\":") != NULL);
  certloop_string_free(json);
  MUST(certloop_unsuspend(c, renewed_id));
  MUST(certloop_crl(c, NULL, &json));
  write_field_file(json, "crl", dir, "lifted.crl.pem");
  certloop_string_free(json);
  MUST(certloop_revoke(c, generated_id, NULL)); /* NULL reason: unspecified */

  MUST(certloop_audit(c, NULL, &json));
  CHECK(strstr(json, "\"caCreated\"") != NULL);
  certloop_string_free(json);
  char query[256];
  snprintf(query, sizeof query, "{\"certificateId\": \"%s\"}", renewed_id);
  MUST(certloop_audit(c, query, &json));
  CHECK(strstr(json, "suspended") != NULL);
  CHECK(strstr(json, "unsuspended") != NULL);
  CHECK(strstr(json, "PRIVATE KEY") == NULL);
  certloop_string_free(json);
  free(renewed_id);
}

struct worker {
  certloop_t *certloop;
  int index;
  int issued;
};

static void *issue_in_thread(void *arg) {
  struct worker *w = arg;
  for (int i = 0; i < ISSUES_PER_THREAD; i++) {
    char request[256];
    snprintf(request, sizeof request,
             "{\"attributes\": {\"commonName\": \"t%d-%d.threads.test\", \"ttl\": \"1d\"}}",
             w->index, i);
    char *response = NULL;
    if (certloop_issue(w->certloop, request, &response) == CERTLOOP_RESULT_OK) {
      w->issued++;
      certloop_string_free(response);
    } else {
      fprintf(stderr, "thread %d: %s\n", w->index, last_error());
    }
  }
  return NULL;
}

/* One handle, several threads issuing at once. */
static void shared_between_threads(certloop_t *c) {
  pthread_t threads[THREADS];
  struct worker workers[THREADS];
  for (int i = 0; i < THREADS; i++) {
    workers[i] = (struct worker){.certloop = c, .index = i, .issued = 0};
    CHECK(pthread_create(&threads[i], NULL, issue_in_thread, &workers[i]) == 0);
  }
  for (int i = 0; i < THREADS; i++) {
    pthread_join(threads[i], NULL);
    CHECK(workers[i].issued == ISSUES_PER_THREAD);
  }
  char *json = NULL;
  MUST(certloop_search(c, "{\"commonName\": \".threads.test\"}", &json));
  CHECK(count_of(json, "\"certificateId\"") == THREADS * ISSUES_PER_THREAD);
  certloop_string_free(json);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const char *dir = argv[1];
  char state[4096];
  snprintf(state, sizeof state, "%s/state", dir);

  CHECK(strlen(certloop_version()) > 0);
  certloop_t *c = NULL;
  MUST(certloop_open(state, &c));
  set_up_policy(c, dir);
  char *generated_id = issue_generated(c, dir);
  char *csr_id = issue_from_csr(c, dir);
  issue_batch(c);
  check_inventory(c, generated_id, csr_id);
  revocation(c, dir, generated_id, csr_id);
  shared_between_threads(c);
  certloop_free(c);

  /* The state directory keeps everything: reopen it and find the revoked certificate. */
  c = NULL;
  MUST(certloop_open(state, &c));
  char *json = NULL;
  MUST(certloop_show(c, csr_id, &json));
  CHECK(strstr(json, "\"state\":\"revoked\"") != NULL);
  certloop_string_free(json);
  MUST(certloop_ca_show(c, "corp-issuing", &json));
  certloop_string_free(json);
  certloop_free(c);

  free(generated_id);
  free(csr_id);
  return check_summary("flow");
}
