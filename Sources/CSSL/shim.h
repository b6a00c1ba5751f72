// OpenSSL 3 (libssl-dev) for SkeinKube's HTTPS client.
//
// Several OpenSSL calls are function-like macros over SSL_ctrl/SSL_CTX_ctrl, which Swift cannot
// import: the small inline wrappers below give them real signatures.
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>
#include <openssl/bio.h>

// Initialise libssl without reading the host's openssl.cnf: a CNI binary must behave the same on
// every node, and the config could load engines or providers by dlopen (unsafe in a static binary).
static inline int skein_ssl_init(void) {
    return OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
}

// TLS 1.2 minimum (what the Kubernetes API server accepts), and a peer that closes without
// close_notify reads as end of stream rather than an error (the body's length is checked by HTTP).
static inline int skein_ssl_ctx_defaults(SSL_CTX *ctx) {
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
    return (int)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
}

static inline int skein_ssl_set_sni(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

static inline int skein_ssl_ctx_add_chain_cert(SSL_CTX *ctx, X509 *cert) {
    return (int)SSL_CTX_add1_chain_cert(ctx, cert);
}
