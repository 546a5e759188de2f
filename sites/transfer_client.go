package sites

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/meridian-gslb/meridian/gslb"
)

// fetch asks the node at addr for want and verifies what comes back.
// base, when set, is the state this node holds: what is fetched is
// judged only where it differs from it, and with askDelta the holder may
// answer with a delta from it (delta.go).
func (n *Node) fetch(ctx context.Context, addr string, want announcement, base *held, askDelta bool) (f *fetched, err error) {
	start := time.Now()
	defer func() {
		var wire int64
		if f != nil {
			wire = f.wire
		}
		n.metrics.transfer("in", transferResult(err), wire, time.Since(start))
	}()
	if want.Size > n.cfg.MaxStateBytes {
		return nil, fmt.Errorf("%w: %d bytes announced, over MaxStateBytes %d", errBadContent, want.Size, n.cfg.MaxStateBytes)
	}
	conn, err := n.tr.dial(addr, n.cfg.TransferTimeout)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(n.cfg.TransferTimeout)); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	keys := n.allKeys()
	var key []byte
	if len(keys) > 0 {
		key = keys[0]
	}
	req := transferRequest{
		Term: want.Version.Term, Gen: want.Version.Generation,
		SHA: hex.EncodeToString(want.SHA[:]), Node: n.cfg.NodeName,
	}
	if askDelta {
		req = withBase(req, base)
	}
	msg, nonceC, err := buildRequest(key, req)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Write(msg); err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(conn, 64<<10)
	var status [1]byte
	if _, err := io.ReadFull(br, status[:]); err != nil {
		return nil, fmt.Errorf("no answer: %w", err)
	}
	switch status[0] {
	case statusOK:
	case statusBadKey:
		return nil, fmt.Errorf("%w: the holder has none of our keys installed, and refused the request", ErrKeyMismatch)
	case statusNeedKey:
		return nil, fmt.Errorf("%w: the holder requires a key and this node has none", ErrKeyMismatch)
	case statusNoKeys:
		return nil, fmt.Errorf("%w: the holder runs without keys (Insecure)", ErrKeyMismatch)
	case statusBusy:
		return nil, errBusy
	default:
		return nil, fmt.Errorf("the holder refused the request (status %d)", status[0])
	}
	var nonceS [nonceLen]byte
	if _, err := io.ReadFull(br, nonceS[:]); err != nil {
		return nil, err
	}
	fr, err := newFrameReader(br, key, nonceC, nonceS[:])
	if err != nil {
		return nil, err
	}
	flags, body, err := fr.next()
	if err != nil {
		return nil, err
	}
	if len(body) > maxHeader {
		return nil, errors.New("header too large")
	}
	var hdr transferHeader
	if err := json.Unmarshal(body, &hdr); err != nil {
		return nil, fmt.Errorf("bad header: %w", err)
	}
	if !hdr.OK {
		if hdr.State != nil {
			if have, err := hdr.State.announcement(); err == nil {
				return nil, &goneError{have: have}
			}
		}
		return nil, &goneError{}
	}
	if hdr.State == nil || flags&frameFinal != 0 {
		return nil, errors.New("bad header: no state")
	}
	ann, err := hdr.State.announcement()
	if err != nil {
		return nil, err
	}
	if ann.SHA != want.SHA || ann.Version != want.Version || ann.Size != want.Size {
		return nil, fmt.Errorf("the holder offers %s, not the %s asked for", ann.Version, want.Version)
	}
	if hdr.Bytes <= 0 || hdr.Bytes > n.cfg.MaxStateBytes {
		return nil, fmt.Errorf("bad header: %d bytes", hdr.Bytes)
	}
	gz := make([]byte, 0, hdr.Bytes)
	for flags&frameFinal == 0 {
		if flags, body, err = fr.next(); err != nil {
			return nil, err
		}
		if int64(len(gz)+len(body)) > hdr.Bytes {
			return nil, errors.New("more bytes than the header said")
		}
		gz = append(gz, body...)
	}
	if int64(len(gz)) != hdr.Bytes {
		return nil, fmt.Errorf("stream ended after %d of %d bytes", len(gz), hdr.Bytes)
	}
	if hdr.Delta != nil {
		f, err := n.applyDelta(base, want, hdr.Delta, gz)
		if err != nil {
			return nil, err
		}
		f.ann.Published, f.ann.Origin, f.wire, f.took = want.Published, want.Origin, fr.bytes, time.Since(start)
		return f, nil
	}
	raw, err := decompress(gz, want.Size)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errSHA, err)
	}
	if sum := sha256.Sum256(raw); int64(len(raw)) != want.Size || sum != want.SHA {
		return nil, errSHA
	}
	var prev *gslb.State
	if base != nil {
		prev = base.st // validated when it came: judge only what changed
	}
	st, err := gslb.DecodeStateChanged(raw, prev)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadContent, err)
	}
	if st.Version() != want.Version {
		return nil, fmt.Errorf("%w: announced as %s, the state says %s", errBadContent, want.Version, st.Version())
	}
	ann.Published, ann.Origin = want.Published, want.Origin
	return &fetched{ann: ann, gz: gz, raw: raw, st: st, wire: fr.bytes, took: time.Since(start)}, nil
}

// buildRequest writes the request, with its HMAC when key is set.
func buildRequest(key []byte, r transferRequest) (msg, nonce []byte, err error) {
	body, err := json.Marshal(r)
	if err != nil {
		return nil, nil, err
	}
	nonce = make([]byte, nonceLen)
	if _, err := rand.Read(nonce); err != nil {
		return nil, nil, err
	}
	var flags byte
	if key != nil {
		flags |= flagKeyed
	}
	msg = make([]byte, 0, requestHead+len(body)+sha256.Size)
	msg = append(msg, streamMagic, transferV1, flags)
	msg = append(msg, nonce...)
	msg = binary.BigEndian.AppendUint16(msg, uint16(len(body)))
	msg = append(msg, body...)
	if key != nil {
		msg = append(msg, requestMAC(key, msg)...)
	}
	return msg, nonce, nil
}
