package health

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/meridian-gslb/meridian/gslb"
)

// loadProber is a Prober that also reads the target's load on a
// successful probe (HealthCheck.LoadFrom, issue #12). The Monitor asks
// after each successful Probe, from the goroutine that ran it; ok false
// with a nil error means the probe read nothing (no load_from, or the
// probe failed).
type loadProber interface {
	Prober
	LastLoad() (v float64, ok bool, err error)
}

// loadReading is one probe's load: a value, an error, or neither.
type loadReading struct {
	v   float64
	ok  bool
	err error
}

// lastLoad keeps the load read by a prober's latest probe. A target's
// probes never overlap (the Monitor skips a tick while one is in
// flight), but they run on different goroutines: the mutex keeps that
// obvious to the race detector.
type lastLoad struct {
	mu sync.Mutex
	r  loadReading
}

func (l *lastLoad) set(r loadReading) {
	l.mu.Lock()
	l.r = r
	l.mu.Unlock()
}

func (l *lastLoad) get() (float64, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.v, l.r.ok, l.r.err
}

// loadNeedsBody says whether the load is read from the response body.
func loadNeedsBody(lf gslb.LoadFrom) bool {
	return lf.Kind == gslb.LoadFromJSON || lf.Kind == gslb.LoadFromBody
}

// readLoad reads the member's load from a response by lf (a capacity
// read becomes a load: gslb.LoadFrom.Load). body is what was read of
// it (at most gslb.MaxLoadBody+1 bytes) and bodyErr the error of reading
// it; both are ignored for a header.
func readLoad(lf gslb.LoadFrom, h http.Header, body []byte, bodyErr error) (float64, error) {
	v, err := readNumber(lf, h, body, bodyErr)
	if err != nil {
		return 0, err
	}
	if v, err = lf.Load(v); err != nil {
		return 0, fmt.Errorf("load: %s: %w", lf, err)
	}
	return v, nil
}

// readNumber reads the number lf names from a response, as readLoad.
func readNumber(lf gslb.LoadFrom, h http.Header, body []byte, bodyErr error) (float64, error) {
	switch lf.Kind {
	case gslb.LoadFromHeader:
		vs := h.Values(lf.Name)
		if len(vs) == 0 {
			return 0, fmt.Errorf("load: no %s header", lf.Name)
		}
		v, err := parseLoad(vs[0])
		if err != nil {
			return 0, fmt.Errorf("load: header %s: %w", lf.Name, err)
		}
		return v, nil
	case gslb.LoadFromBody, gslb.LoadFromJSON:
		if bodyErr != nil {
			return 0, fmt.Errorf("load: reading the body: %w", bodyErr)
		}
		if len(body) > gslb.MaxLoadBody {
			return 0, fmt.Errorf("load: body over %d bytes", gslb.MaxLoadBody)
		}
		if lf.Kind == gslb.LoadFromBody {
			v, err := parseLoad(string(body))
			if err != nil {
				return 0, fmt.Errorf("load: body: %w", err)
			}
			return v, nil
		}
		v, err := jsonLoad(body, lf.Path)
		if err != nil {
			return 0, fmt.Errorf("load: json %s: %w", lf.Name, err)
		}
		return v, nil
	}
	return 0, fmt.Errorf("load: unknown load_from kind %q", lf.Kind)
}

// jsonLoad finds path's value in a JSON document: a number, or a string
// holding one.
func jsonLoad(body []byte, path []string) (float64, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return 0, errors.New("empty body")
		}
		return 0, fmt.Errorf("bad JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return 0, errors.New("bad JSON: data after the document")
	}
	cur := doc
	for i, k := range path {
		obj, ok := cur.(map[string]any)
		if !ok {
			return 0, fmt.Errorf("%s is %s, not an object", pathName(path[:i]), jsonType(cur))
		}
		if cur, ok = obj[k]; !ok {
			return 0, fmt.Errorf("no key %q", strings.Join(path[:i+1], "."))
		}
	}
	switch v := cur.(type) {
	case json.Number:
		return parseLoad(v.String())
	case string:
		return parseLoad(v)
	}
	return 0, fmt.Errorf("value is %s, not a number", jsonType(cur))
}

func pathName(p []string) string {
	if len(p) == 0 {
		return "the document"
	}
	return strconv.Quote(strings.Join(p, "."))
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	}
	return fmt.Sprintf("%T", v)
}

// parseLoad reads a load: a finite, non-negative number, spaces around it
// ignored.
func parseLoad(s string) (float64, error) {
	t := strings.TrimSpace(s)
	v, err := strconv.ParseFloat(t, 64)
	switch {
	case err != nil:
		return 0, fmt.Errorf("%s is not a number", quoteShort(t))
	case math.IsNaN(v) || math.IsInf(v, 0):
		return 0, fmt.Errorf("%s is not a finite number", quoteShort(t))
	case v < 0:
		return 0, fmt.Errorf("%s is negative", quoteShort(t))
	}
	if v == 0 {
		v = 0 // -0 is 0
	}
	return v, nil
}

// quoteShort quotes s, cut to a length fit for a status line.
func quoteShort(s string) string {
	const most = 32
	if len(s) > most {
		return strconv.Quote(s[:most]) + "..."
	}
	return strconv.Quote(s)
}
