#include "backups/evidence_sign.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>
#include <vector>

#include "backups/archive.h"
#include "base/error.h"
#include "base/fd.h"

namespace goodcop::backups {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
struct BioFree {
  void operator()(BIO* b) const noexcept { BIO_free(b); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Bio = std::unique_ptr<BIO, BioFree>;

Pkey public_from_pem(const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) throw Error("signature: out of memory");
  Pkey k(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!k) throw Error("signature: cannot parse the public key");
  if (EVP_PKEY_get_id(k.get()) != EVP_PKEY_ED25519)
    throw Error("signature: the public key is not an Ed25519 key");
  return k;
}

std::string to_hex(const unsigned char* p, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s += d[p[i] >> 4];
    s += d[p[i] & 15];
  }
  return s;
}

bool from_hex(const std::string& h, std::vector<unsigned char>* out) {
  if (h.size() % 2 != 0) return false;
  auto v = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < h.size(); i += 2) {
    int a = v(h[i]), b = v(h[i + 1]);
    if (a < 0 || b < 0) return false;
    out->push_back(static_cast<unsigned char>(a * 16 + b));
  }
  return true;
}

}  // namespace

std::string public_key_fingerprint(const std::string& public_key_pem) {
  Pkey k = public_from_pem(public_key_pem);
  unsigned char* der = nullptr;
  int n = i2d_PUBKEY(k.get(), &der);
  if (n <= 0) throw Error("signature: cannot encode the public key");
  std::string fp = sha256_hex(std::string_view(reinterpret_cast<char*>(der), static_cast<size_t>(n)));
  OPENSSL_free(der);
  return fp;
}

Signed ed25519_sign(const std::string& key_path, std::string_view msg) {
  std::string pem = read_file(key_path, 64 * 1024);
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) throw Error("signature: out of memory");
  Pkey k(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!k) throw Error("signing key '" + key_path + "': not a PEM private key");
  if (EVP_PKEY_get_id(k.get()) != EVP_PKEY_ED25519)
    throw Error("signing key '" + key_path + "': not an Ed25519 key");
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  unsigned char sig[64];
  size_t len = sizeof sig;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, k.get()) != 1 ||
      EVP_DigestSign(ctx.get(), sig, &len, reinterpret_cast<const unsigned char*>(msg.data()),
                     msg.size()) != 1)
    throw Error("signing key '" + key_path + "': signing failed");
  Signed s;
  s.signature_hex = to_hex(sig, len);
  Bio out(BIO_new(BIO_s_mem()));
  if (!out || PEM_write_bio_PUBKEY(out.get(), k.get()) != 1)
    throw Error("signing key '" + key_path + "': cannot export the public key");
  char* data = nullptr;
  long n = BIO_get_mem_data(out.get(), &data);
  s.public_key_pem.assign(data, static_cast<size_t>(n));
  s.public_key_sha256 = public_key_fingerprint(s.public_key_pem);
  return s;
}

bool ed25519_verify(const std::string& public_key_pem, std::string_view msg,
                    const std::string& signature_hex) {
  Pkey k = public_from_pem(public_key_pem);
  std::vector<unsigned char> sig;
  if (!from_hex(signature_hex, &sig) || sig.size() != 64) return false;
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, k.get()) != 1)
    throw Error("signature: cannot initialise verification");
  return EVP_DigestVerify(ctx.get(), sig.data(), sig.size(),
                          reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) == 1;
}

}  // namespace goodcop::backups
