package sites

import (
	"bufio"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"

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
//	                  wanted), HMAC-SHA256 over all of it with the
//	                  client's primary key.
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
// Independently of the channel, the fetched bytes must hash to the
// announced SHA-256 and decode to the announced version, so a buggy or
// stale holder cannot hand over the wrong state either.

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
}

type transferHeader struct {
	OK    bool     `json:"ok"` // false: the state asked for is not held; State is what is
	State *wireAnn `json:"state,omitempty"`
	Bytes int64    `json:"bytes,omitempty"` // compressed bytes that follow
}

// fetched is a verified state from a transfer.
type fetched struct {
	ann  announcement
	gz   []byte
	raw  []byte
	st   *gslb.State
	wire int64
	took time.Duration
}

// fetch asks the node at addr for want and verifies what comes back.
func (n *Node) fetch(ctx context.Context, addr string, want announcement) (f *fetched, err error) {
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
	req, nonceC, err := buildRequest(key, transferRequest{
		Term: want.Version.Term, Gen: want.Version.Generation,
		SHA: hex.EncodeToString(want.SHA[:]), Node: n.cfg.NodeName,
	})
	if err != nil {
		return nil, err
	}
	if _, err := conn.Write(req); err != nil {
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
	raw, err := decompress(gz, want.Size)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errSHA, err)
	}
	if sum := sha256.Sum256(raw); int64(len(raw)) != want.Size || sum != want.SHA {
		return nil, errSHA
	}
	st, err := gslb.DecodeState(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadContent, err)
	}
	if st.Version() != want.Version {
		return nil, fmt.Errorf("%w: announced as %s, the state says %s", errBadContent, want.Version, st.Version())
	}
	ann.Published, ann.Origin = want.Published, want.Origin
	return &fetched{ann: ann, gz: gz, raw: raw, st: st, wire: fr.bytes, took: time.Since(start)}, nil
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
	default:
		return "error"
	}
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

func requestMAC(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(labelRequest))
	m.Write(msg)
	return m.Sum(nil)
}

func sessionAEAD(key, nonceC, nonceS []byte) (cipher.AEAD, error) {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(labelSession))
	m.Write(nonceC)
	m.Write(nonceS)
	block, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// serveTransfer answers one transfer request on conn, whose magic byte
