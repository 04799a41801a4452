/*
 * The lifecycle calls of the C ABI: keystores, deployment targets, deployment with rollback,
 * managed certificates, batches with a progress callback, the sweep, discovery, the ACME
 * order calls without a CA, the error detail, opening with options (audit actor, script
 * directory), and their error cases.
 *
 *   usage: lifecycle DIR   (DIR/scan/nested/outside.pem must hold a certificate certloop did
 *                           not issue, e.g. made by `openssl req -x509`)
 *
 * Leaves DIR/ks.p12 and DIR/ks.jks (password "c-s3cret", alias "web") and DIR/ks-leaf.pem
 * for scripts/stages/30-ffi.sh to read with `openssl pkcs12` and `keytool`.
 */
#include "check.h"

#include <sys/stat.h>
#include <unistd.h>

#define SENTINEL ((char *)0x5a5a)

/* DIR/NAME in a static ring of buffers (several may be live in one expression). */
static const char *path_in(const char *dir, const char *name) {
  static char paths[8][4096];
  static int next = 0;
  char *path = paths[next++ % 8];
  snprintf(path, 4096, "%s/%s", dir, name);
  return path;
}

/* The permission bits of a file, or -1 when it is missing. */
static int mode_of(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (int)(st.st_mode & 0777) : -1;
}

/* The last error's detail JSON, malloc'd by certloop (free with certloop_string_free). */
static char *last_detail(void) {
  char *detail = NULL;
  MUST(certloop_error_detail(&detail));
  return detail;
}

/* Issue a certificate for `cn` from the default profile; `manage_key` keeps its key sealed.
 * Returns the whole response (free with certloop_string_free). */
static char *issue(certloop_t *c, const char *cn, int manage_key) {
  char request[512];
  snprintf(request, sizeof request,
           "{\"attributes\": {\"commonName\": \"%s\", \"altNames\": [{\"type\": \"DNS\", \"value\":"
           " \"%s\"}]}, \"manageKey\": %s}",
           cn, cn, manage_key ? "true" : "false");
  char *response = NULL;
  MUST(certloop_issue(c, request, &response));
  return response;
}

/* ---- keystores ------------------------------------------------------------------------- */

