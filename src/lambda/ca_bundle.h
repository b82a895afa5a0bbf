// TLS trust on Amazon Linux 2023. Debian's libcurl, which the Lambda package
// bundles, looks for CA certificates at its build-time default
// /etc/ssl/certs/ca-certificates.crt; AL2023 keeps them at
// /etc/pki/tls/certs/ca-bundle.crt, and libcurl ignores SSL_CERT_FILE. So
// every transfer of this process (the exchange client, the S3 store, the
// Runtime API client) gets CURLOPT_CAINFO set just before it runs:
//   1. $SSL_CERT_FILE if set (as OpenSSL and the curl tool honour it);
//   2. else libcurl's own default if that file exists (Debian: no change);
//   3. else the first of the AL2023/RHEL and other usual bundle paths that exists.
// It is done by interposing curl_easy_perform in the executable (the clients
// live in parts this one does not own; see docs/aws.md); the real function is
// found with dlsym(RTLD_NEXT). Thread-safe.
#pragma once

#include <string>

namespace tradelake {

// The CA bundle the rules above choose ("" = leave libcurl's default alone).
// Reads the environment and the file system on every call.
std::string ChooseCaBundle();

// Keeps the interposer linked into a binary that calls it (a no-op).
void LinkCaBundleInterposer();

}  // namespace tradelake
