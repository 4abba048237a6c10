// Package secret encrypts values at rest with AES-256-GCM under a key ring and
// provides the Secret type, which never prints its content.
//
// A ciphertext reads "v1:<keyid>:<base64(nonce|sealed)>". The key id names the
// key that sealed it, so a ring of several keys can decrypt old values while the
// first key encrypts new ones; that is what makes rotation possible. Callers pass
// the identity of the row a value belongs to as associated data, so a ciphertext
// copied onto another row fails to open instead of yielding another user's secret.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// Secret is a string that redacts itself when printed or logged.
type Secret string

// String implements fmt.Stringer without revealing the value.
func (Secret) String() string { return "[redacted]" }

// GoString keeps %#v from revealing the value.
func (Secret) GoString() string { return "[redacted]" }

// LogValue implements slog.LogValuer without revealing the value.
func (Secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// Reveal returns the value; call it only where the value must leave the process.
func (s Secret) Reveal() string { return string(s) }

// KeySize is the length of an AES-256 key in bytes.
const KeySize = 32

const version = "v1"

// ErrDecrypt is returned when a value cannot be opened: wrong key, tampering,
// or a ciphertext that belongs to another row.
var ErrDecrypt = errors.New("secret: cannot decrypt value")

// ErrUnknownKey is returned when a value was sealed by a key that is not in the ring.
var ErrUnknownKey = errors.New("secret: value was encrypted with a key that is not configured")

type ringKey struct {
	id   string
	aead cipher.AEAD
}

// KeyRing seals with its first key and opens with any of its keys.
type KeyRing struct {
	keys []ringKey
}

// NewKeyRing builds a ring from raw 32-byte keys; the first one encrypts.
func NewKeyRing(keys ...[]byte) (*KeyRing, error) {
	if len(keys) == 0 {
		return nil, errors.New("secret: at least one key is required")
	}
	r := &KeyRing{}
	seen := map[string]bool{}
	for i, k := range keys {
		if len(k) != KeySize {
			return nil, fmt.Errorf("secret: key %d is %d bytes, want %d", i+1, len(k), KeySize)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("secret: key %d: %w", i+1, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("secret: key %d: %w", i+1, err)
		}
		id := KeyID(k)
		if seen[id] {
			return nil, fmt.Errorf("secret: key %d is listed twice", i+1)
		}
		seen[id] = true
		r.keys = append(r.keys, ringKey{id: id, aead: aead})
	}
	return r, nil
}

// KeyID derives the short public identifier of a key. It reveals nothing useful
// about the key itself.
func KeyID(key []byte) string {
	sum := sha256.Sum256(append([]byte("latchkey-key-id:"), key...))
	return hex.EncodeToString(sum[:4])
}

// PrimaryKeyID is the id of the key that encrypts.
func (r *KeyRing) PrimaryKeyID() string { return r.keys[0].id }

// KeyIDs lists the ids of every key in the ring, primary first.
func (r *KeyRing) KeyIDs() []string {
	ids := make([]string, len(r.keys))
	for i, k := range r.keys {
		ids[i] = k.id
	}
	return ids
}

// Has reports whether the ring holds the key with this id.
func (r *KeyRing) Has(id string) bool {
	for _, k := range r.keys {
		if subtle.ConstantTimeCompare([]byte(k.id), []byte(id)) == 1 {
			return true
		}
	}
	return false
}

// Encrypt seals plaintext with the primary key, bound to associatedData.
func (r *KeyRing) Encrypt(plaintext, associatedData []byte) (string, error) {
	k := r.keys[0]
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("secret: nonce: %w", err)
	}
	sealed := k.aead.Seal(nonce, nonce, plaintext, associatedData)
	return version + ":" + k.id + ":" + base64.RawStdEncoding.EncodeToString(sealed), nil
}

// Decrypt opens a value produced by Encrypt with the same associatedData.
func (r *KeyRing) Decrypt(ciphertext string, associatedData []byte) ([]byte, error) {
	id, body, err := split(ciphertext)
	if err != nil {
		return nil, err
	}
	for _, k := range r.keys {
		if k.id != id {
			continue
		}
		raw, err := base64.RawStdEncoding.DecodeString(body)
		if err != nil || len(raw) < k.aead.NonceSize() {
			return nil, ErrDecrypt
		}
		n := k.aead.NonceSize()
		plain, err := k.aead.Open(nil, raw[:n], raw[n:], associatedData)
		if err != nil {
			return nil, ErrDecrypt
		}
		return plain, nil
	}
	return nil, fmt.Errorf("%w (key id %s)", ErrUnknownKey, id)
}

// CiphertextKeyID returns the id of the key that sealed a value.
func CiphertextKeyID(ciphertext string) (string, error) {
	id, _, err := split(ciphertext)
	return id, err
}

func split(ciphertext string) (id, body string, err error) {
	parts := strings.SplitN(ciphertext, ":", 3)
	if len(parts) != 3 || parts[0] != version || parts[1] == "" {
		return "", "", ErrDecrypt
	}
	return parts[1], parts[2], nil
}

// GenerateKey returns a new random 32-byte key.
func GenerateKey() ([]byte, error) {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("secret: generate key: %w", err)
	}
	return k, nil
}

// ParseKeys decodes a comma-separated list of base64 keys (standard or URL
// alphabet, padded or not), each exactly 32 bytes.
func ParseKeys(s string) ([][]byte, error) {
	var keys [][]byte
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, err := decodeBase64(part)
		if err != nil {
			return nil, fmt.Errorf("key %d is not valid base64", i+1)
		}
		if len(k) != KeySize {
			return nil, fmt.Errorf("key %d decodes to %d bytes, want %d (generate one with: openssl rand -base64 32)", i+1, len(k), KeySize)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("no key given")
	}
	return keys, nil
}

func decodeBase64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("invalid base64")
}

// EncodeKey is the canonical text form of a key.
func EncodeKey(k []byte) string { return base64.StdEncoding.EncodeToString(k) }

// RandomToken returns prefix followed by 64 lowercase hex characters (256 random bits).
func RandomToken(prefix string) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("secret: random token: %w", err)
	}
	return prefix + hex.EncodeToString(b), nil
}

// HashToken is the stored form of a high-entropy token: its SHA-256 digest in hex.
// A slow KDF adds nothing for 256-bit random values and would cost every request.
func HashToken(token string) string {
	var d TokenDigest
	HashTokenTo(&d, token)
	return string(d[:])
}

// TokenDigest is HashToken's result without a string of its own: a caller
// that only looks it up (every authenticated request does) allocates nothing.
type TokenDigest [2 * sha256.Size]byte

// HashTokenTo writes HashToken(token) into d.
func HashTokenTo(d *TokenDigest, token string) {
	var sum [sha256.Size]byte
	if buf := [128]byte{}; len(token) <= len(buf) {
		// Keys fit: hashed from the stack, not from a copy on the heap.
		sum = sha256.Sum256(buf[:copy(buf[:], token)])
	} else {
		sum = sha256.Sum256([]byte(token))
	}
	hex.Encode(d[:], sum[:])
}
