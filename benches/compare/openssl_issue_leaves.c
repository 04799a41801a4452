/* Issue N P-256 leaves with the OpenSSL 3 C library (fresh key each, signed by a P-256
 * intermediate), the same profile certloop issues, and print the loop's CPU time as JSON.
 * Each leaf and its key are PEM-encoded into memory, as a caller would receive them.
 *
 * Build: cc -O2 -o openssl_issue_leaves openssl_issue_leaves.c -lcrypto
 * Usage: openssl_issue_leaves COUNT OUT_DIR
 */
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static void die(const char *what) {
    fprintf(stderr, "openssl_issue_leaves: %s\n", what);
    ERR_print_errors_fp(stderr);
    exit(1);
}

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value) {
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext || !X509_add_ext(cert, ext, -1)) die(value);
    X509_EXTENSION_free(ext);
}

/* A certificate for `key` named `cn`, signed by `issuer_key` (issuer NULL: self-signed). */
static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
                       long days, int is_ca, const char *san) {
    X509 *cert = X509_new();
    if (!cert) die("X509_new");
    X509_set_version(cert, X509_VERSION_3);
    BIGNUM *bn = BN_new();
    if (!bn || !BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY)) die("serial");
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
    BN_free(bn);
    X509_NAME *name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_time_adj_ex(X509_getm_notAfter(cert), days, 0, NULL);
    if (!X509_set_pubkey(cert, key)) die("X509_set_pubkey");
    X509 *signer = issuer ? issuer : cert;
    if (is_ca) {
        add_ext(cert, signer, NID_basic_constraints, issuer ? "critical,CA:TRUE,pathlen:0" : "critical,CA:TRUE");
        add_ext(cert, signer, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
    } else {
        add_ext(cert, signer, NID_basic_constraints, "critical,CA:FALSE");
        add_ext(cert, signer, NID_key_usage, "critical,digitalSignature");
        add_ext(cert, signer, NID_ext_key_usage, "serverAuth");
        add_ext(cert, signer, NID_subject_alt_name, san);
    }
    add_ext(cert, signer, NID_subject_key_identifier, "hash");
    if (issuer) add_ext(cert, signer, NID_authority_key_identifier, "keyid:always");
    if (!X509_sign(cert, issuer_key, EVP_sha256())) die("X509_sign");
    return cert;
}

static void write_file(const char *dir, const char *file, const char *data, long len, int mode) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "wb");
    if (!f) die(path);
    chmod(path, mode);
    fwrite(data, 1, (size_t)len, f);
    fclose(f);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: openssl_issue_leaves COUNT OUT_DIR\n");
        return 2;
    }
    long count = strtol(argv[1], NULL, 10);
    if (count < 1) die("COUNT must be at least 1");
    EVP_PKEY *root_key = EVP_EC_gen("P-256");
    EVP_PKEY *int_key = EVP_EC_gen("P-256");
    if (!root_key || !int_key) die("CA keys");
    X509 *root = make_cert("openssl bench Root CA", root_key, NULL, root_key, 3650, 1, NULL);
    X509 *inter = make_cert("openssl bench Issuing CA", int_key, root, root_key, 1825, 1, NULL);

    char *cert_pem = NULL, *key_pem = NULL;
    long cert_len = 0, key_len = 0;
    BIO *cert_bio = NULL, *key_bio = NULL;
    struct timespec c0, c1, w0, w1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    clock_gettime(CLOCK_MONOTONIC, &w0);
    for (long i = 0; i < count; i++) {
        char cn[64], san[80];
        snprintf(cn, sizeof cn, "host-%ld.bench.internal", i);
        snprintf(san, sizeof san, "DNS:%s", cn);
        EVP_PKEY *key = EVP_EC_gen("P-256");
        if (!key) die("EVP_EC_gen");
        X509 *leaf = make_cert(cn, key, inter, int_key, 90, 0, san);
        BIO_free(cert_bio);
        BIO_free(key_bio);
        cert_bio = BIO_new(BIO_s_mem());
        key_bio = BIO_new(BIO_s_mem());
        if (!PEM_write_bio_X509(cert_bio, leaf)) die("PEM_write_bio_X509");
        if (!PEM_write_bio_PrivateKey(key_bio, key, NULL, NULL, 0, NULL, NULL)) die("PEM key");
        cert_len = BIO_get_mem_data(cert_bio, &cert_pem);
        key_len = BIO_get_mem_data(key_bio, &key_pem);
        X509_free(leaf);
        EVP_PKEY_free(key);
    }
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    clock_gettime(CLOCK_MONOTONIC, &w1);

    const char *out = argv[2];
    mkdir(out, 0755);
    write_file(out, "cert.pem", cert_pem, cert_len, 0644);
    write_file(out, "key.pem", key_pem, key_len, 0600);
    BIO *chain = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(chain, inter);
    PEM_write_bio_X509(chain, root);
    char *chain_pem = NULL;
    long chain_len = BIO_get_mem_data(chain, &chain_pem);
    write_file(out, "chain.pem", chain_pem, chain_len, 0644);
    printf("{\"peer\": \"%s (C library)\", \"leaves\": %ld, \"cpu_seconds\": %.6f, "
           "\"wall_seconds\": %.6f}\n",
           OpenSSL_version(OPENSSL_VERSION), count,
           (double)(c1.tv_sec - c0.tv_sec) + (c1.tv_nsec - c0.tv_nsec) / 1e9,
           (double)(w1.tv_sec - w0.tv_sec) + (w1.tv_nsec - w0.tv_nsec) / 1e9);
    return 0;
}
