/*
 * Every error path of the C ABI that bad input can reach: NULL pointers, bad UTF-8, bad JSON,
 * invalid fields, unknown objects, policy violations, conflicts, state errors, I/O errors, the
 * error-message buffer protocol, and that failures never write an output.
 */
#include "check.h"

#include <pthread.h>

/* A pointer value no certloop call may write, to prove outputs stay untouched on failure. */
#define SENTINEL ((char *)0x5a5a)

static void null_pointers(certloop_t *c) {
  char *out = SENTINEL;
  certloop_t *handle = (certloop_t *)0x5a5a;
  MUST_FAIL(certloop_in_memory(NULL), CERTLOOP_RESULT_NULL_PARAMETER, "out must not be NULL");
  MUST_FAIL(certloop_open(NULL, &handle), CERTLOOP_RESULT_NULL_PARAMETER, "dir must not be NULL");
  CHECK(handle == (certloop_t *)0x5a5a);
  MUST_FAIL(certloop_open("/tmp", NULL), CERTLOOP_RESULT_NULL_PARAMETER, "out must not be NULL");
  MUST_FAIL(certloop_init_default(NULL), CERTLOOP_RESULT_NULL_PARAMETER, "certloop must not be NULL");
  MUST_FAIL(certloop_issue(NULL, "{}", &out), CERTLOOP_RESULT_NULL_PARAMETER, "certloop must not be NULL");
  MUST_FAIL(certloop_issue(c, NULL, &out), CERTLOOP_RESULT_NULL_PARAMETER, "request_json must not be NULL");
  MUST_FAIL(certloop_issue(c, "{}", NULL), CERTLOOP_RESULT_NULL_PARAMETER, "response_json must not be NULL");
  MUST_FAIL(certloop_issue_many(c, NULL, &out), CERTLOOP_RESULT_NULL_PARAMETER, "requests_json");
  MUST_FAIL(certloop_renew(c, NULL, &out), CERTLOOP_RESULT_NULL_PARAMETER, "certificate_id");
  MUST_FAIL(certloop_revoke(c, NULL, NULL), CERTLOOP_RESULT_NULL_PARAMETER, "certificate_id");
  MUST_FAIL(certloop_suspend(c, NULL), CERTLOOP_RESULT_NULL_PARAMETER, "certificate_id");
  MUST_FAIL(certloop_unsuspend(NULL, "x"), CERTLOOP_RESULT_NULL_PARAMETER, "certloop");
  MUST_FAIL(certloop_crl(c, NULL, NULL), CERTLOOP_RESULT_NULL_PARAMETER, "crl_json");
  MUST_FAIL(certloop_list(c, NULL), CERTLOOP_RESULT_NULL_PARAMETER, "certificates_json");
  MUST_FAIL(certloop_list(NULL, &out), CERTLOOP_RESULT_NULL_PARAMETER, "certloop");
  MUST_FAIL(certloop_search(c, NULL, &out), CERTLOOP_RESULT_NULL_PARAMETER, "query_json");
  MUST_FAIL(certloop_show(c, NULL, &out), CERTLOOP_RESULT_NULL_PARAMETER, "certificate_id");
  MUST_FAIL(certloop_audit(c, NULL, NULL), CERTLOOP_RESULT_NULL_PARAMETER, "events_json");
  MUST_FAIL(certloop_renewals_due(NULL, &out), CERTLOOP_RESULT_NULL_PARAMETER, "certloop");
  MUST_FAIL(certloop_expire_overdue(c, NULL), CERTLOOP_RESULT_NULL_PARAMETER, "expired_json");
  MUST_FAIL(certloop_ca_create(c, NULL, &out), CERTLOOP_RESULT_NULL_PARAMETER, "spec_json");
  MUST_FAIL(certloop_ca_list(c, NULL), CERTLOOP_RESULT_NULL_PARAMETER, "cas_json");
  MUST_FAIL(certloop_ca_show(c, NULL, &out), CERTLOOP_RESULT_NULL_PARAMETER, "ca must not");
  MUST_FAIL(certloop_template_save(c, NULL, &out), CERTLOOP_RESULT_NULL_PARAMETER, "template_json");
  MUST_FAIL(certloop_template_show(c, "tls-server", NULL), CERTLOOP_RESULT_NULL_PARAMETER, "template_json");
  MUST_FAIL(certloop_template_list(NULL, &out), CERTLOOP_RESULT_NULL_PARAMETER, "certloop");
  MUST_FAIL(certloop_profile_save(c, "{}", NULL), CERTLOOP_RESULT_NULL_PARAMETER, "saved_json");
  MUST_FAIL(certloop_profile_show(c, NULL, &out), CERTLOOP_RESULT_NULL_PARAMETER, "profile");
  MUST_FAIL(certloop_profile_list(c, NULL), CERTLOOP_RESULT_NULL_PARAMETER, "profiles_json");
  MUST_FAIL(certloop_certificate_inspect(NULL, &out), CERTLOOP_RESULT_NULL_PARAMETER, "certificate_pem");
  MUST_FAIL(certloop_csr_inspect("x", NULL), CERTLOOP_RESULT_NULL_PARAMETER, "info_json");
  MUST_FAIL(certloop_crl_inspect(NULL, &out), CERTLOOP_RESULT_NULL_PARAMETER, "crl_pem");
  CHECK(out == SENTINEL);
  /* Freeing NULL is a no-op, as with free(). */
  certloop_string_free(NULL);
  certloop_free(NULL);
}

