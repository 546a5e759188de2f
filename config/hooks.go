package config

import (
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"time"
)

var durationType = reflect.TypeOf(Duration(0))

// decodeHooks are the conversions of every decode, in order.
var decodeHooks = []func(from, to reflect.Type, data any) (any, error){
	durationHook, stringListHook, numberHook, statusCodesHook, textHook,
}

// decodeHook runs decodeHooks one after the other, as
// mapstructure.ComposeDecodeHookFunc would, but only for the types they
// convert into: mapstructure calls it for every value (every map, list
// and string of 100,000 services), and for the other types every hook
// returns its input unchanged.
func decodeHook(from, to reflect.Type, data any) (any, error) {
	if !hookedType(to) {
		return data, nil
	}
	for _, h := range decodeHooks {
		var err error
		if data, err = h(from, to, data); err != nil {
			return nil, err
		}
		from = reflect.TypeOf(data)
	}
	return data, nil
}

// hookedType reports the types some decode hook converts into.
func hookedType(to reflect.Type) bool {
	switch to {
	case durationType, stringsType, statusCodesType, textType:
		return true
	}
	switch to.Kind() {
	case reflect.Bool, reflect.Float32, reflect.Float64,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

// durationHook reads Go duration strings ("10s"). A bare number is
// refused: 10 would silently mean ten nanoseconds.
func durationHook(_ reflect.Type, to reflect.Type, data any) (any, error) {
	if to != durationType {
		return data, nil
	}
	switch v := data.(type) {
	case string:
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("want a duration such as \"10s\", got %q", v)
		}
		return Duration(d), nil
	case Duration, time.Duration:
		return v, nil
	default:
		if reflect.ValueOf(data).IsZero() {
			return Duration(0), nil
		}
		return nil, fmt.Errorf("want a duration with a unit such as \"10s\", got %v", data)
	}
}

var stringsType = reflect.TypeOf([]string(nil))

// stringListHook lets one string stand for a list, split at commas, so that
// MERIDIAN_DNS_LISTEN="127.0.0.1:53,[::1]:53" sets two addresses.
func stringListHook(from reflect.Type, to reflect.Type, data any) (any, error) {
	if from.Kind() != reflect.String || to != stringsType {
		return data, nil
	}
	s := strings.TrimSpace(data.(string))
	if s == "" {
		return []string{}, nil
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts, nil
}

// numberHook converts into numeric and boolean fields strictly: strings
// (every environment value is one) are parsed in base 10, negative values
// never reach unsigned fields, a fraction never reaches an integer, and a
// value too large for the field is an error rather than a wrap-around.
func numberHook(_ reflect.Type, to reflect.Type, data any) (any, error) {
	switch k := to.Kind(); {
	case to == durationType || data == nil:
		return data, nil
	case k == reflect.Bool:
		if s, ok := data.(string); ok {
			b, err := strconv.ParseBool(strings.TrimSpace(s))
			if err != nil {
				return nil, fmt.Errorf("want true or false, got %q", s)
			}
			return b, nil
		}
	case k == reflect.Float32 || k == reflect.Float64:
		if s, ok := data.(string); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil {
				return nil, fmt.Errorf("want a number, got %q", s)
			}
			return f, nil
		}
	case k >= reflect.Int && k <= reflect.Int64, k >= reflect.Uint && k <= reflect.Uint64:
		return toInteger(to, data)
	}
	return data, nil
}

// toInteger converts data into the integer type to, checking its range.
func toInteger(to reflect.Type, data any) (any, error) {
	unsigned := to.Kind() >= reflect.Uint
	want := "an integer"
	if unsigned {
		want = "a non-negative integer"
	}
	var n *big.Int
	switch v := reflect.ValueOf(data); v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n = big.NewInt(v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n = new(big.Int).SetUint64(v.Uint())
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if f != math.Trunc(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("want %s, got %v", want, f)
		}
		n, _ = big.NewFloat(f).Int(nil)
	case reflect.String:
		var ok bool
		if n, ok = new(big.Int).SetString(strings.TrimSpace(v.String()), 10); !ok {
			return nil, fmt.Errorf("want %s, got %q", want, v.String())
		}
	default:
		return data, nil // not a number: mapstructure reports the type
	}
	lo, hi := intRange(to)
	switch {
	case unsigned && n.Sign() < 0:
		return nil, fmt.Errorf("want %s, got %v", want, n)
	case n.Cmp(lo) < 0:
		return nil, fmt.Errorf("%v is too small (at least %v)", n, lo)
	case n.Cmp(hi) > 0:
		return nil, fmt.Errorf("%v is too large (at most %v)", n, hi)
	}
	out := reflect.New(to).Elem()
	if unsigned {
		out.SetUint(n.Uint64())
	} else {
		out.SetInt(n.Int64())
	}
	return out.Interface(), nil
}

// intRange is the smallest and largest value of an integer type.
func intRange(t reflect.Type) (lo, hi *big.Int) {
	bits := uint(t.Bits())
	one := big.NewInt(1)
	if t.Kind() >= reflect.Uint {
		return big.NewInt(0), new(big.Int).Sub(new(big.Int).Lsh(one, bits), one)
	}
	hi = new(big.Int).Sub(new(big.Int).Lsh(one, bits-1), one)
	return new(big.Int).Neg(new(big.Int).Add(hi, one)), hi
}

var (
	statusCodesType = reflect.TypeOf(StatusCodes(nil))
	textType        = reflect.TypeOf(Text(""))
)

// statusCodesHook reads expect_status as a list of codes and ranges, or
// one string or code: 200, "200-399", [200, "300-399"].
func statusCodesHook(_ reflect.Type, to reflect.Type, data any) (any, error) {
	if to != statusCodesType || data == nil {
		return data, nil
	}
	item := func(v any) (string, error) {
		switch x := v.(type) {
		case string:
			return x, nil
		case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
			return fmt.Sprint(x), nil
		case float64:
			if x == float64(int(x)) {
				return strconv.Itoa(int(x)), nil
			}
		}
		return "", fmt.Errorf("want status codes such as 200 or \"200-399\", got %v", v)
	}
	switch v := data.(type) {
	case StatusCodes:
		return v, nil
	case []any:
		out := make(StatusCodes, 0, len(v))
		for _, e := range v {
			s, err := item(e)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	case []string:
		return StatusCodes(v), nil
	default:
		s, err := item(v)
		if err != nil {
			return nil, err
		}
		return StatusCodes{s}, nil
	}
}

// textHook lets a number stand for a Text value.
func textHook(_ reflect.Type, to reflect.Type, data any) (any, error) {
	if to != textType || data == nil {
		return data, nil
	}
	switch v := data.(type) {
	case string:
		return Text(v), nil
	case float64:
		return Text(strconv.FormatFloat(v, 'g', -1, 64)), nil
	case float32:
		return Text(strconv.FormatFloat(float64(v), 'g', -1, 32)), nil
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return Text(fmt.Sprint(v)), nil
	}
	return nil, fmt.Errorf("want a string or a number, got %v", data)
}
