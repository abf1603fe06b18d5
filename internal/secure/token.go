package secure

import (
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"math"
	"strings"
	"unicode"
)

// TokenBits is the entropy of a token made by NewToken, in bits.
const TokenBits = 125

// tokenEncoding spells a token in lower-case letters and the digits 2-7
// (RFC 4648 base32): nothing to confuse when it is read out or retyped,
// and nothing a shell treats specially.
var tokenEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewToken returns a random token of TokenBits bits, as five groups of five
// characters joined by dashes (29 characters, such as
// "k3fzq-7bma2-..."), for a listening end started without one. It is
// strong enough that no offline guessing of a captured proof can find it,
// which is what a short human code would need a PAKE for.
func NewToken() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24)
	s := tokenEncoding.EncodeToString(b[:])[:25]
	return s[0:5] + "-" + s[5:10] + "-" + s[10:15] + "-" + s[15:20] + "-" + s[20:25]
}

// MinTokenBits is the estimate below which Weak warns about a token: at a
// billion guesses a second (one GPU computing HMAC-SHA256), 2^80 guesses
// take tens of millions of years, 2^56 a few years of one GPU, or days
// of a rented cluster.
const MinTokenBits = 80

// Strength estimates the entropy of a token a user chose, in bits, as if
// each character were drawn at random from the classes it uses (lower
// case, upper case, digits, other ASCII, other Unicode): an upper bound for
// words and names, which are far weaker than their letters suggest. A
// token made by NewToken is judged at TokenBits.
func Strength(token string) float64 {
	if isNewToken(token) {
		return TokenBits
	}
	var lower, upper, digit, punct, other bool
	n := 0
	for _, r := range token {
		n++
		switch {
		case r >= 'a' && r <= 'z':
			lower = true
		case r >= 'A' && r <= 'Z':
			upper = true
		case r >= '0' && r <= '9':
			digit = true
		case r < 0x80 && unicode.IsPrint(r):
			punct = true
		default:
			other = true
		}
	}
	alphabet := 0
	for _, c := range []struct {
		used bool
		size int
	}{{lower, 26}, {upper, 26}, {digit, 10}, {punct, 33}, {other, 1000}} {
		if c.used {
			alphabet += c.size
		}
	}
	if n == 0 {
		return 0
	}
	return float64(n) * math.Log2(float64(alphabet))
}

// isNewToken reports whether token has NewToken's shape.
func isNewToken(token string) bool {
	groups := strings.Split(token, "-")
	if len(groups) != 5 {
		return false
	}
	for _, g := range groups {
		if len(g) != 5 {
			return false
		}
		if _, err := tokenEncoding.DecodeString(g + "aaa"); err != nil { // 8 characters decode whole
			return false
		}
	}
	return true
}

// Weak returns a warning for a token whose Strength is below MinTokenBits,
// saying why that matters, or "" for a token strong enough. plaintext
// says whether the transfer is unencrypted, where anyone who can watch the
// connection captures a proof; under TLS only a man in the middle can.
func Weak(token string, plaintext bool) string {
	bits := Strength(token)
	if bits >= MinTokenBits {
		return ""
	}
	who := "anyone who can put themselves in the middle of the connection can capture one proof of it"
	if plaintext {
		who = "anyone who can watch the connection (it is --plaintext) can capture one proof of it"
	}
	return fmt.Sprintf("the token is weak (at most about %.0f bits; %d wanted): %s and guess it offline, at billions of guesses a second, then connect as a trusted peer. Leave --token out on the listening side and zcopy makes a strong one, or use at least 16 random letters and digits", bits, MinTokenBits, who)
}