static void malformed_input(certloop_t *c) {
  char *out = SENTINEL;
  MUST_FAIL(certloop_issue(c, "{\"attributes\": {\"commonName\": \"\xff\xfe\"}}", &out),
            CERTLOOP_RESULT_INVALID_UTF8, "request_json is not valid UTF-8");
  MUST_FAIL(certloop_show(c, "\xc3", &out), CERTLOOP_RESULT_INVALID_UTF8, "certificate_id");
  MUST_FAIL(certloop_issue(c, "{\"attributes\": ", &out), CERTLOOP_RESULT_INVALID_JSON,
            "request_json is not valid JSON");
  MUST_FAIL(certloop_issue(c, "{\"profile\": \"tls-server\"}", &out), CERTLOOP_RESULT_INVALID_JSON,
            "unknown field `profile`");
  MUST_FAIL(certloop_issue(c, "{\"attributes\": {\"commonName\": \"a.test\", \"ttl\": \"forever\"}}",
                           &out),
            CERTLOOP_RESULT_INVALID_JSON, "ttl");
  MUST_FAIL(certloop_issue_many(c, "{\"attributes\": {}}", &out), CERTLOOP_RESULT_INVALID_JSON,
            "requests_json");
  /* serde's message without the offending value (it could be a misplaced secret). */
  MUST_FAIL(certloop_search(c, "{\"states\": [\"bogus\"]}", &out), CERTLOOP_RESULT_INVALID_JSON,
            "unknown variant, expected one of");
  CHECK(strstr(last_error(), "bogus") == NULL);
  MUST_FAIL(certloop_search(c, "{\"expiringBefore\": \"tomorrow\"}", &out),
            CERTLOOP_RESULT_INVALID_JSON, "query_json");
  MUST_FAIL(certloop_audit(c, "[]", &out), CERTLOOP_RESULT_INVALID_JSON, "query_json");
  MUST_FAIL(certloop_ca_create(c, "{\"name\": \"x\"}", &out), CERTLOOP_RESULT_INVALID_JSON,
            "missing field `subject`");
  MUST_FAIL(certloop_certificate_inspect("not a certificate", &out), CERTLOOP_RESULT_INVALID_INPUT,
            "certificate");
  MUST_FAIL(certloop_csr_inspect("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE "
                                 "REQUEST-----\n",
                                 &out),
            CERTLOOP_RESULT_INVALID_INPUT, "csr");
  MUST_FAIL(certloop_crl_inspect("", &out), CERTLOOP_RESULT_INVALID_INPUT, "crl");
  MUST_FAIL(certloop_issue(c, "{\"csr\": \"garbage\", \"attributes\": {}}", &out),
            CERTLOOP_RESULT_INVALID_INPUT, "csr");
  CHECK(out == SENTINEL);
}

