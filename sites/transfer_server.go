package sites

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"
)

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
		n.peers.logf(slog.LevelWarn, peerErrTransfer, "refused a state transfer request", "from", remote, "why", why)
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
	a := h.ann
	a.Holder = n.cfg.NodeName
	hdr := transferHeader{OK: true, State: a.wire()}
	body := h.gz
	if h.delta.serves(req) {
		body, hdr.Delta = h.delta.gz, h.delta.wire()
		if n.cfg.deltaOverride != nil {
			body = n.cfg.deltaOverride(body)
		}
	} else if n.cfg.serveOverride != nil {
		body = n.cfg.serveOverride(body)
	}
	hdr.Bytes = int64(len(body))
	b, _ := json.Marshal(hdr)
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
	n.log.Debug("served state", "to", req.Node, "version", a.Version, "bytes", sent, "delta", hdr.Delta != nil)
}
