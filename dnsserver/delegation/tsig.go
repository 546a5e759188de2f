package delegation

import "github.com/meridian-gslb/meridian/dnsserver"

// TSIG is the key that signs the updates: the server's TSIG key type, so
// that its rules (algorithms, the secret file, printing without the
// secret) are defined once, in dnsserver.
type TSIG = dnsserver.TSIGKey
