package config

import (
	"math"
	"strings"
	"unicode"
)

// MinSecretKeyBits is the strength an operator-chosen LATCHKEY_SECRET_KEY needs
// by EstimateEntropy.
const MinSecretKeyBits = 100

// SecretKeyEstimateDoc explains EstimateEntropy to operators (serve --help and
// the README).
const SecretKeyEstimateDoc = "How latchkey estimates a chosen `LATCHKEY_SECRET_KEY`'s strength: common words\n" +
	"(password, secret, latchkey, changeme, …) and every repeat of an earlier run of\n" +
	"3 or more characters count for nothing; every other character counts log2 of the\n" +
	"alphabet the key draws on (lowercase 26, uppercase 26, digits 10, others 33), or\n" +
	"2 bits if the key is letters of one case only (it reads like words). The key\n" +
	"needs 100 bits: `openssl rand -hex 32` gives about 330."

// commonWords are removed before counting: they are the first thing guessed.
var commonWords = []string{"password", "passw0rd", "secret", "latchkey", "changeme", "letmein", "welcome",
	"qwerty", "azerty", "admin", "default", "example", "test"}

// EstimateEntropy is a deliberately simple, documented (SecretKeyEstimateDoc)
// estimate of a chosen key's strength in bits. It is no substitute for a random
// key; it catches the keys people type: one repeated character, a phrase, a
// word padded to length.
func EstimateEntropy(key string) float64 {
	lower, upper, digit, other := false, false, false, false
	for _, r := range key {
		switch {
		case r >= 'a' && r <= 'z':
			lower = true
		case r >= 'A' && r <= 'Z':
			upper = true
		case r >= '0' && r <= '9':
			digit = true
		case unicode.IsSpace(r):
		default:
			other = true
		}
	}
	perChar := 0.0
	if (lower != upper) && !digit && !other {
		perChar = 2 // one-case letters: words
	} else {
		alphabet := 0
		for _, c := range []struct {
			used bool
			size int
		}{{lower, 26}, {upper, 26}, {digit, 10}, {other, 33}} {
			if c.used {
				alphabet += c.size
			}
		}
		if alphabet > 1 {
			perChar = math.Log2(float64(alphabet))
		}
	}
	s := []rune(strings.ToLower(key))
	for _, w := range commonWords {
		s = []rune(strings.ReplaceAll(string(s), w, ""))
	}
	return float64(novelRunes(s)) * perChar
}

// novelRunes counts the characters of s that do not belong to a repeat (3 or
// more characters long) of an earlier stretch of s; a repeat may overlap the
// stretch it copies, so "aaaaaaaa" has one novel character.
func novelRunes(s []rune) int {
	n := 0
	for i := 0; i < len(s); {
		longest := 0
		for j := 0; j < i; j++ {
			l := 0
			for i+l < len(s) && s[j+l] == s[i+l] {
				l++
			}
			longest = max(longest, l)
		}
		if longest >= 3 {
			i += longest
			continue
		}
		n++
		i++
	}
	return n
}
