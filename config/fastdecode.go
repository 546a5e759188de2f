package config

import (
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// fastDecode decodes a parsed services entry straight from its YAML
// node into out, for the plain values almost every entry holds: maps
// with known keys, lists, strings, decimal numbers in range, true and
// false, durations such as "10s". It declines (false) everything else
// (an unknown key, a type mismatch, a quoted number, an expect_status, a
// number out of range, ...), and the caller then decodes the entry the
// one exact way (yaml into maps, then mapstructure with decoderOptions),
// which also words the errors. So it never decides anything the exact
// decode would decide differently; it only skips, for 100,000 entries,
// the building of maps and mapstructure's reflection, most of a load.
// TestFastDecodeAgrees holds the two to the same results.
func fastDecode(n *yaml.Node, out *ServiceConfig) bool {
	return fastValue(n, reflect.ValueOf(out).Elem())
}

func fastValue(n *yaml.Node, v reflect.Value) bool {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return true // mapstructure leaves the field as it is: zero
	}
	switch v.Type() {
	case durationType:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
			return false
		}
		d, err := time.ParseDuration(strings.TrimSpace(n.Value))
		if err != nil {
			return false
		}
		v.SetInt(int64(d))
		return true
	case statusCodesType:
		return false // lists of codes and ranges: rare, and many forms
	}
	switch v.Kind() {
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		if !fastValue(n, p.Elem()) {
			return false
		}
		v.Set(p)
		return true
	case reflect.Struct:
		return fastStruct(n, v)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return false
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, e := range n.Content {
			if !fastValue(e, s.Index(i)) {
				return false
			}
		}
		v.Set(s)
		return true
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
			return false
		}
		v.SetString(n.Value)
		return true
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || (n.Value != "true" && n.Value != "false") {
			return false
		}
		v.SetBool(n.Value == "true")
		return true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, ok := plainInt(n)
		if !ok || v.OverflowInt(i) {
			return false
		}
		v.SetInt(i)
		return true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		i, ok := plainInt(n)
		if !ok || i < 0 || v.OverflowUint(uint64(i)) {
			return false
		}
		v.SetUint(uint64(i))
		return true
	case reflect.Float32, reflect.Float64:
		f, ok := plainFloat(n)
		if !ok || v.OverflowFloat(f) {
			return false
		}
		v.SetFloat(f)
		return true
	}
	return false
}

// plainInt reads a decimal integer written plainly ("30", "-5"): the
// form whose meaning yaml and the number hook agree on without doubt
// (yaml reads "010" as octal, for one).
func plainInt(n *yaml.Node) (int64, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || !isDecimal(n.Value, false) {
		return 0, false
	}
	i, err := strconv.ParseInt(n.Value, 10, 64)
	return i, err == nil
}

// plainFloat reads "53.35", "-6", "0.5": an integer or a decimal fraction.
func plainFloat(n *yaml.Node) (float64, bool) {
	if n.Kind != yaml.ScalarNode {
		return 0, false
	}
	switch n.ShortTag() {
	case "!!int":
		i, ok := plainInt(n)
		return float64(i), ok
	case "!!float":
		if !isDecimal(n.Value, true) {
			return 0, false
		}
		f, err := strconv.ParseFloat(n.Value, 64)
		return f, err == nil
	}
	return 0, false
}

// isDecimal reports "-?(0|[1-9][0-9]*)", with a fraction ".[0-9]+" when
// fraction is set.
func isDecimal(s string, fraction bool) bool {
	s = strings.TrimPrefix(s, "-")
	whole, frac, dot := strings.Cut(s, ".")
	if whole == "" || (len(whole) > 1 && whole[0] == '0') || !allDigits(whole) {
		return false
	}
	if !dot {
		return true
	}
	return fraction && frac != "" && allDigits(frac)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// fastStruct decodes a map into a struct by its mapstructure tags. Keys
// are matched lower-cased, as viper does; a key twice is declined (yaml
// reports it when it decodes into maps).
func fastStruct(n *yaml.Node, v reflect.Value) bool {
	if n.Kind != yaml.MappingNode {
		return false
	}
	fields := structFields(v.Type())
	var seen uint64 // field indexes already set
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
			return false
		}
		f, ok := fields[k.Value]
		if !ok {
			if f, ok = fields[strings.ToLower(k.Value)]; !ok {
				return false
			}
		}
		if seen&(1<<f) != 0 {
			return false
		}
		seen |= 1 << f
		if !fastValue(n.Content[i+1], v.Field(f)) {
			return false
		}
	}
	return true
}

var fieldTables sync.Map // reflect.Type -> map[string]int

// structFields maps a struct's mapstructure tags to its field indexes.
func structFields(t reflect.Type) map[string]int {
	if m, ok := fieldTables.Load(t); ok {
		return m.(map[string]int)
	}
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		if tag := t.Field(i).Tag.Get("mapstructure"); tag != "" && i < 64 {
			m[tag] = i
		}
	}
	fieldTables.Store(t, m)
	return m
}
