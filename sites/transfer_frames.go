package sites

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// requestMAC authenticates a transfer request: HMAC-SHA256 under key
// over a label and the request's bytes.
func requestMAC(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(labelRequest))
	m.Write(msg)
	return m.Sum(nil)
}

// sessionAEAD seals one transfer's frames: AES-256-GCM under
// HMAC-SHA256(key, label, both nonces), a key of its own per transfer, so
// the frame counter is a safe GCM nonce.
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
