/*
 * Issue a TLS server certificate from certloop's embedded CA and write it as PEM files.
 *
 *   usage: issue COMMON_NAME OUT_DIR
 *
 * Writes OUT_DIR/cert.pem, OUT_DIR/chain.pem (issuing CA + root) and OUT_DIR/key.pem (0600),
 * so that `openssl verify -CAfile OUT_DIR/chain.pem OUT_DIR/cert.pem` checks the result.
 * The state lives in memory: a real deployment uses certloop_open("/var/lib/...").
 */
#include <certloop.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json_field.h"

/* Print the last certloop error and exit. */
static void die(const char *what, certloop_result result) {
  char message[1024];
  size_t needed = 0;
  if (certloop_error_message(message, sizeof message, &needed) != CERTLOOP_RESULT_OK) {
    snprintf(message, sizeof message, "(message of %zu bytes does not fit)", needed);
  }
  fprintf(stderr, "%s failed (%u): %s\n", what, (unsigned)result, message);
  exit(1);
}

/* Write `field` of `json` into DIR/NAME with `mode`. */
static void write_field(const char *json, const char *field, const char *dir, const char *name,
                        mode_t mode) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  char *value = json_field(json, field);
  if (value == NULL) {
    fprintf(stderr, "response has no %s\n", field);
    exit(1);
  }
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
  size_t len = strlen(value);
  if (fd < 0 || write(fd, value, len) != (ssize_t)len || close(fd) != 0) {
    perror(path);
    exit(1);
  }
  memset(value, 0, len); /* it may be the private key */
  free(value);
  printf("wrote %s\n", path);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s COMMON_NAME OUT_DIR\n", argv[0]);
    return 2;
  }
  certloop_t *certloop = NULL;
  certloop_result result = certloop_in_memory(&certloop);
  if (result != CERTLOOP_RESULT_OK) die("certloop_in_memory", result);
  result = certloop_init_default(certloop);
  if (result != CERTLOOP_RESULT_OK) die("certloop_init_default", result);

  char request[512];
  snprintf(request, sizeof request,
           "{\"attributes\": {\"commonName\": \"%s\", \"ttl\": \"90d\","
           " \"altNames\": [{\"type\": \"DNS\", \"value\": \"%s\"}]}}",
           argv[1], argv[1]);
  char *response = NULL;
  result = certloop_issue(certloop, request, &response);
  if (result != CERTLOOP_RESULT_OK) die("certloop_issue", result);

  write_field(response, "certificate", argv[2], "cert.pem", 0644);
  write_field(response, "certificateChain", argv[2], "chain.pem", 0644);
  write_field(response, "privateKey", argv[2], "key.pem", 0600);
  char *id = json_field(response, "certificateId");
  printf("certloop %s issued certificate %s\n", certloop_version(), id ? id : "?");
  free(id);

  certloop_string_free(response); /* zeroes the private key */
  certloop_free(certloop);
  return 0;
}
