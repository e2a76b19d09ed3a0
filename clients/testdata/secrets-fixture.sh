#!/usr/bin/env bash
# The fixture the three clients' secret tests share, made at test time in
# DIR (argument 1) with the openssl CLI: an RSA-2048 credential whose key is
# encrypted under a random passphrase (file source), export allowed; a shared
# secret (shared.txt) encrypted to its certificate and configured as
# `shared_secrets.api`; a second random plaintext (plain.bin) and its OAEP
# ciphertext (plain.ct) for DecryptSecret; and DIR/agent.toml using them.
# The credential is named "secrets".
set -euo pipefail
d=$(cd "$1" && pwd)
umask 077
printf %s "$(openssl rand -hex 24)" > "$d/pass"
openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
  -aes-256-cbc -pass "file:$d/pass" -out "$d/key.pem"
openssl req -new -x509 -key "$d/key.pem" -passin "file:$d/pass" \
  -subj /CN=client-secrets -days 400 -out "$d/cert.pem" 2>/dev/null
oaep=(-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256)
printf %s "shared-$(openssl rand -hex 16)" > "$d/shared.txt"
openssl pkeyutl -encrypt -certin -inkey "$d/cert.pem" "${oaep[@]}" \
  -in "$d/shared.txt" -out "$d/shared.ct"
openssl rand -out "$d/plain.bin" 32
openssl pkeyutl -encrypt -certin -inkey "$d/cert.pem" "${oaep[@]}" \
  -in "$d/plain.bin" -out "$d/plain.ct"
cat > "$d/agent.toml" <<TOML
[agent]
watch_files = false

[credentials.secrets]
client_id = "secrets-client"
issuer = "https://as.secrets.fapi-agent.invalid"
key = "$d/key.pem"
certificate = "$d/cert.pem"
passphrase = { source = "file", path = "$d/pass" }
export = true
decrypt_paddings = ["oaep-sha256"]

[credentials.secrets.shared_secrets.api]
file = "$d/shared.ct"
padding = "oaep-sha256"
TOML
