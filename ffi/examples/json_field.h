/*
 * json_field: read one top-level string field out of a certloop JSON response.
 *
 * A real program would use a JSON library (jansson, cJSON, json-c); this header keeps the
 * example and the tests free of extra dependencies. It finds the first `"key":"` in the text,
 * so it is only for objects whose key appears once (certloop's issue response, a record), and
 * it decodes the escapes a JSON encoder produces (\" \\ \/ \b \f \n \r \t \uXXXX).
 */
#ifndef CERTLOOP_JSON_FIELD_H
#define CERTLOOP_JSON_FIELD_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The value of string field `key`, malloc'd (free() it), or NULL when absent. */
static inline char *json_field(const char *json, const char *key) {
  size_t key_len = strlen(key);
  char *pattern = malloc(key_len + 5);
  if (pattern == NULL) return NULL;
  snprintf(pattern, key_len + 5, "\"%s\":\"", key);
  const char *start = strstr(json, pattern);
  free(pattern);
  if (start == NULL) return NULL;
  const char *p = start + key_len + 4;
  char *out = malloc(strlen(p) + 1), *o = out;
  if (out == NULL) return NULL;
  for (; *p != '\0' && *p != '"'; p++) {
    if (*p != '\\') { *o++ = *p; continue; }
    p++;
    switch (*p) {
      case 'n': *o++ = '\n'; break;
      case 'r': *o++ = '\r'; break;
      case 't': *o++ = '\t'; break;
      case 'b': *o++ = '\b'; break;
      case 'f': *o++ = '\f'; break;
      case 'u': {
        unsigned code = 0;
        if (sscanf(p + 1, "%4x", &code) != 1) { free(out); return NULL; }
        p += 4;
        if (code < 0x80) {
          *o++ = (char)code;
        } else if (code < 0x800) {
          *o++ = (char)(0xC0 | (code >> 6));
          *o++ = (char)(0x80 | (code & 0x3F));
        } else {
          *o++ = (char)(0xE0 | (code >> 12));
          *o++ = (char)(0x80 | ((code >> 6) & 0x3F));
          *o++ = (char)(0x80 | (code & 0x3F));
        }
        break;
      }
      case '\0': free(out); return NULL;
      default: *o++ = *p; break; /* \" \\ \/ */
    }
  }
  if (*p != '"') { free(out); return NULL; }
  *o = '\0';
  return out;
}

#endif