static void keystores(certloop_t *c, const char *dir) {
  char *issued = issue(c, "ks.example.internal", 1);
  char *id = json_field(issued, "certificateId");
  write_field_file(issued, "certificate", dir, "ks-leaf.pem");

  /* PEM from the certificate id (its key was kept sealed): key file 0600. */
  char spec[2048];
  snprintf(spec, sizeof spec,
           "{\"format\": \"pem\", \"fullchainPath\": \"%s\", \"keyPath\": \"%s\"}",
           path_in(dir, "ks-full.pem"), path_in(dir, "ks-key.pem"));
  char *paths = NULL;
  MUST(certloop_keystore_write(c, id, spec, 3, &paths));
  CHECK(strstr(paths, path_in(dir, "ks-full.pem")) != NULL);
  CHECK(strstr(paths, path_in(dir, "ks-key.pem")) != NULL);
  certloop_string_free(paths);
  CHECK(mode_of(path_in(dir, "ks-key.pem")) == 0600);
  char *key_file = read_file(dir, "ks-key.pem");
  char *key = json_field(issued, "privateKey");
  CHECK(key != NULL && strcmp(key_file, key) == 0); /* the key certloop kept is the issued one */
  free(key);
  free(key_file);

  /* PKCS#12 from the issue response, with a password: openssl reads it in the stage. */
  snprintf(spec, sizeof spec,
           "{\"format\": \"pkcs12\", \"path\": \"%s\", \"password\": \"c-s3cret\", \"alias\": \"web\"}",
           path_in(dir, "ks.p12"));
  paths = SENTINEL;
  MUST(certloop_keystore_write_issued(c, issued, spec, 0, &paths));
  CHECK(strstr(paths, "ks.p12") != NULL);
  CHECK(strstr(paths, "c-s3cret") == NULL);
  certloop_string_free(paths);
  CHECK(mode_of(path_in(dir, "ks.p12")) == 0600);

  /* JKS from the certificate id: keytool reads it in the stage. */
  snprintf(spec, sizeof spec,
           "{\"format\": \"jks\", \"path\": \"%s\", \"storePassword\": \"c-s3cret\", \"alias\": \"web\"}",
           path_in(dir, "ks.jks"));
  MUST(certloop_keystore_write(c, id, spec, 3, &paths));
  CHECK(strstr(paths, "ks.jks") != NULL && strstr(paths, "c-s3cret") == NULL);
  certloop_string_free(paths);
  CHECK(mode_of(path_in(dir, "ks.jks")) == 0600);
  MUST_FAIL(certloop_keystore_write(c, id, "{\"format\": \"jks\", \"path\": \"/tmp/x.jks\"}", 3,
                                    &paths),
            CERTLOOP_RESULT_INVALID_JSON, "missing field `storePassword`");

  /* A secret in the wrong place or shape is refused without being repeated. */
  char *out = SENTINEL;
  snprintf(spec, sizeof spec, "{\"format\": \"c-s3cret-format\", \"path\": \"%s\"}",
           path_in(dir, "x.p12"));
  MUST_FAIL(certloop_keystore_write(c, id, spec, 3, &out), CERTLOOP_RESULT_INVALID_JSON,
            "unknown variant");
  CHECK(strstr(last_error(), "c-s3cret-format") == NULL);
  CHECK(strstr(last_error(), "spec_json") != NULL);
  snprintf(spec, sizeof spec, "{\"format\": \"pkcs12\", \"path\": \"%s\", \"password\": 9137254}",
           path_in(dir, "y.p12"));
  MUST_FAIL(certloop_keystore_write_issued(c, issued, spec, 3, &out), CERTLOOP_RESULT_INVALID_JSON,
            "invalid type");
  CHECK(strstr(last_error(), "9137254") == NULL);
  char *detail = last_detail();
  CHECK(strstr(detail, "\"field\":\"spec_json\"") != NULL);
  CHECK(strstr(detail, "9137254") == NULL);
  certloop_string_free(detail);
  MUST_FAIL(certloop_keystore_write(c, id, "{\"format\": \"pkcs12\"}", 3, &out),
            CERTLOOP_RESULT_INVALID_JSON, "missing field `path`");
  CHECK(access(path_in(dir, "x.p12"), F_OK) != 0 && access(path_in(dir, "y.p12"), F_OK) != 0);

  /* Without a kept key certloop cannot write the key files; unknown ids are not found. */
  char *no_key = issue(c, "nokey.example.internal", 0);
  char *no_key_id = json_field(no_key, "certificateId");
  snprintf(spec, sizeof spec, "{\"format\": \"pem\", \"keyPath\": \"%s\"}", path_in(dir, "z.key"));
  MUST_FAIL(certloop_keystore_write(c, no_key_id, spec, 3, &out), CERTLOOP_RESULT_INVALID_STATE,
            "without keeping its key");
  MUST_FAIL(certloop_keystore_write(c, "no-such-certificate", spec, 3, &out),
            CERTLOOP_RESULT_NOT_FOUND, "no-such-certificate");
  MUST_FAIL(certloop_keystore_write(NULL, id, spec, 3, &out), CERTLOOP_RESULT_NULL_PARAMETER,
            "certloop");
  MUST_FAIL(certloop_keystore_write(c, NULL, spec, 3, &out), CERTLOOP_RESULT_NULL_PARAMETER,
            "certificate_id");
  MUST_FAIL(certloop_keystore_write(c, id, NULL, 3, &out), CERTLOOP_RESULT_NULL_PARAMETER,
            "spec_json");
  MUST_FAIL(certloop_keystore_write(c, id, spec, 3, NULL), CERTLOOP_RESULT_NULL_PARAMETER,
            "paths_json");
  MUST_FAIL(certloop_keystore_write_issued(c, NULL, spec, 3, &out), CERTLOOP_RESULT_NULL_PARAMETER,
            "issued_json");
  CHECK(out == SENTINEL);

  /* No password reached the audit log. */
  char *events = NULL;
  MUST(certloop_audit(c, NULL, &events));
  CHECK(strstr(events, "c-s3cret") == NULL);
  certloop_string_free(events);

  certloop_string_free(no_key);
  free(no_key_id);
  free(id);
  certloop_string_free(issued);
}

/* ---- deployment ------------------------------------------------------------------------ */

