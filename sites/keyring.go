package sites

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/hashicorp/memberlist"
)

// Gossip keys. Every message between sites, gossip and state transfer
// alike, is encrypted and authenticated with AES-GCM under a shared key.
// A keyring holds one primary key, used to send, and any number of
// secondary keys, also accepted when receiving, so a key can be rotated
// without a flag day:
//
//  1. add the new key as a secondary everywhere (key file: old, new);
//  2. make it primary everywhere (key file: new, old);
//  3. remove the old key everywhere (key file: new).
//
// After each step every site must have reloaded (Node.ReloadKeys) before
// the next begins.

// ParseKeys reads a key file: one base64 key per line, primary first.
// Blank lines and lines starting with '#' are ignored. A key decodes to
// 16, 24 or 32 bytes (AES-128, -192, -256). Errors name the line.
func ParseKeys(data []byte) ([][]byte, error) {
	var keys [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		k, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("line %d: not base64: %w", line, err)
		}
		if err := memberlist.ValidateKey(k); err != nil {
			return nil, fmt.Errorf("line %d: %d bytes: a key must be 16, 24 or 32 bytes", line, len(k))
		}
		for _, o := range keys {
			if bytes.Equal(o, k) {
				return nil, fmt.Errorf("line %d: the same key is listed twice", line)
			}
		}
		keys = append(keys, k)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, errors.New("no key in the file")
	}
	return keys, nil
}

// ReadKeyFile reads and parses a key file (a mounted Kubernetes Secret
// works: one key per line).
func ReadKeyFile(path string) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	keys, err := ParseKeys(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return keys, nil
}

// GenerateKey returns a new random 32-byte key, base64-encoded as a key
// file line.
func GenerateKey() (string, error) {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(k), nil
}

// loadKeys returns the configured keys, primary first: from KeyFile, or
// Keys. It returns nil, nil when neither is set.
func (c *Config) loadKeys() ([][]byte, error) {
	if c.KeyFile != "" {
		keys, err := ReadKeyFile(c.KeyFile)
		if err != nil {
			return nil, &ConfigError{Field: "KeyFile", Msg: err.Error()}
		}
		return keys, nil
	}
	if len(c.Keys) == 0 {
		return nil, nil
	}
	for i, k := range c.Keys {
		if err := memberlist.ValidateKey(k); err != nil {
			return nil, &ConfigError{Field: fmt.Sprintf("Keys[%d]", i), Msg: fmt.Sprintf("%d bytes: a key must be 16, 24 or 32 bytes", len(k))}
		}
	}
	return c.Keys, nil
}

// Keys returns the installed gossip keys, primary first (nil when the
// node runs insecure without keys).
func (n *Node) Keys() [][]byte {
	n.keysMu.RLock()
	defer n.keysMu.RUnlock()
	return slices.Clone(n.keys)
}

// primaryKey and allKeys serve the state transfer. They read the node's
// copy of the ring: memberlist's Keyring.GetKeys hands out its internal
// slice, which RemoveKey edits in place.
func (n *Node) allKeys() [][]byte {
	n.keysMu.RLock()
	defer n.keysMu.RUnlock()
	return n.keys
}

// AddKey installs key as a secondary key: accepted from peers, not used
// to send. It is the first step of a rotation.
func (n *Node) AddKey(key []byte) error {
	return n.editKeys(func(r *memberlist.Keyring) error { return r.AddKey(key) })
}

// UseKey makes an installed key the primary key, used to send.
func (n *Node) UseKey(key []byte) error {
	return n.editKeys(func(r *memberlist.Keyring) error { return r.UseKey(key) })
}

// RemoveKey uninstalls a secondary key. The primary key cannot be removed.
func (n *Node) RemoveKey(key []byte) error {
	return n.editKeys(func(r *memberlist.Keyring) error { return r.RemoveKey(key) })
}

func (n *Node) editKeys(edit func(*memberlist.Keyring) error) error {
	if n.keyring == nil {
		return errInsecure
	}
	n.keysMu.Lock()
	defer n.keysMu.Unlock()
	err := edit(n.keyring)
	n.keys = cloneKeys(n.keyring.GetKeys())
	return err
}

func cloneKeys(keys [][]byte) [][]byte {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = slices.Clone(k)
	}
	return out
}

// ReloadKeys re-reads Config.KeyFile and makes the keyring match it: new
// keys are added, the file's first key becomes primary, keys no longer in
// the file are removed. Call it when the file (or the Secret behind it)
// changes.
func (n *Node) ReloadKeys() error {
	if n.cfg.KeyFile == "" {
		return errors.New("sites: reload keys: no KeyFile configured")
	}
	keys, err := ReadKeyFile(n.cfg.KeyFile)
	if err != nil {
		return fmt.Errorf("sites: reload keys: %w", err)
	}
	err = n.editKeys(func(r *memberlist.Keyring) error {
		for _, k := range keys {
			if err := r.AddKey(k); err != nil {
				return err
			}
		}
		if err := r.UseKey(keys[0]); err != nil {
			return err
		}
		for _, old := range cloneKeys(r.GetKeys()) {
			if !slices.ContainsFunc(keys, func(k []byte) bool { return bytes.Equal(k, old) }) {
				if err := r.RemoveKey(old); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sites: reload keys: %w", err)
	}
	n.log.Info("gossip keys reloaded", "keys", len(keys))
	return nil
}

var errInsecure = errors.New("sites: the node runs without gossip encryption (Insecure and no keys)")
