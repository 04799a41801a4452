/*
 * The keystore and deployment calls of the C ABI: keystores (PEM, PKCS#12, JKS), deployment
 * targets, deployment with rollback, and their error cases.
 *
 *   usage: deploy DIR   (DIR is shared by the three lifecycle tests; scripts/stages/30-ffi.sh
 *                  runs deploy, managed, then discovery in it)
 *
 * Leaves DIR/ks.p12 and DIR/ks.jks (password "c-s3cret", alias "web") and DIR/ks-leaf.pem
 * for scripts/stages/30-ffi.sh to read with `openssl pkcs12` and `keytool`.
 */
#include "check.h"

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
  certloop_free(c);
  return check_summary("deploy");
}
