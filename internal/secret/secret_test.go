package secret

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func mustKey(t *testing.T) []byte {
	t.Helper()
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKeyRing(t *testing.T) {
	k1, k2 := mustKey(t), mustKey(t)
	old, _ := NewKeyRing(k1)
	ring, _ := NewKeyRing(k2, k1)
	ad := []byte("connection/1/2/abc")

	ct, err := old.Encrypt([]byte("s3cret"), ad)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ct, "v1:"+KeyID(k1)+":") || strings.Contains(ct, "s3cret") {
		t.Fatalf("ciphertext %q", ct)
	}
	// Random nonce: the same value never encrypts the same way twice.
	if ct2, _ := old.Encrypt([]byte("s3cret"), ad); ct2 == ct {
		t.Error("two encryptions are identical")
	}
	// Any key of the ring decrypts; the first encrypts.
	if pt, err := ring.Decrypt(ct, ad); err != nil || string(pt) != "s3cret" {
		t.Fatalf("ring decrypt: %q %v", pt, err)
	}
	if ct3, _ := ring.Encrypt([]byte("x"), ad); !strings.HasPrefix(ct3, "v1:"+KeyID(k2)+":") {
		t.Errorf("ring encrypted with %q", ct3)
	}
	// Wrong associated data (another row), tampering, unknown key, garbage.
	if _, err := ring.Decrypt(ct, []byte("connection/1/2/other")); !errors.Is(err, ErrDecrypt) {
		t.Errorf("other row: %v", err)
	}
	tampered := ct[:len(ct)-2] + "AA"
	if _, err := ring.Decrypt(tampered, ad); !errors.Is(err, ErrDecrypt) {
		t.Errorf("tampered: %v", err)
	}
	only2, _ := NewKeyRing(k2)
	if _, err := only2.Decrypt(ct, ad); !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), KeyID(k1)) {
		t.Errorf("unknown key: %v", err)
	}
	for _, bad := range []string{"", "v1", "v1::x", "v2:" + KeyID(k1) + ":AAAA", "v1:" + KeyID(k1) + ":!!!", "v1:" + KeyID(k1) + ":AAAA"} {
		if _, err := ring.Decrypt(bad, ad); err == nil {
			t.Errorf("decrypt(%q) succeeded", bad)
		}
	}
}

func TestNewKeyRingRejects(t *testing.T) {
	k := mustKey(t)
	for name, keys := range map[string][][]byte{"none": nil, "short": {k[:16]}, "twice": {k, k}} {
		if _, err := NewKeyRing(keys...); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestParseKeys(t *testing.T) {
	k1, k2 := mustKey(t), mustKey(t)
	keys, err := ParseKeys(" " + EncodeKey(k1) + " , " + strings.TrimRight(EncodeKey(k2), "=") + ",")
	if err != nil || len(keys) != 2 || !bytes.Equal(keys[0], k1) || !bytes.Equal(keys[1], k2) {
		t.Fatalf("ParseKeys = %v, %v", len(keys), err)
	}
	for _, bad := range []string{"", ",", "not base64!", EncodeKey(k1[:31])} {
		if _, err := ParseKeys(bad); err == nil {
			t.Errorf("ParseKeys(%q) accepted", bad)
		}
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := Secret("hunter2")
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "key", s)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %s %#v %+v", s, s, s, s), buf.String()} {
		if strings.Contains(out, "hunter2") {
			t.Errorf("secret printed: %s", out)
		}
	}
	if s.Reveal() != "hunter2" {
		t.Error("Reveal")
	}
}

func TestTokens(t *testing.T) {
	a, _ := RandomToken("p_")
	b, _ := RandomToken("p_")
	if a == b || len(a) != 2+64 || !strings.HasPrefix(a, "p_") {
		t.Errorf("tokens %q %q", a, b)
	}
	h := HashToken(a)
	if h == HashToken(b) || len(h) != 64 || h != HashToken(a) { // distinct, hex SHA-256, deterministic
		t.Error("HashToken")
	}
}

func BenchmarkDecrypt(b *testing.B) {
	k, _ := GenerateKey()
	r, _ := NewKeyRing(k)
	ct, _ := r.Encrypt([]byte(`{"type":"BASIC","username":"bot@serviceaccount.atlassian.com","password":"ATSTT3xFfGF0aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=0A1B2C3D"}`), []byte("connection/1/1/x"))
	for b.Loop() {
		if _, err := r.Decrypt(ct, []byte("connection/1/1/x")); err != nil {
			b.Fatal(err)
		}
	}
}
