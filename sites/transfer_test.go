package sites

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
)

func TestParseKeys(t *testing.T) {
	k16, k32 := make([]byte, 16), make([]byte, 32)
	_, _ = rand.Read(k16)
	_, _ = rand.Read(k32)
	keys, err := ParseKeys([]byte("# rotation in progress\n\n  " + b64(k32) + "  \n" + b64(k16) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || !bytes.Equal(keys[0], k32) || !bytes.Equal(keys[1], k16) {
		t.Errorf("keys %x", keys)
	}
	for _, tc := range []struct{ file, want string }{
		{"", "no key"},
		{"# only a comment\n", "no key"},
		{"not base64!\n", "line 1: not base64"},
		{b64(k32) + "\n" + b64([]byte("short")) + "\n", "line 2: 5 bytes"},
		{b64(k32) + "\n" + b64(k32) + "\n", "line 2: the same key"},
	} {
		if _, err := ParseKeys([]byte(tc.file)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseKeys(%q) = %v, want %q", tc.file, err, tc.want)
		}
	}
	g, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if keys, err := ParseKeys([]byte(g)); err != nil || len(keys[0]) != 32 {
		t.Errorf("generated key: %v", err)
	}
}

// frames writes a short sealed stream: a header frame, two data frames,
// the last final.
func frames(t *testing.T, key, nc, ns []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	fw, err := newFrameWriter(&buf, key, nc, ns)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range []struct {
		flags byte
		data  string
	}{{0, `{"ok":true}`}, {0, "first"}, {frameFinal, "second"}} {
		if err := fw.write(f.flags, []byte(f.data)); err != nil {
			t.Fatal(i, err)
		}
	}
	return buf.Bytes()
}

func readAll(stream, key, nc, ns []byte) ([]string, error) {
	fr, err := newFrameReader(bytes.NewReader(stream), key, nc, ns)
	if err != nil {
		return nil, err
	}
	var out []string
	for {
		flags, data, err := fr.next()
		if err != nil {
			return out, err
		}
		out = append(out, string(data))
		if flags&frameFinal != 0 {
			return out, nil
		}
	}
}

func TestFrames(t *testing.T) {
	nc, ns := bytes.Repeat([]byte{1}, nonceLen), bytes.Repeat([]byte{2}, nonceLen)
	for _, key := range [][]byte{testKey, nil} {
		stream := frames(t, key, nc, ns)
		got, err := readAll(stream, key, nc, ns)
		if err != nil || strings.Join(got, "|") != `{"ok":true}|first|second` {
			t.Fatalf("key %v: %q %v", key != nil, got, err)
		}
		if key != nil && bytes.Contains(stream, []byte("first")) {
			t.Error("sealed frames carry plaintext")
		}
		// Cut before the final frame: an error, never a short state.
		if _, err := readAll(stream[:len(stream)-3], key, nc, ns); err == nil {
			t.Errorf("key %v: a cut stream read whole", key != nil)
		}
	}

	stream := frames(t, testKey, nc, ns)
	flipped := bytes.Clone(stream)
	flipped[len(flipped)-5] ^= 1
	if _, err := readAll(flipped, testKey, nc, ns); !errors.Is(err, errTampered) {
		t.Errorf("flipped bit: %v, want errTampered", err)
	}
	if _, err := readAll(stream, otherKey, nc, ns); !errors.Is(err, errTampered) {
		t.Errorf("other key: %v, want errTampered", err)
	}
	if _, err := readAll(stream, testKey, ns, nc); !errors.Is(err, errTampered) {
		t.Errorf("another session's nonces: %v, want errTampered", err)
	}
	// Frames replayed out of order do not open: the counter is the nonce.
	first := 4 + int(uint32(stream[0])<<24|uint32(stream[1])<<16|uint32(stream[2])<<8|uint32(stream[3]))
	if _, err := readAll(stream[first:], testKey, nc, ns); !errors.Is(err, errTampered) {
		t.Errorf("dropped first frame: %v, want errTampered", err)
	}
}

func TestRequestMAC(t *testing.T) {
	msg, nonce, err := buildRequest(testKey, transferRequest{Term: 1, Gen: 2, SHA: "ab", Node: "n"})
	if err != nil {
		t.Fatal(err)
	}
	if len(nonce) != nonceLen || msg[0] != streamMagic || msg[2]&flagKeyed == 0 {
		t.Fatalf("request head % x", msg[:3])
	}
	signed, mac := msg[:len(msg)-32], msg[len(msg)-32:]
	if !bytes.Equal(mac, requestMAC(testKey, signed)) {
		t.Error("MAC does not verify under the key")
	}
	if bytes.Equal(mac, requestMAC(otherKey, signed)) {
		t.Error("MAC verifies under another key")
	}
	plain, _, _ := buildRequest(nil, transferRequest{})
	if plain[2]&flagKeyed != 0 {
		t.Error("keyless request flagged as keyed")
	}
}
