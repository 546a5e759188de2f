package delegation

import (
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/miekg/dns"
)

// Algorithms are the TSIG algorithms an update may be signed with, the
// full-length HMAC-SHA2 ones of RFC 8945 section 6 (hmac-sha256 is the one
// every implementation must have). HMAC-MD5 and HMAC-SHA1 are refused:
// section 6 says MD5 must not be used and SHA-1 is not recommended.
var Algorithms = []string{"hmac-sha256", "hmac-sha384", "hmac-sha512"}

// DefaultAlgorithm is the algorithm when none is given.
const DefaultAlgorithm = "hmac-sha256"

// TSIG is a shared key (RFC 8945). It prints without its secret: %v of a
// TSIG, or of anything holding one, never shows the secret.
type TSIG struct {
	Name      string // key name, as the parent's server knows it
	Algorithm string // one of Algorithms
	Secret    string // base64, as tsig-keygen and keymgr print it
}

func (k TSIG) String() string { return fmt.Sprintf("%s (%s)", canonical(k.Name), k.Algorithm) }

// GoString keeps %#v from printing the secret too.
func (k TSIG) GoString() string { return "delegation.TSIG{" + k.String() + "}" }

// algorithm is miekg/dns's name of the key's algorithm.
func (k TSIG) algorithm() string { return dns.Fqdn(k.Algorithm) }

// ParseAlgorithm returns the canonical name of a TSIG algorithm ("" is
// DefaultAlgorithm), or an error listing the allowed ones.
func ParseAlgorithm(s string) (string, error) {
	a := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".")
	if a == "" {
		return DefaultAlgorithm, nil
	}
	for _, ok := range Algorithms {
		if a == ok {
			return a, nil
		}
	}
	return "", fmt.Errorf("unknown TSIG algorithm %q (want one of %s)", s, strings.Join(Algorithms, ", "))
}

// secretLine finds the secret in the files the usual tools print: BIND's
// `tsig-keygen` (secret "..."; inside a key clause) and Knot's `keymgr -t`
// (secret: ... in a YAML key list).
var secretLine = regexp.MustCompile(`(?m)\bsecret\s*:?\s*"?([A-Za-z0-9+/=]+)"?`)

// ErrNoSecret is ParseSecret's error for a file without a base64 secret.
// It never quotes the file: the text may be the secret, mistyped.
var ErrNoSecret = errors.New("no base64 TSIG secret in it (want the secret alone, or the output of tsig-keygen or keymgr -t)")

// ParseSecret returns the base64 secret of a key file's text: the secret
// alone on a line, or the output of `tsig-keygen NAME` or `keymgr -t NAME`
// (whose key name and algorithm are ignored: the configuration gives
// them). The secret must decode and be at least 16 bytes: RFC 2104
// section 3 discourages HMAC keys shorter than the hash output (32 bytes
// for SHA-256, what tsig-keygen makes); 16 is the floor kept here, against
// a truncated file.
func ParseSecret(text string) (string, error) {
	s := strings.TrimSpace(text)
	if m := secretLine.FindStringSubmatch(s); m != nil {
		s = m[1]
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || s == "" {
		return "", ErrNoSecret
	}
	if len(b) < 16 {
		return "", fmt.Errorf("the TSIG secret is %d bytes; use at least 16 (tsig-keygen makes 32)", len(b))
	}
	return s, nil
}