/* Save target `web`: nginx type, files in DIR, `test` as its config test command. */
static void save_web_target(certloop_t *c, const char *dir, const char *test) {
  char target[2048];
  snprintf(target, sizeof target,
           "{\"name\": \"web\", \"type\": \"nginx\", \"certPath\": \"%s\", \"keyPath\": \"%s\","
           " \"testCommand\": %s, \"reloadCommand\": [\"true\"]}",
           path_in(dir, "site.crt"), path_in(dir, "site.key"), test);
  char *saved = NULL;
  MUST(certloop_target_save(c, target, &saved));
  CHECK(strstr(saved, "\"name\":\"web\"") != NULL);
  certloop_string_free(saved);
}

static void deployment(certloop_t *c, const char *dir) {
  save_web_target(c, dir, "[\"true\"]");
  char *json = NULL;
  MUST(certloop_target_show(c, "web", &json));
  CHECK(strstr(json, "\"type\":\"nginx\"") != NULL);
  certloop_string_free(json);

  /* 1. A deployment that succeeds: files in place (key 0600), certificate deployed. */
  char *first = issue(c, "web.example.internal", 1);
  char *first_id = json_field(first, "certificateId");
  char *report = NULL;
  MUST(certloop_deploy(c, first_id, "web", -1, &report));
  CHECK(strstr(report, "\"success\":true") != NULL);
  CHECK(strstr(report, "\"rolledBack\":false") != NULL);
  CHECK(strstr(report, "\"step\":\"configTest\"") != NULL);
  CHECK(strstr(report, "\"step\":\"reload\"") != NULL);
  certloop_string_free(report);
  MUST(certloop_show(c, first_id, &json));
  CHECK(strstr(json, "\"state\":\"deployed\"") != NULL);
  certloop_string_free(json);
  CHECK(mode_of(path_in(dir, "site.key")) == 0600);
  char *deployed_cert = read_file(dir, "site.crt");
  char *deployed_key = read_file(dir, "site.key");
  char *first_pem = json_field(first, "certificate");
  CHECK(strncmp(deployed_cert, first_pem, strlen(first_pem)) == 0); /* the leaf comes first */

  /* 2. The config test fails: DEPLOYMENT_FAILED, rolled back, the first files are back. */
  save_web_target(c, dir, "[\"sh\", \"-c\", \"exit 3\"]");
  char *second = issue(c, "web.example.internal", 1);
  char *second_id = json_field(second, "certificateId");
  report = SENTINEL;
  MUST_FAIL(certloop_deploy(c, second_id, "web", -1, &report), CERTLOOP_RESULT_DEPLOYMENT_FAILED,
            "web");
  CHECK(report == SENTINEL);
  CHECK(!certloop_error_is_retryable());
  char *detail = last_detail();
  CHECK(strstr(detail, "\"code\":\"DEPLOYMENT_FAILED\"") != NULL);
  CHECK(strstr(detail, "\"result\":209") != NULL);
  CHECK(strstr(detail, "\"target\":\"web\"") != NULL);
  CHECK(strstr(detail, "\"rolledBack\":true") != NULL);
  certloop_string_free(detail);
  char *now_cert = read_file(dir, "site.crt");
  char *now_key = read_file(dir, "site.key");
  CHECK(strcmp(now_cert, deployed_cert) == 0);
  CHECK(strcmp(now_key, deployed_key) == 0);
  free(now_cert);
  free(now_key);
  MUST(certloop_show(c, second_id, &json));
  CHECK(strstr(json, "\"state\":\"issued\"") != NULL);
  certloop_string_free(json);

  /* 3. The same with the report: OK, success false, the failed step and the rollback step. */
  MUST(certloop_deploy_with_report(c, second_id, "web", 1, &report));
  CHECK(strstr(report, "\"success\":false") != NULL);
  CHECK(strstr(report, "\"failedStep\":\"configTest\"") != NULL);
  CHECK(strstr(report, "\"rolledBack\":true") != NULL);
  CHECK(strstr(report, "\"step\":\"rollback\",\"ok\":true") != NULL);
  certloop_string_free(report);
  now_cert = read_file(dir, "site.crt");
  CHECK(strcmp(now_cert, deployed_cert) == 0);
  free(now_cert);

  /* 4. Without rollback (0) the new files stay. */
  MUST(certloop_deploy_with_report(c, second_id, "web", 0, &report));
  CHECK(strstr(report, "\"rolledBack\":false") != NULL);
  certloop_string_free(report);
  now_cert = read_file(dir, "site.crt");
  char *second_pem = json_field(second, "certificate");
  CHECK(strncmp(now_cert, second_pem, strlen(second_pem)) == 0);
  free(now_cert);
  free(second_pem);

  /* The audit log has the steps; a target's password is sealed and comes back redacted. */
  char *events = NULL;
  MUST(certloop_audit(c, NULL, &events));
  CHECK(strstr(events, "\"rolledBack\"") != NULL);
  CHECK(strstr(events, "\"deployFailed\"") != NULL);
  certloop_string_free(events);
  char target[1024];
  snprintf(target, sizeof target,
           "{\"name\": \"tomcat\", \"type\": \"tomcat\", \"keystorePath\": \"%s\","
           " \"keystorePassword\": \"tomcat-s3cret\"}",
           path_in(dir, "tomcat.p12"));
  MUST(certloop_target_save(c, target, &json));
  CHECK(strstr(json, "[redacted]") != NULL && strstr(json, "tomcat-s3cret") == NULL);
  certloop_string_free(json);
  MUST(certloop_target_list(c, &json));
  CHECK(count_of(json, "\"name\"") == 2);
  CHECK(strstr(json, "tomcat-s3cret") == NULL);
  certloop_string_free(json);

  /* Pinning check against a port nothing listens on: an I/O failure naming the endpoint. */
  char *check = SENTINEL;
  certloop_result pinned = certloop_pin_check(c, first_id, "127.0.0.1:1", NULL, &check);
  CHECK(pinned == CERTLOOP_RESULT_IO_ERROR);
  CHECK(strstr(last_error(), "127.0.0.1:1") != NULL);
  CHECK(check == SENTINEL);

  /* Errors: unknown certificate or target, a certificate without a kept key, NULLs. */
  char *out = SENTINEL;
  MUST_FAIL(certloop_deploy(c, first_id, "nowhere", -1, &out), CERTLOOP_RESULT_NOT_FOUND,
            "nowhere");
  detail = last_detail();
  CHECK(strstr(detail, "\"id\":\"nowhere\"") != NULL);
  CHECK(strstr(detail, "\"code\":\"NOT_FOUND\"") != NULL);
  certloop_string_free(detail);
  MUST_FAIL(certloop_deploy_with_report(c, "no-such-certificate", "web", -1, &out),
            CERTLOOP_RESULT_NOT_FOUND, "no-such-certificate");
  char *no_key = issue(c, "nokey2.example.internal", 0);
  char *no_key_id = json_field(no_key, "certificateId");
  MUST_FAIL(certloop_deploy(c, no_key_id, "web", -1, &out), CERTLOOP_RESULT_INVALID_STATE,
            "without keeping its key");
  MUST_FAIL(certloop_pin_check(c, "no-such-certificate", "127.0.0.1:1", NULL, &out),
            CERTLOOP_RESULT_NOT_FOUND, "no-such-certificate");
  MUST_FAIL(certloop_target_show(c, "nowhere", &out), CERTLOOP_RESULT_NOT_FOUND, "nowhere");
  MUST_FAIL(certloop_target_save(c, "{\"name\": \"bad\", \"type\": \"nginx\", \"certPath\": 7}",
                                 &out),
            CERTLOOP_RESULT_INVALID_JSON, "target_json");
  MUST_FAIL(certloop_target_save(c, "{\"name\": \"bad\", \"type\": \"iis\"}", &out),
            CERTLOOP_RESULT_INVALID_JSON, "unknown variant");
  MUST_FAIL(certloop_target_save(c, NULL, &out), CERTLOOP_RESULT_NULL_PARAMETER, "target_json");
  MUST_FAIL(certloop_target_list(c, NULL), CERTLOOP_RESULT_NULL_PARAMETER, "targets_json");
  MUST_FAIL(certloop_target_remove(c, NULL), CERTLOOP_RESULT_NULL_PARAMETER, "target");
  MUST_FAIL(certloop_deploy(c, NULL, "web", -1, &out), CERTLOOP_RESULT_NULL_PARAMETER,
            "certificate_id");
  MUST_FAIL(certloop_deploy(c, first_id, NULL, -1, &out), CERTLOOP_RESULT_NULL_PARAMETER,
            "target");
  MUST_FAIL(certloop_deploy_with_report(c, first_id, "web", -1, NULL),
            CERTLOOP_RESULT_NULL_PARAMETER, "report_json");
  MUST_FAIL(certloop_pin_check(c, first_id, NULL, NULL, &out), CERTLOOP_RESULT_NULL_PARAMETER,
            "endpoint");
  CHECK(out == SENTINEL);

  MUST(certloop_target_remove(c, "web"));
  MUST(certloop_target_remove(c, "tomcat"));
  MUST_FAIL(certloop_target_remove(c, "web"), CERTLOOP_RESULT_NOT_FOUND, "web");
  MUST(certloop_target_list(c, &json));
  CHECK(strcmp(json, "[]") == 0);
  certloop_string_free(json);

  certloop_string_free(no_key);
  free(no_key_id);
  free(first_pem);
  free(deployed_cert);
  free(deployed_key);
  free(first_id);
  free(second_id);
  certloop_string_free(first);
  certloop_string_free(second);
}

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

