package config

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/go-viper/mapstructure/v2"
	"go.yaml.in/yaml/v3"
)

// decodedService is one services entry, decoded.
type decodedService struct {
	cfg  ServiceConfig
	errs []error // decode errors, named services[i]...; nil when it decoded
	// prev is 1 + the position of the same entry in the Loader's last
	// good load when reuse gave it; 0 when it was decoded.
	prev int
}

// kept is an entry as a Loader kept it: its decode and its position in
// the last good load.
type kept struct {
	cfg   ServiceConfig
	index int
}

// decodeServiceItems parses and decodes each entry of text (the file) as
// the whole file's decode would (viper's key lower-casing included),
// spread over workers goroutines. ok is false when entries do not parse on their
// own, or parse to something the whole file's parse might not have (not
// one list entry each, a key twice, a non-string map key): the caller
// then decodes the whole file, which reports a syntax error exactly as
// before. reuse, when not nil, returns a cached decode of an entry by
// its text's sum.
func decodeServiceItems(text string, items []serviceItem, reuse func(textSum) (kept, bool), workers int) (out []decodedService, ok bool) {
	out = make([]decodedService, len(items))
	var failed atomic.Bool
	var next atomic.Int64
	const batch = 256
	workers = min(workers, (len(items)+batch-1)/batch)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for !failed.Load() {
				from := int(next.Add(batch)) - batch
				if from >= len(items) {
					return
				}
				if !decodeBatch(text, items, from, min(from+batch, len(items)), reuse, out) {
					failed.Store(true)
					return
				}
			}
		})
	}
	wg.Wait()
	return out, !failed.Load()
}

// decodeBatch decodes entries from up to to, taking reuse's where it has
// them and parsing each run of the others in one go: consecutive entries
// are consecutive text, and one parser per run costs less than one per
// entry.
func decodeBatch(text string, items []serviceItem, from, to int, reuse func(textSum) (kept, bool), out []decodedService) bool {
	run := from // the first entry of the run not yet decoded
	for i := from; i <= to; i++ {
		if i < to {
			if reuse == nil {
				continue
			}
			k, hit := reuse(items[i].sum)
			if !hit {
				continue
			}
			out[i].cfg, out[i].prev = k.cfg, k.index+1
		}
		if run < i && !decodeRun(text, items, run, i, out) {
			return false
		}
		run = i + 1
	}
	return true
}

// decodeRun parses entries from up to to (a run of consecutive ones) and
// decodes each.
func decodeRun(text string, items []serviceItem, from, to int, out []decodedService) bool {
	last := items[to-1]
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text[items[from].off:last.off+len(last.key)]), &doc); err != nil {
		return false
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return false
	}
	list := doc.Content[0]
	if list.Kind != yaml.SequenceNode || len(list.Content) != to-from {
		return false
	}
	for k, n := range list.Content {
		if !decodeEntry(from+k, n, &out[from+k]) {
			return false
		}
	}
	return true
}

// decodeEntry decodes entry i, parsed, into out; false: see
// decodeServiceItems. Plain entries take fastDecode; the others are
// decoded as the whole file is: into maps, keys lower-cased, then
// mapstructure.
func decodeEntry(i int, n *yaml.Node, out *decodedService) bool {
	if fastDecode(n, &out.cfg) {
		return true
	}
	out.cfg = ServiceConfig{}
	var raw any
	if err := n.Decode(&raw); err != nil {
		return false // a key twice, say: the whole file's parse reports it
	}
	entry, ok := lowerKeys(raw)
	if !ok {
		return false
	}
	dc := &mapstructure.DecoderConfig{Result: &out.cfg}
	decoderOptions(dc)
	d, err := mapstructure.NewDecoder(dc)
	if err == nil {
		err = d.Decode(entry)
	}
	if err != nil {
		out.errs = decodeErrors(fmt.Sprintf("services[%d]", i), err)
	}
	return true
}

// lowerKeys lower-cases every map key, as viper does to the whole file
// (keys are case-insensitive). A map with a key that is not a string is
// refused: viper would turn it into text, and the whole file's decode is
// the one place that behaviour lives.
func lowerKeys(v any) (any, bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			e, ok := lowerKeys(e)
			if !ok {
				return nil, false
			}
			if lk := strings.ToLower(k); lk != k {
				delete(x, k)
				k = lk
			}
			x[k] = e
		}
	case []any:
		for i, e := range x {
			e, ok := lowerKeys(e)
			if !ok {
				return nil, false
			}
			x[i] = e
		}
	case map[any]any:
		return nil, false
	}
	return v, true
}