// the transport has read.
func (n *Node) serveTransfer(conn net.Conn) {
	defer conn.Close()
	start := time.Now()
	var sent int64
	result := "error"
	defer func() {
		if result != "" {
			n.metrics.transfer("out", result, sent, time.Since(start))
		}
	}()
	_ = conn.SetDeadline(time.Now().Add(n.cfg.TransferTimeout))
	stop := context.AfterFunc(n.ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	remote := conn.RemoteAddr().String()

	br := bufio.NewReader(conn)
	head := make([]byte, requestHead)
	head[0] = streamMagic
	if _, err := io.ReadFull(br, head[1:]); err != nil {
		result = "" // a probe or a closed connection: nothing to count
		return
	}
	refuse := func(status byte, res, why string) {
		result = res
		_, _ = conn.Write([]byte{status})
		n.log.Warn("refused a state transfer request", "from", remote, "why", why)
	}
	if head[1] != transferV1 {
		refuse(statusBadRequest, "error", fmt.Sprintf("protocol version %d; a newer release?", head[1]))
		return
	}
	bodyLen := int(binary.BigEndian.Uint16(head[requestHead-2:]))
	if bodyLen > maxRequest {
		refuse(statusBadRequest, "error", "request too large")
		return
	}
	keyed := head[2]&flagKeyed != 0
	rest := bodyLen
	if keyed {
		rest += sha256.Size
	}
	msg := make([]byte, requestHead+rest)
	copy(msg, head)
	if _, err := io.ReadFull(br, msg[requestHead:]); err != nil {
		return
	}
	nonceC := head[3 : 3+nonceLen]
	keys := n.allKeys()
	var key []byte
	switch {
	case keyed && len(keys) == 0:
		refuse(statusNoKeys, "auth", "the requester uses a key and this node has none (Insecure)")
		return
	case !keyed && len(keys) > 0:
		refuse(statusNeedKey, "auth", "the requester has no key")
		return
	case keyed:
		signed, mac := msg[:requestHead+bodyLen], msg[requestHead+bodyLen:]
		for _, k := range keys {
			if hmac.Equal(mac, requestMAC(k, signed)) {
				key = k
				break
			}
		}
		if key == nil {
			refuse(statusBadKey, "auth", "none of our keys verifies the request: the requester uses a different gossip key")
			return
		}
	}
	var req transferRequest
	if err := json.Unmarshal(msg[requestHead:requestHead+bodyLen], &req); err != nil {
		refuse(statusBadRequest, "error", "bad request: "+err.Error())
		return
	}
	select {
	case n.serveSem <- struct{}{}:
		defer func() { <-n.serveSem }()
	default:
		refuse(statusBusy, "busy", fmt.Sprintf("%d transfers already in flight", maxServing))
		return
	}

	bw := bufio.NewWriterSize(conn, 64<<10)
	nonceS := make([]byte, nonceLen)
	if _, err := rand.Read(nonceS); err != nil {
		return
	}
	// bufio.Writer errors are sticky: Flush reports them.
	_ = bw.WriteByte(statusOK)
	_, _ = bw.Write(nonceS)
	fw, err := newFrameWriter(bw, key, nonceC, nonceS)
	if err != nil {
		return
	}
	h := n.cur.Load()
	if h == nil || hex.EncodeToString(h.ann.SHA[:]) != req.SHA {
		hdr := transferHeader{}
		if h != nil {
			a := h.ann
			a.Holder = n.cfg.NodeName
			hdr.State = a.wire()
		}
		b, _ := json.Marshal(hdr)
		if fw.write(frameFinal, b) == nil && bw.Flush() == nil {
			result = "gone"
		}
		return
	}
	body := h.gz
	if n.cfg.serveOverride != nil {
		body = n.cfg.serveOverride(body)
	}
	a := h.ann
	a.Holder = n.cfg.NodeName
	b, _ := json.Marshal(transferHeader{OK: true, State: a.wire(), Bytes: int64(len(body))})
	if err := fw.write(0, b); err != nil {
		return
	}
	for len(body) > 0 {
		chunk := body[:min(frameData, len(body))]
		body = body[len(chunk):]
		var flags byte
		if len(body) == 0 {
			flags = frameFinal
		}
		if err := fw.write(flags, chunk); err != nil {
			n.log.Debug("state transfer cut", "to", req.Node, "err", err)
			return
		}
	}
	if err := bw.Flush(); err != nil {
		return
	}
	sent = fw.bytes
	result = "ok"
	n.log.Debug("served state", "to", req.Node, "version", a.Version, "bytes", sent)
}

// frameWriter writes length-prefixed frames, sealed when aead is set.
type frameWriter struct {
	w     io.Writer
	aead  cipher.AEAD
	ctr   uint64
	buf   []byte
	bytes int64
}

func newFrameWriter(w io.Writer, key, nonceC, nonceS []byte) (*frameWriter, error) {
	f := &frameWriter{w: w}
	if key != nil {
		var err error
		if f.aead, err = sessionAEAD(key, nonceC, nonceS); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func (f *frameWriter) write(flags byte, data []byte) error {
	plain := append(append(f.buf[:0], flags), data...)
	payload := plain
	if f.aead != nil {
		var nonce [12]byte
		binary.BigEndian.PutUint64(nonce[4:], f.ctr)
		payload = f.aead.Seal(plain[:0], nonce[:], plain, nil)
	}
	f.ctr++
	var l [4]byte
	binary.BigEndian.PutUint32(l[:], uint32(len(payload)))
	if _, err := f.w.Write(l[:]); err != nil {
		return err
	}
	if _, err := f.w.Write(payload); err != nil {
		return err
	}
	f.bytes += int64(len(payload) + 4)
	f.buf = payload[:0]
	return nil
}

type frameReader struct {
	r     io.Reader
	aead  cipher.AEAD
	ctr   uint64
	buf   []byte
	bytes int64
}

func newFrameReader(r io.Reader, key, nonceC, nonceS []byte) (*frameReader, error) {
	f := &frameReader{r: r, buf: make([]byte, maxFrame)}
	if key != nil {
		var err error
		if f.aead, err = sessionAEAD(key, nonceC, nonceS); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// next returns the next frame's flags and data; data is valid until the
// following call.
func (f *frameReader) next() (byte, []byte, error) {
	var l [4]byte
	if _, err := io.ReadFull(f.r, l[:]); err != nil {
		return 0, nil, fmt.Errorf("stream cut before its final frame: %w", err)
	}
	size := binary.BigEndian.Uint32(l[:])
	if size == 0 || size > maxFrame {
		return 0, nil, fmt.Errorf("bad frame length %d", size)
	}
	payload := f.buf[:size]
	if _, err := io.ReadFull(f.r, payload); err != nil {
		return 0, nil, fmt.Errorf("stream cut inside a frame: %w", err)
	}
	f.bytes += int64(size) + 4
	plain := payload
	if f.aead != nil {
		var nonce [12]byte
		binary.BigEndian.PutUint64(nonce[4:], f.ctr)
		var err error
		if plain, err = f.aead.Open(payload[:0], nonce[:], payload, nil); err != nil {
			return 0, nil, errTampered
		}
	}
	f.ctr++
	if len(plain) == 0 {
		return 0, nil, errors.New("empty frame")
	}
	return plain[0], plain[1:], nil
}

// muxTransport is memberlist's NetTransport with the state transfer on
// the same TCP port (see the comment at the top of this file).
type muxTransport struct {
	*memberlist.NetTransport
	streams chan net.Conn
	serve   func(net.Conn)
	filter  *netFilter
	done    chan struct{}
	wg      sync.WaitGroup
	stop    sync.Once
}

var _ memberlist.NodeAwareTransport = (*muxTransport)(nil)

func newMuxTransport(addr string, port int, logger *log.Logger, serve func(net.Conn), filter *netFilter) (*muxTransport, error) {
	nc := &memberlist.NetTransportConfig{BindAddrs: []string{addr}, BindPort: port, Logger: logger}
	// With port 0 the kernel picks a TCP port, and the UDP one may be
	// taken: retry, as memberlist does when it builds its own transport.
	tries := 1
	if port == 0 {
		tries = 10
	}
	var nt *memberlist.NetTransport
	var err error
	for range tries {
		if nt, err = memberlist.NewNetTransport(nc); err == nil || !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	t := &muxTransport{
		NetTransport: nt,
		streams:      make(chan net.Conn),
		serve:        serve,
		filter:       filter,
		done:         make(chan struct{}),
	}
	t.wg.Add(1)
	go t.route()
	return t, nil
}

func (t *muxTransport) port() int { return t.GetAutoBindPort() }

// StreamCh is what memberlist reads: connections that are not ours.
func (t *muxTransport) StreamCh() <-chan net.Conn { return t.streams }

func (t *muxTransport) route() {
	defer t.wg.Done()
	in := t.NetTransport.StreamCh()
	for {
		select {
		case <-t.done:
			return
		case c := <-in:
			t.wg.Add(1)
			go t.classify(c)
		}
	}
}

// classify reads a connection's first byte and hands it to the transfer
// server or to memberlist.
func (t *muxTransport) classify(c net.Conn) {
	defer t.wg.Done()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		_ = c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	if b[0] == streamMagic {
		t.serve(c)
		return
	}
	select {
	case t.streams <- &peekedConn{Conn: c, first: b[0], pending: true}:
	case <-t.done:
		_ = c.Close()
	}
}

// dial opens a transfer connection, through the test filter.
func (t *muxTransport) dial(addr string, timeout time.Duration) (net.Conn, error) {
	if t.filter.blocked(addr) {
		return nil, errFiltered
	}
	return t.NetTransport.DialTimeout(addr, timeout)
}

func (t *muxTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	if t.filter.blocked(addr) {
		return time.Now(), nil // dropped, as a lost packet
	}
	return t.NetTransport.WriteTo(b, addr)
}

func (t *muxTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	if t.filter.blocked(a.Addr) {
		return time.Now(), nil
	}
	return t.NetTransport.WriteToAddress(b, a)
}

func (t *muxTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	if t.filter.blocked(addr) {
		return nil, errFiltered
	}
	return t.NetTransport.DialTimeout(addr, timeout)
}

func (t *muxTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	if t.filter.blocked(a.Addr) {
		return nil, errFiltered
	}
	return t.NetTransport.DialAddressTimeout(a, timeout)
}

// Shutdown closes the listeners. route keeps draining the inner stream
// channel meanwhile: NetTransport's accept loop blocks handing over a
// connection, and its Shutdown waits for that loop.
func (t *muxTransport) Shutdown() error {
	err := t.NetTransport.Shutdown()
	t.stop.Do(func() { close(t.done) })
	return err
}

// wait returns when every routed connection has been handed over or
// served.
func (t *muxTransport) wait() { t.wg.Wait() }

// peekedConn gives back the byte the transport read.
type peekedConn struct {
	net.Conn
	first   byte
	pending bool
}

func (c *peekedConn) Read(p []byte) (int, error) {
	if c.pending && len(p) > 0 {
		c.pending = false
		p[0] = c.first
		return 1, nil
	}
	return c.Conn.Read(p)
}

// netFilter drops traffic to chosen addresses: tests cut the network
// between nodes with it. A nil filter blocks nothing.
type netFilter struct {
	mu  sync.RWMutex
	cut map[string]bool
}

var errFiltered = errors.New("network cut (test)")

func (f *netFilter) blocked(addr string) bool {
	if f == nil {
		return false
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.cut[addr]
}

func (f *netFilter) set(addrs []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cut = make(map[string]bool, len(addrs))
	for _, a := range addrs {
		f.cut[a] = true
	}
}
