package sites

import (
	"errors"
	"time"

	"github.com/meridian-gslb/meridian/gslb"
)

// State transfer.
//
// A state can be tens of megabytes, far beyond a gossip packet and
// memberlist's 20 MB stream messages, so it never travels by gossip: a
// node that hears of a newer version dials the holder's gossip port over
// TCP and fetches it. The gossip port's TCP listener is shared with
// memberlist: muxTransport reads the first byte of every accepted
// connection and keeps those starting with streamMagic (a value no
// memberlist stream starts with) for serveTransfer; the rest go to
// memberlist untouched. One port to open between sites, one address per
// node.
//
// memberlist's own stream encryption covers only its own messages, so the
// transfer has its own, keyed by the same keyring:
//
//	client -> server: magic, version, flags, 32-byte client nonce,
//	                  request length and JSON request (version and hash
//	                  wanted, and the one held as a delta's base),
//	                  HMAC-SHA256 over all of it with the client's
//	                  primary key.
//	server -> client: status byte; when OK, a 32-byte server nonce, then
//	                  frames.
//
// The server accepts the request if the HMAC verifies under any installed
// key (so rotation works as for gossip) and answers with frames sealed by
// AES-256-GCM under a session key, HMAC-SHA256(key, label, both nonces):
// unique per transfer, so the frame counter is a safe nonce. Each frame
// carries a flag byte inside the seal; the last is marked final, so a cut
// stream is an error, and the counter makes reordering one. A node
// without the key can neither ask (the HMAC fails) nor answer (the frames
// fail to open). Without keys (Insecure) the same frames travel in the
// clear.
//
// Independently of the channel, the fetched bytes (or the state a
// fetched delta makes, delta.go) must hash to the announced SHA-256 and
// decode to the announced version, so a buggy or stale holder cannot
// hand over the wrong state either.

const (
	streamMagic byte = 0xD7

	transferV1 byte = 1
	flagKeyed  byte = 1

	statusOK         byte = 0
	statusBadKey     byte = 1 // keyed request that no installed key verifies
	statusNeedKey    byte = 2 // this node has keys; the request had none
	statusNoKeys     byte = 3 // this node has no keys; the request had one
	statusBusy       byte = 4
	statusBadRequest byte = 5

	frameFinal byte = 1

	frameData   = 64 << 10 // plaintext bytes per frame
	maxFrame    = frameData + 1 + 16
	maxRequest  = 4 << 10
	maxHeader   = 64 << 10
	maxServing  = 32 // concurrent transfers served; more are told busy
	nonceLen    = 32
	requestHead = 1 + 1 + 1 + nonceLen + 2 // magic, version, flags, nonce, length

	labelRequest = "meridian sites state request v1\x00"
	labelSession = "meridian sites state session v1\x00"
)

var (
	// errBadContent: the bytes are the announced ones, but this build
	// refuses them (decoding or validation failed).
	errBadContent = errors.New("state refused")
	errSHA        = errors.New("sha256 mismatch: the holder sent other bytes than announced")
	errTampered   = errors.New("frame failed authentication: the stream was altered, or the holder's key differs")
	errBusy       = errors.New("the holder is busy serving other transfers")
)

// goneError: the holder no longer has the state asked for; have is what
// it holds instead.
type goneError struct{ have announcement }

func (e *goneError) Error() string { return "the holder no longer has that state" }

type transferRequest struct {
	Term uint64 `json:"t"`
	Gen  uint64 `json:"g"`
	SHA  string `json:"h"`
	Node string `json:"node"`
	// The state the requester holds, when it can take a delta from it
	// (delta.go). Older holders ignore these fields and send it all.
	BaseTerm uint64 `json:"bt,omitempty"`
	BaseGen  uint64 `json:"bg,omitempty"`
	BaseSHA  string `json:"bh,omitempty"`
}

type transferHeader struct {
	OK    bool     `json:"ok"` // false: the state asked for is not held; State is what is
	State *wireAnn `json:"state,omitempty"`
	Bytes int64    `json:"bytes,omitempty"` // compressed bytes that follow
	// Delta, when set, says the bytes are a delta from the requester's
	// base, not the whole state.
	Delta *wireDelta `json:"delta,omitempty"`
}

// fetched is a verified state from a transfer.
type fetched struct {
	ann  announcement
	gz   []byte
	raw  []byte
	st   *gslb.State
	wire int64
	took time.Duration
	// delta is set when the state was made from a delta (kept, to serve
	// it on).
	delta *heldDelta
}

// kind is "delta" or "full", for metrics and logs.
func (f *fetched) kind() string {
	if f.delta != nil {
		return "delta"
	}
	return "full"
}

func transferResult(err error) string {
	var gone *goneError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &gone):
		return "gone"
	case errors.Is(err, ErrKeyMismatch), errors.Is(err, errTampered):
		return "auth"
	case errors.Is(err, errSHA):
		return "sha256"
	case errors.Is(err, errBadContent):
		return "refused"
	case errors.Is(err, errBusy):
		return "busy"
	case errors.Is(err, errDelta):
		return "delta"
	default:
		return "error"
	}
}
