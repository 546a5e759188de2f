package config

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/go-viper/mapstructure/v2"
	"go.yaml.in/yaml/v3"

	"github.com/meridian-gslb/meridian/gslb"
)

// decodedServices are the services entries, decoded: one slice per
// field rather than one of structs, so that cfgs becomes Config.Services
// without a copy (22 MB a reload at 100k services).
type decodedServices struct {
	cfgs []ServiceConfig
	errs [][]error // an entry's decode errors, named services[i]...; nil when it decoded
	// prev[i] is 1 + the position of the same entry in the Loader's last
	// good load when it was reused; 0 when it was decoded.
	prev []int
}

// keptServices are the services entries of a Loader's last good load,
// decoded, for the next load to take rather than decode again: by
// position when resplit found an entry unchanged (serviceItem.kept), or
// by text, through an index built on first need.
type keptServices struct {
	split    *servicesSplit
	services []ServiceConfig // split.items[i]'s decode is services[i]

	once   sync.Once
	byText map[textSum]int
}

// lookup is the position of the kept entry whose text has sum.
func (k *keptServices) lookup(sum textSum) (int, bool) {
	k.once.Do(func() {
		k.byText = make(map[textSum]int, len(k.split.items))
		for i, it := range k.split.items {
			k.byText[it.sum] = i
		}
	})
	i, ok := k.byText[sum]
	return i, ok
}

// byTextFrom is how many entries not kept by position make the index by
// text worth building: a few are cheaper to decode than 100k sums are to
// index, many (a list reordered) are not.
const byTextFrom = 16

// decodeServiceItems parses and decodes each entry of text (the file) as
// the whole file's decode would (viper's key lower-casing included),
// spread over workers goroutines. ok is false when entries do not parse on their
// own, or parse to something the whole file's parse might not have (not
// one list entry each, a key twice, a non-string map key): the caller
// then decodes the whole file, which reports a syntax error exactly as
// before. k, when not nil, has decodes to reuse: by position, and by
// text when byText.
func decodeServiceItems(text string, items []serviceItem, k *keptServices, byText bool, workers int) (out decodedServices, ok bool) {
	out = decodedServices{cfgs: make([]ServiceConfig, len(items)), errs: make([][]error, len(items)), prev: make([]int, len(items))}
	var failed atomic.Bool
	var next atomic.Int64
	const batch = 256
	workers = min(workers, (len(items)+batch-1)/batch)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			var pc gslb.Pacer // one per worker: a batch is shorter than a slice
			for !failed.Load() {
				from := int(next.Add(batch)) - batch
				if from >= len(items) {
					return
				}
				if !decodeBatch(text, items, from, min(from+batch, len(items)), k, byText, out, &pc) {
					failed.Store(true)
					return
				}
			}
		})
	}
	wg.Wait()
	return out, !failed.Load()
}

// decodeBatch decodes entries from up to to, taking k's where it has
// them and parsing each run of the others in one go: consecutive entries
// are consecutive text, and one parser per run costs less than one per
// entry.
func decodeBatch(text string, items []serviceItem, from, to int, k *keptServices, byText bool, out decodedServices, pc *gslb.Pacer) bool {
	run := from // the first entry of the run not yet decoded
	for i := from; i <= to; i++ {
		pc.Step()
		if i < to {
			if k == nil {
				continue
			}
			j := items[i].kept - 1
			if j < 0 && byText {
				if at, hit := k.lookup(items[i].sum); hit {
					j = at
				}
			}
			if j < 0 {
				continue
			}
			out.cfgs[i], out.prev[i] = k.services[j], j+1
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
func decodeRun(text string, items []serviceItem, from, to int, out decodedServices) bool {
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
		if !decodeEntry(from+k, n, &out.cfgs[from+k], &out.errs[from+k]) {
			return false
		}
	}
	return true
}

// decodeEntry decodes entry i, parsed, into out; false: see
// decodeServiceItems. Plain entries take fastDecode; the others are
// decoded as the whole file is: into maps, keys lower-cased, then
// mapstructure.
func decodeEntry(i int, n *yaml.Node, cfg *ServiceConfig, errs *[]error) bool {
	if fastDecode(n, cfg) {
		return true
	}
	*cfg = ServiceConfig{}
	var raw any
	if err := n.Decode(&raw); err != nil {
		return false // a key twice, say: the whole file's parse reports it
	}
	entry, ok := lowerKeys(raw)
	if !ok {
		return false
	}
	dc := &mapstructure.DecoderConfig{Result: cfg}
	decoderOptions(dc)
	d, err := mapstructure.NewDecoder(dc)
	if err == nil {
		err = d.Decode(entry)
	}
	if err != nil {
		*errs = decodeErrors(fmt.Sprintf("services[%d]", i), err)
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
