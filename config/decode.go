package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/go-viper/mapstructure/v2"

	"github.com/meridian-gslb/meridian/gslb"
)

// decodeErrors turns mapstructure's errors into field errors: its
// DecodeError carries the field path ("services[0].policy"), and an
// unknown key becomes one error at the key's own path, with a suggestion
// when the key looks like a typo of a known one. base is the path of
// the value decoded ("" for the file, "services[3]" for one service).
func decodeErrors(base string, err error) []error {
	var out []error
	for _, e := range decodeLeaves(err) {
		if de, ok := e.(*mapstructure.DecodeError); ok { //nolint:errorlint // a leaf of decodeLeaves
			out = append(out, fromDecodeError(base, de)...)
		} else {
			out = append(out, e)
		}
	}
	return out
}

// decodeLeaves flattens mapstructure's error tree, in its order, into
// its DecodeErrors and any other errors.
func decodeLeaves(err error) []error {
	var out []error
	var walk func(error)
	walk = func(e error) {
		switch x := e.(type) { //nolint:errorlint // walks the error tree itself, level by level
		case *mapstructure.DecodeError:
			out = append(out, x)
		case interface{ Unwrap() []error }:
			for _, c := range x.Unwrap() {
				walk(c)
			}
		case interface{ Unwrap() error }:
			if u := x.Unwrap(); u != nil {
				walk(u)
				return
			}
			out = append(out, e)
		default:
			out = append(out, e)
		}
	}
	walk(err)
	return out
}

// isTopLevelUnknownKeys reports mapstructure's error for the unknown keys
// at the top of the file: it comes after every section's own errors.
func isTopLevelUnknownKeys(e error) bool {
	de, ok := e.(*mapstructure.DecodeError) //nolint:errorlint // a leaf of decodeLeaves
	return ok && de.Name() == "" && strings.HasPrefix(de.Unwrap().Error(), invalidKeys)
}

const invalidKeys = "has invalid keys: "

func fromDecodeError(base string, de *mapstructure.DecodeError) []error {
	name, inner := joinPath(base, de.Name()), de.Unwrap()
	if msg := inner.Error(); strings.HasPrefix(msg, invalidKeys) {
		var out []error
		known := keysAt(reflect.TypeOf(Config{}), name)
		for _, k := range strings.Split(strings.TrimPrefix(msg, invalidKeys), ", ") {
			m := "unknown key"
			if s := suggest(k, known); s != "" {
				m += fmt.Sprintf(" (did you mean %q?)", s)
			}
			out = append(out, &gslb.FieldError{Path: joinPath(name, k), Msg: m})
		}
		return out
	}
	if name == "" {
		name = "config"
	}
	return []error{&gslb.FieldError{Path: name, Msg: decodeReason(inner)}}
}

func joinPath(parent, key string) string {
	switch {
	case parent == "":
		return key
	case key == "":
		return parent
	}
	return parent + "." + key
}

// decodeReason rewords mapstructure's type errors in the file's terms.
func decodeReason(err error) string {
	var pe *mapstructure.ParseError
	var ue *mapstructure.UnconvertibleTypeError
	switch {
	case errors.As(err, &pe):
		return fmt.Sprintf("want %s, got %s", kindName(pe.Expected.Type()), valueText(pe.Value))
	case errors.As(err, &ue):
		return fmt.Sprintf("want %s, got %s", kindName(ue.Expected.Type()), valueText(ue.Value))
	}
	msg := err.Error()
	for prefix, want := range map[string]string{
		"expected a map or struct, got ":              "a map",
		"source data must be an array or slice, got ": "a list",
	} {
		if got, ok := strings.CutPrefix(msg, prefix); ok {
			return fmt.Sprintf("want %s, got %s", want, goKindWord(strings.Trim(got, `"`)))
		}
	}
	return msg
}

// goKindWord names a reflect.Kind as the file would: "slice" is a list.
func goKindWord(kind string) string {
	switch kind {
	case "slice", "array":
		return "a list"
	case "map", "struct":
		return "a map"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "int", "uint", "float32", "float64", "int64", "uint64":
		return "a number"
	}
	return kind
}

func valueText(v any) string {
	switch v.(type) {
	case map[string]any, []any:
		return kindName(reflect.TypeOf(v))
	case string:
		return fmt.Sprintf("%q", v)
	}
	return fmt.Sprint(v)
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a map"
	case reflect.Pointer:
		return kindName(t.Elem())
	}
	return t.String()
}

// keysAt lists the keys allowed at a decode path such as
// "services[0].policy", read from the mapstructure tags.
func keysAt(t reflect.Type, path string) []string {
	for _, seg := range strings.Split(path, ".") {
		if seg == "" {
			continue
		}
		if i := strings.IndexByte(seg, '['); i >= 0 {
			seg = seg[:i]
		}
		t = deref(t)
		if t.Kind() != reflect.Struct {
			return nil
		}
		found := false
		for i := 0; i < t.NumField(); i++ {
			if t.Field(i).Tag.Get("mapstructure") == seg {
				t, found = t.Field(i).Type, true
				break
			}
		}
		if !found {
			return nil
		}
	}
	t = deref(t)
	if t.Kind() != reflect.Struct {
		return nil
	}
	keys := make([]string, 0, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		keys = append(keys, t.Field(i).Tag.Get("mapstructure"))
	}
	return keys
}

// deref looks through pointers and slices to the element type.
func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	return t
}

// suggest returns the known key closest to k when it is near enough to
// be a typo.
func suggest(k string, known []string) string {
	best, bestD := "", 3
	for _, c := range known {
		if d := editDistance(k, c); d < bestD && d < max(len(c)/2, 1)+1 {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
