/*
 * Discovery through the C ABI (file scan, locations, rediscovery) and opening with options
 * (audit actor, script directory), with their error cases.
 *
 *   usage: discovery DIR   (DIR is shared by the three lifecycle tests; scripts/stages/30-ffi.sh
 *                  runs deploy, managed, then discovery in it)
 *                  DIR/scan/nested/outside.pem must hold a certificate certloop did not
 *                  issue, e.g. made by `openssl req -x509`
 */
#include "check.h"

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
  discovery(dir);
  open_options(dir);
  return check_summary("discovery");
}
