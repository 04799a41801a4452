/*
 * End to end through the C ABI: order from Pebble with manual HTTP-01 validation (the issue
 * is pending, its order listed, the file published into the webroot, the order resumed),
 * then deploy to a real nginx on loopback (config test, reload, pinning check) and check the
 * pin again. The C counterpart of bindings-node/__test__/acme-nginx.test.mjs.
 *
 *   usage: acme_nginx DIR   (writes DIR/leaf.pem and DIR/chain.pem for `openssl verify`)
 *
 * Needs the servers scripts/stages/50-acme.sh starts (CERTLOOP_ACME_DIRECTORY,
 * CERTLOOP_ACME_TLS_ROOT, CERTLOOP_ACME_WEBROOT) and the nginx it starts for this program:
 * CERTLOOP_NGINX_PREFIX (its -p directory, serving tls/fullchain.pem and tls/key.pem),
 * CERTLOOP_NGINX_CONF and CERTLOOP_NGINX_PORT.
 */
#include "check.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *require_env(const char *name) {
  const char *value = getenv(name);
  if (value == NULL || *value == '\0') {
    fprintf(stderr, "acme_nginx: %s is not set (run it from scripts/stages/50-acme.sh)\n", name);
    exit(2);
  }
  return value;
}

/* mkdir -p for the directories above `path`. */
static void make_parents(char *path) {
  for (char *p = path + 1; *p != '\0'; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
      perror(path);
      exit(1);
    }
    *p = '/';
  }
}

