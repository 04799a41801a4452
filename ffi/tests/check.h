/* Assertions for the C tests: each failed check prints where and why, and the test exits 1. */
#ifndef CERTLOOP_TEST_CHECK_H
#define CERTLOOP_TEST_CHECK_H

#include <certloop.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../examples/json_field.h"

static int check_failures = 0;

#define CHECK(cond)                                                              \
  do {                                                                           \
    if (!(cond)) {                                                               \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
      check_failures++;                                                          \
    }                                                                            \
  } while (0)

/* The thread's last certloop error message, in a static buffer. */
static inline const char *last_error(void) {
  static char message[4096];
  size_t needed = 0;
  if (certloop_error_message(message, sizeof message, &needed) != CERTLOOP_RESULT_OK) {
    snprintf(message, sizeof message, "(message of %zu bytes does not fit)", needed);
  }
  return message;
}

/* A call that must succeed; on failure print the error and stop (later steps depend on it). */
#define MUST(call)                                                                       \
  do {                                                                                   \
    certloop_result must_result_ = (call);                                               \
    if (must_result_ != CERTLOOP_RESULT_OK) {                                            \
      fprintf(stderr, "%s:%d: %s returned %u: %s\n", __FILE__, __LINE__, #call,         \
              (unsigned)must_result_, last_error());                                     \
      exit(1);                                                                           \
    }                                                                                    \
  } while (0)

/* A call that must fail with `code` and a message containing `text`. */
#define MUST_FAIL(call, code, text)                                                      \
  do {                                                                                   \
    certloop_result fail_result_ = (call);                                               \
    if (fail_result_ != (code)) {                                                        \
      fprintf(stderr, "%s:%d: %s returned %u, expected %s (%u): %s\n", __FILE__,         \
              __LINE__, #call, (unsigned)fail_result_, #code, (unsigned)(code),          \
              fail_result_ == CERTLOOP_RESULT_OK ? "" : last_error());                   \
      check_failures++;                                                                  \
    } else if (strstr(last_error(), (text)) == NULL) {                                   \
      fprintf(stderr, "%s:%d: %s: message \"%s\" lacks \"%s\"\n", __FILE__, __LINE__,   \
              #call, last_error(), (text));                                              \
      check_failures++;                                                                  \
    }                                                                                    \
  } while (0)

/* Whether `json` has string field `key`. */
static inline int has_field(const char *json, const char *key) {
  char *value = json_field(json, key);
  free(value);
  return value != NULL;
}

/* Count non-overlapping occurrences of `needle` in `haystack`. */
static inline int count_of(const char *haystack, const char *needle) {
  int n = 0;
  for (const char *p = strstr(haystack, needle); p != NULL; p = strstr(p + strlen(needle), needle))
    n++;
  return n;
}

/* Write `text` to DIR/NAME. */
static inline void write_file(const char *dir, const char *name, const char *text) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
    perror(path);
    exit(1);
  }
}

/* Write string field `field` of `json` to DIR/NAME. */
static inline void write_field_file(const char *json, const char *field, const char *dir,
                             const char *name) {
  char *value = json_field(json, field);
  if (value == NULL) {
    fprintf(stderr, "no \"%s\" in %.200s\n", field, json);
    exit(1);
  }
  write_file(dir, name, value);
  free(value);
}

/* Read DIR/NAME into a malloc'd string. */
static inline char *read_file(const char *dir, const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    perror(path);
    exit(1);
  }
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *text = malloc((size_t)size + 1);
  if (text == NULL || fread(text, 1, (size_t)size, f) != (size_t)size) exit(1);
  text[size] = '\0';
  fclose(f);
  return text;
}

static inline int check_summary(const char *name) {
  if (check_failures != 0) {
    fprintf(stderr, "%s: %d check(s) failed\n", name, check_failures);
    return 1;
  }
  printf("%s: all checks passed\n", name);
  return 0;
}

/* ---- helpers of the lifecycle tests (deploy.c, managed.c, discovery.c) ---------------- */

/* An output pointer value that a failed call must leave untouched. */
#ifndef SENTINEL
#define SENTINEL ((char *)0x5a5a)
#endif

/* DIR/NAME in a static ring of buffers (several may be live in one expression). */
static inline const char *path_in(const char *dir, const char *name) {
  static char paths[8][4096];
  static int next = 0;
  char *path = paths[next++ % 8];
  snprintf(path, 4096, "%s/%s", dir, name);
  return path;
}

/* The permission bits of a file, or -1 when it is missing. */
static inline int mode_of(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (int)(st.st_mode & 0777) : -1;
}

/* The last error's detail JSON, malloc'd by certloop (free with certloop_string_free). */
static inline char *last_detail(void) {
  char *detail = NULL;
  MUST(certloop_error_detail(&detail));
  return detail;
}

/* Issue a certificate for `cn` from the default profile; `manage_key` keeps its key sealed.
 * Returns the whole response (free with certloop_string_free). */
static inline char *issue(certloop_t *c, const char *cn, int manage_key) {
  char request[512];
  snprintf(request, sizeof request,
           "{\"attributes\": {\"commonName\": \"%s\", \"altNames\": [{\"type\": \"DNS\", \"value\":"
           " \"%s\"}]}, \"manageKey\": %s}",
           cn, cn, manage_key ? "true" : "false");
  char *response = NULL;
  MUST(certloop_issue(c, request, &response));
  return response;
}

#endif
