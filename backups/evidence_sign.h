#pragma once
// Ed25519 signing of evidence (OpenSSL EVP_PKEY_ED25519), internal to backups/.

#include <string>
#include <string_view>

namespace goodcop::backups {

// A signature and the signer's public key.
struct Signed {
  std::string signature_hex;  // 64 bytes as hex
  std::string public_key_pem;
  std::string public_key_sha256;  // of the DER SubjectPublicKeyInfo
};

// Signs msg with the PEM Ed25519 private key at key_path. Throws Error.
Signed ed25519_sign(const std::string& key_path, std::string_view msg);

// True when signature_hex is a valid Ed25519 signature of msg by public_key_pem.
// Throws Error when the key cannot be parsed or is not Ed25519.
bool ed25519_verify(const std::string& public_key_pem, std::string_view msg,
                    const std::string& signature_hex);

// The SHA-256 of the DER form of a PEM public key.
std::string public_key_fingerprint(const std::string& public_key_pem);

}  // namespace goodcop::backups