/* Refusals from the library itself, after a valid request. */
static void refused(certloop_t *c) {
  char *out = SENTINEL;
  MUST_FAIL(certloop_issue(c, "{\"profileId\": \"no-such-profile\", \"attributes\": {\"commonName\":"
                              " \"a.test\"}}",
                           &out),
            CERTLOOP_RESULT_NOT_FOUND, "no-such-profile");
  CHECK(!certloop_error_is_retryable());
  MUST_FAIL(certloop_show(c, "00000000-0000-0000-0000-000000000000", &out),
            CERTLOOP_RESULT_NOT_FOUND, "certificate not found");
  MUST_FAIL(certloop_renew(c, "missing", &out), CERTLOOP_RESULT_NOT_FOUND, "missing");
  MUST_FAIL(certloop_ca_show(c, "no-such-ca", &out), CERTLOOP_RESULT_NOT_FOUND, "no-such-ca");
  MUST_FAIL(certloop_crl(c, "no-such-ca", &out), CERTLOOP_RESULT_NOT_FOUND, "no-such-ca");
  MUST_FAIL(certloop_template_show(c, "nope", &out), CERTLOOP_RESULT_NOT_FOUND, "nope");
  MUST_FAIL(certloop_profile_save(c, "{\"slug\": \"p\", \"templateId\": \"missing-template\","
                                     " \"issuer\": {\"type\": \"selfSigned\"}}",
                                  &out),
            CERTLOOP_RESULT_NOT_FOUND, "missing-template");

  /* The default tls-server template allows at most 398 days and no e-mail SANs: both
   * violations are reported at once, each naming its field. */
  MUST_FAIL(certloop_issue(c, "{\"attributes\": {\"commonName\": \"a.test\", \"ttl\": \"2y\","
                              " \"altNames\": [{\"type\": \"EMAIL\", \"value\": \"x@a.test\"}]}}",
                           &out),
            CERTLOOP_RESULT_POLICY_VIOLATION, "attributes.ttl");
  CHECK(strstr(last_error(), "attributes.altNames") != NULL);
  char *events = NULL;
  MUST(certloop_audit(c, NULL, &events));
  CHECK(strstr(events, "\"refused\"") != NULL); /* policy refusals are audited */
  certloop_string_free(events);

  MUST_FAIL(certloop_ca_create(c, "{\"name\": \"certloop-root\", \"subject\": {\"commonName\": \"R\"}}",
                               &out),
            CERTLOOP_RESULT_ALREADY_EXISTS, "certloop-root");

  char *response = NULL;
  MUST(certloop_issue(c, "{\"attributes\": {\"commonName\": \"state.test\"}}", &response));
  char *id = json_field(response, "certificateId");
  certloop_string_free(response);
  MUST_FAIL(certloop_unsuspend(c, id), CERTLOOP_RESULT_INVALID_STATE, "not suspended");
  MUST_FAIL(certloop_revoke(c, id, "because"), CERTLOOP_RESULT_INVALID_INPUT,
            "unknown revocation reason");
  MUST(certloop_revoke(c, id, "superseded"));
  MUST_FAIL(certloop_revoke(c, id, "superseded"), CERTLOOP_RESULT_INVALID_STATE, "cannot be revoked");
  MUST_FAIL(certloop_renew(c, id, &out), CERTLOOP_RESULT_INVALID_STATE, "cannot be renewed");
  free(id);

  certloop_t *handle = (certloop_t *)0x5a5a;
  MUST_FAIL(certloop_open("/proc/certloop-cannot-create-this", &handle), CERTLOOP_RESULT_IO_ERROR,
            "/proc/certloop-cannot-create-this");
  CHECK(handle == (certloop_t *)0x5a5a);
  CHECK(out == SENTINEL);
}

static void message_buffer(void) {
  /* Make a known failure, then read it through every branch of the buffer protocol. */
  certloop_result r = certloop_show(NULL, "x", NULL);
  CHECK(r == CERTLOOP_RESULT_NULL_PARAMETER);
  const char *expected = "certloop must not be NULL";
  size_t needed = 0;
  CHECK(certloop_error_message(NULL, 0, &needed) == CERTLOOP_RESULT_INSUFFICIENT_SIZE);
  CHECK(needed == strlen(expected) + 1);
  char small[4] = {'a', 'b', 'c', 'd'};
  CHECK(certloop_error_message(small, sizeof small, &needed) == CERTLOOP_RESULT_INSUFFICIENT_SIZE);
  CHECK(memcmp(small, "abcd", 4) == 0); /* untouched */
  char exact[64];
  CHECK(certloop_error_message(exact, needed, &needed) == CERTLOOP_RESULT_OK);
  CHECK(strcmp(exact, expected) == 0);
  CHECK(certloop_error_message(exact, sizeof exact, NULL) == CERTLOOP_RESULT_NULL_PARAMETER);
  CHECK(certloop_error_message(NULL, 100, &needed) == CERTLOOP_RESULT_NULL_PARAMETER);
  /* A successful call leaves the last message in place. */
  CHECK(strlen(certloop_version()) > 0);
  CHECK(strcmp(last_error(), expected) == 0);
}

static void *fresh_thread(void *arg) {
  (void)arg;
  size_t needed = 99;
  char buf[8] = "x";
  int ok = certloop_error_message(buf, sizeof buf, &needed) == CERTLOOP_RESULT_OK && needed == 1 &&
           buf[0] == '\0' && !certloop_error_is_retryable();
  return ok ? (void *)1 : NULL;
}

/* The last error is per thread: a new thread sees none. */
static void thread_local_errors(void) {
  pthread_t thread;
  void *ok = NULL;
  CHECK(pthread_create(&thread, NULL, fresh_thread, NULL) == 0);
  CHECK(pthread_join(thread, &ok) == 0);
  CHECK(ok != NULL);
}

int main(void) {
  certloop_t *c = NULL;
  MUST(certloop_in_memory(&c));
  MUST(certloop_init_default(c));
  null_pointers(c);
  malformed_input(c);
  refused(c);
  message_buffer();
  thread_local_errors();
  certloop_free(c);
  return check_summary("errors");
}