/* Publish every httpFile step of an order's instructions into the webroot; returns how many. */
static int publish_steps(const char *order, const char *webroot) {
  int published = 0;
  const char *steps = strstr(order, "\"steps\":[");
  CHECK(steps != NULL);
  for (const char *step = steps ? strstr(steps, "{\"type\":") : NULL; step != NULL;
       step = strstr(step + 1, "{\"type\":")) {
    CHECK(strncmp(step, "{\"type\":\"httpFile\"", 18) == 0);
    char *path = json_field(step, "path");
    char *content = json_field(step, "content");
    CHECK(path != NULL && content != NULL && strstr(path, "..") == NULL);
    if (path != NULL && content != NULL) {
      char file[4096];
      snprintf(file, sizeof file, "%s/%s", webroot, path);
      make_parents(file);
      FILE *f = fopen(file, "w");
      if (f == NULL || fputs(content, f) < 0 || fclose(f) != 0) {
        perror(file);
        exit(1);
      }
      published++;
    }
    free(path);
    free(content);
  }
  return published;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const char *dir = argv[1];
  const char *directory = require_env("CERTLOOP_ACME_DIRECTORY");
  const char *tls_root = require_env("CERTLOOP_ACME_TLS_ROOT");
  const char *webroot = require_env("CERTLOOP_ACME_WEBROOT");
  const char *prefix = require_env("CERTLOOP_NGINX_PREFIX");
  const char *conf = require_env("CERTLOOP_NGINX_CONF");
  const char *port = require_env("CERTLOOP_NGINX_PORT");

  certloop_t *c = NULL;
  MUST(certloop_in_memory(&c));
  MUST(certloop_init_default(c));
  char json[4096];
  snprintf(json, sizeof json,
           "{\"slug\": \"pebble\", \"templateId\": \"tls-server\", \"issuer\": {\"type\": \"acme\","
           " \"directoryUrl\": \"%s\", \"caRoots\": \"%s\", \"email\": \"c@example.com\","
           " \"solver\": {\"type\": \"manual\"}}}",
           directory, tls_root);
  char *out = NULL;
  MUST(certloop_profile_save(c, json, &out));
  certloop_string_free(out);

  /* 1. The order waits for a person: PENDING_VALIDATION, its id in the error detail. */
  char name[128];
  snprintf(name, sizeof name, "c-%ld.certloop.test", (long)getpid());
  snprintf(json, sizeof json,
           "{\"profileId\": \"pebble\", \"attributes\": {\"commonName\": \"%s\", \"altNames\":"
           " [{\"type\": \"DNS\", \"value\": \"%s\"}]}, \"manageKey\": true}",
           name, name);
  out = NULL;
  certloop_result issued_result = certloop_issue(c, json, &out);
  if (issued_result != CERTLOOP_RESULT_PENDING_VALIDATION) {
    fprintf(stderr, "certloop_issue returned %u, expected PENDING_VALIDATION: %s\n",
            (unsigned)issued_result, issued_result == CERTLOOP_RESULT_OK ? "" : last_error());
    return 1;
  }
  CHECK(out == NULL);
  CHECK(strstr(last_error(), "acme-challenge") != NULL); /* the instructions, for people */
  char *detail = NULL;
  MUST(certloop_error_detail(&detail));
  CHECK(strstr(detail, "\"code\":\"PENDING_VALIDATION\"") != NULL);
  char *order_id = json_field(detail, "orderId");
  CHECK(has_field(detail, "instructions"));
  certloop_string_free(detail);
  if (order_id == NULL) {
    fprintf(stderr, "no orderId in the error detail\n");
    return 1;
  }

  char *orders = NULL;
  MUST(certloop_order_list(c, &orders));
  CHECK(strstr(orders, order_id) != NULL);
  CHECK(strstr(orders, "\"status\":\"pendingValidation\"") != NULL);
  certloop_string_free(orders);
  char *accounts = NULL;
  MUST(certloop_acme_account_list(c, &accounts));
  CHECK(count_of(accounts, "\"accountUrl\"") == 1);
  CHECK(strstr(accounts, directory) != NULL);
  certloop_string_free(accounts);

  /* 2. The person publishes the file; 3. resume. */
  char *order = NULL;
  MUST(certloop_order_show(c, order_id, &order));
  char expected_names[256];
  snprintf(expected_names, sizeof expected_names, "\"names\":[\"%s\"]", name);
  CHECK(strstr(order, expected_names) != NULL);
  CHECK(publish_steps(order, webroot) == 1);
  certloop_string_free(order);
  char *issued = NULL;
  MUST(certloop_order_resume(c, order_id, &issued));
  MUST(certloop_order_show(c, order_id, &order));
  CHECK(strstr(order, "\"status\":\"completed\"") != NULL);
  certloop_string_free(order);
  out = (char *)0x5a5a;
  MUST_FAIL(certloop_order_resume(c, order_id, &out), CERTLOOP_RESULT_INVALID_STATE,
            "not pending validation");
  CHECK(out == (char *)0x5a5a);
  write_field_file(issued, "certificate", dir, "leaf.pem");
  write_field_file(issued, "certificateChain", dir, "chain.pem");
  char *certificate_id = json_field(issued, "certificateId");
  CHECK(certificate_id != NULL);

  /* 4. Deploy to nginx: config test, reload, pinning check against what it serves. */
  char endpoint[64];
  snprintf(endpoint, sizeof endpoint, "127.0.0.1:%s", port);
  char args[2048];
  snprintf(args, sizeof args, "\"nginx\", \"-p\", \"%s\", \"-c\", \"%s\", \"-e\", \"%s/logs/error.log\"",
           prefix, conf, prefix);
  char target[8192];
  snprintf(target, sizeof target,
           "{\"name\": \"nginx\", \"type\": \"nginx\", \"certPath\": \"%s/tls/fullchain.pem\","
           " \"keyPath\": \"%s/tls/key.pem\", \"testCommand\": [%s, \"-t\", \"-q\"],"
           " \"reloadCommand\": [%s, \"-s\", \"reload\"], \"endpoint\": \"%s\","
           " \"serverName\": \"%s\", \"pinAttempts\": 40, \"pinIntervalMs\": 250}",
           prefix, prefix, args, args, endpoint, name);
  MUST(certloop_target_save(c, target, &out));
  certloop_string_free(out);
  /* Before the deployment nginx serves its placeholder: a mismatch, not an error. */
  char *check = NULL;
  MUST(certloop_pin_check(c, certificate_id, endpoint, name, &check));
  CHECK(strstr(check, "\"matches\":false") != NULL);
  CHECK(strstr(check, "placeholder") != NULL); /* servedSubject */
  certloop_string_free(check);
  char *report = NULL;
  MUST(certloop_deploy(c, certificate_id, "nginx", -1, &report));
  CHECK(strstr(report, "\"success\":true") != NULL);
  const char *steps[] = {"precheck", "write", "configTest", "reload", "pinCheck"};
  const char *at = report;
  for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
    char step[64];
    snprintf(step, sizeof step, "{\"step\":\"%s\",\"ok\":true", steps[i]);
    const char *found = strstr(at, step);
    if (found == NULL) fprintf(stderr, "no ok step %s (in order) in %s\n", steps[i], report);
    CHECK(found != NULL);
    if (found != NULL) at = found;
  }
  CHECK(strstr(report, "\"matches\":true") != NULL);
  certloop_string_free(report);

  char *record = NULL;
  MUST(certloop_show(c, certificate_id, &record));
  CHECK(strstr(record, "\"state\":\"deployed\"") != NULL);
  char *fingerprint = json_field(record, "fingerprintSha256");
  certloop_string_free(record);
  check = NULL;
  MUST(certloop_pin_check(c, certificate_id, endpoint, name, &check));
  CHECK(strstr(check, "\"matches\":true") != NULL);
  char *served = json_field(check, "servedSha256");
  CHECK(fingerprint != NULL && served != NULL && strcmp(fingerprint, served) == 0);
  certloop_string_free(check);

  free(served);
  free(fingerprint);
  free(certificate_id);
  certloop_string_free(issued);
  free(order_id);
  certloop_free(c);
  return check_summary("acme_nginx");
}