/* ---- discovery ------------------------------------------------------------------------- */

static void discovery(const char *dir) {
  certloop_t *c = NULL;
  MUST(certloop_in_memory(&c));
  MUST(certloop_init_default(c));
  char *issued = issue(c, "known.example.internal", 0);
  char *known_id = json_field(issued, "certificateId");
  write_field_file(issued, "certificate", path_in(dir, "scan"), "known.pem");
  write_file(path_in(dir, "scan"), "notes.txt", "not a certificate\n");
  certloop_string_free(issued);

  char options[2048];
  snprintf(options, sizeof options, "{\"roots\": [\"%s\"]}", path_in(dir, "scan"));
  char *json = NULL;
  MUST(certloop_discover_files(c, options, &json));
  CHECK(strstr(json, "\"newCertificates\":1,\"newLocations\":2") != NULL);
  CHECK(count_of(json, "\"certificateId\"") == 2);
  CHECK(strstr(json, "\"commonName\":\"outside.example.internal\"") != NULL);
  CHECK(strstr(json, "\"state\":\"discovered\"") != NULL);
  CHECK(strstr(json, known_id) != NULL); /* the known one is not duplicated */
  certloop_string_free(json);
  MUST(certloop_search(c, "{\"states\": [\"discovered\"]}", &json));
  CHECK(count_of(json, "\"certificateId\"") == 1);
  CHECK(strstr(json, "outside.example.internal") != NULL);
  certloop_string_free(json);

  /* The same scan again adds nothing; the places are kept. */
  MUST(certloop_discover_files(c, options, &json));
  CHECK(strstr(json, "\"newCertificates\":0,\"newLocations\":0") != NULL);
  certloop_string_free(json);
  MUST(certloop_discovered_locations(c, &json));
  CHECK(count_of(json, "\"firstSeen\"") == 2);
  CHECK(strstr(json, "known.pem") != NULL && strstr(json, "outside.pem") != NULL);
  certloop_string_free(json);

  MUST(certloop_rediscover(c, &json));
  CHECK(strstr(json, "\"checked\":2,\"unchanged\":2,\"drifts\":[]") != NULL);
  certloop_string_free(json);
  CHECK(unlink(path_in(path_in(dir, "scan"), "known.pem")) == 0);
  MUST(certloop_rediscover(c, &json));
  CHECK(strstr(json, "\"checked\":2,\"unchanged\":1") != NULL);
  CHECK(strstr(json, "\"kind\":\"gone\"") != NULL);
  certloop_string_free(json);

  char *out = SENTINEL;
  snprintf(options, sizeof options, "{\"roots\": [\"%s\"], \"depth\": 2}", path_in(dir, "scan"));
  MUST_FAIL(certloop_discover_files(c, options, &out), CERTLOOP_RESULT_INVALID_JSON,
            "unknown field `depth`");
  MUST_FAIL(certloop_discover_files(c, "{\"roots\": [], \"passwords\": \"c-pass-s3cret\"}", &out),
            CERTLOOP_RESULT_INVALID_JSON, "invalid type");
  CHECK(strstr(last_error(), "c-pass-s3cret") == NULL);
  MUST_FAIL(certloop_discover_files(c, "{}", &out), CERTLOOP_RESULT_INVALID_JSON,
            "missing field `roots`");
  MUST_FAIL(certloop_discover_network(c, "{\"targets\": [\"127.0.0.1\"], \"ports\": [70000]}", &out),
            CERTLOOP_RESULT_INVALID_JSON, "options_json");
  MUST_FAIL(certloop_discover_files(c, NULL, &out), CERTLOOP_RESULT_NULL_PARAMETER, "options_json");
  MUST_FAIL(certloop_discover_host(c, NULL, NULL), CERTLOOP_RESULT_NULL_PARAMETER, "outcome_json");
  MUST_FAIL(certloop_discovered_locations(NULL, &out), CERTLOOP_RESULT_NULL_PARAMETER, "certloop");
  MUST_FAIL(certloop_rediscover(c, NULL), CERTLOOP_RESULT_NULL_PARAMETER, "report_json");
  CHECK(out == SENTINEL);
  free(known_id);
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

/* ---- opening with options: the audit actor and the script directory -------------------- */

static void open_options(const char *dir) {
  const char *script = "def certificate_request(csr, common_name, args_dict):\n"
                       "    raise RuntimeError(\"not used\")\n";
  CHECK(mkdir(path_in(dir, "scripts"), 0755) == 0);
  write_file(path_in(dir, "scripts"), "corp_ca.py", script);
  write_file(dir, "outside.py", script);
  char options[2048];
  snprintf(options, sizeof options, "{\"actor\": \"c-lifecycle\", \"scriptRoot\": \"%s\"}",
           path_in(dir, "scripts"));
  certloop_t *c = NULL;
  MUST(certloop_open_with(NULL, options, &c));
  MUST(certloop_init_default(c));
  char profile[4096];
  snprintf(profile, sizeof profile,
           "{\"slug\": \"corp\", \"templateId\": \"tls-server\", \"issuer\": {\"type\": \"script\","
           " \"path\": \"%s\", \"params\": [{\"name\": \"token\", \"value\": \"script-s3cret\","
           " \"sensitive\": true}]}}",
           path_in(path_in(dir, "scripts"), "corp_ca.py"));
  char *json = NULL;
  MUST(certloop_profile_save(c, profile, &json));
  CHECK(strstr(json, "\"type\":\"script\"") != NULL);
  CHECK(strstr(json, "script-s3cret") == NULL); /* a sensitive parameter is not returned */
  certloop_string_free(json);
  char *out = SENTINEL;
  snprintf(profile, sizeof profile,
           "{\"slug\": \"corp2\", \"templateId\": \"tls-server\", \"issuer\": {\"type\": \"script\","
           " \"path\": \"%s\", \"params\": [{\"name\": \"token\", \"value\": \"script-s3cret\","
           " \"sensitive\": true}]}}",
           path_in(dir, "outside.py"));
  MUST_FAIL(certloop_profile_save(c, profile, &out), CERTLOOP_RESULT_INVALID_INPUT,
            "outside the script directory");
  CHECK(strstr(last_error(), "script-s3cret") == NULL);
  MUST(certloop_audit(c, NULL, &json));
  CHECK(strstr(json, "\"actor\":\"c-lifecycle\"") != NULL);
  CHECK(strstr(json, "script-s3cret") == NULL);
  certloop_string_free(json);
  certloop_free(c);

  /* A state directory, and the errors. */
  c = NULL;
  MUST(certloop_open_with(path_in(dir, "state"), NULL, &c));
  MUST(certloop_init_default(c));
  certloop_free(c);
  certloop_t *handle = (certloop_t *)0x5a5a;
  MUST_FAIL(certloop_open_with(NULL, "{\"scriptRoot\": \"/nonexistent/certloop-scripts\"}", &handle),
            CERTLOOP_RESULT_IO_ERROR, "/nonexistent/certloop-scripts");
  MUST_FAIL(certloop_open_with(NULL, "{\"actor\": \"x\", \"home\": \"y\"}", &handle),
            CERTLOOP_RESULT_INVALID_JSON, "unknown field `home`");
  MUST_FAIL(certloop_open_with(NULL, NULL, NULL), CERTLOOP_RESULT_NULL_PARAMETER, "out");
  CHECK(handle == (certloop_t *)0x5a5a);
  CHECK(out == SENTINEL);
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
  keystores(c, dir);
  deployment(c, dir);
  managed(c, dir);
  acme_without_ca(c);
  certloop_free(c);
  sweep(dir);
  discovery(dir);
  open_options(dir);
  return check_summary("lifecycle");
}
