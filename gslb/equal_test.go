package gslb

import (
	"fmt"
	"net/netip"
	"reflect"
	"testing"
)

// fill sets every field reachable from v to a non-zero value derived from
// seed: slices get two elements, pointers a value.
func fill(v reflect.Value, seed int) {
	switch x := v.Addr().Interface().(type) {
	case *netip.Addr:
		*x = netip.AddrFrom4([4]byte{10, 0, byte(seed >> 8), byte(seed)})
		return
	case *netip.Prefix:
		*x = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(seed), 0, 0}), 16)
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprint("v", seed))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(seed%100 + 1))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(seed%100 + 1))
	case reflect.Float64, reflect.Float32:
		v.SetFloat(float64(seed) + 0.5)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), seed+1)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fill(v.Index(i), seed*3+i)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			fill(v.Field(i), seed*7+i)
		}
	default:
		panic(fmt.Sprintf("fill: add kind %s (%s)", v.Kind(), v.Type()))
	}
}

// mutate changes the k-th leaf (in fill's order) of v, or a slice's
// length; it returns the leaf's path, or the number of leaves when there
// are fewer than k+1.
func mutate(v reflect.Value, path string, k *int) string {
	leaf := func(change func()) string {
		if *k == 0 {
			change()
			return path
		}
		*k--
		return ""
	}
	switch x := v.Addr().Interface().(type) {
	case *netip.Addr:
		return leaf(func() { *x = x.Next() })
	case *netip.Prefix:
		return leaf(func() { *x = netip.PrefixFrom(x.Addr(), x.Bits()+1) })
	}
	switch v.Kind() {
	case reflect.String:
		return leaf(func() { v.SetString(v.String() + "x") })
	case reflect.Bool:
		return leaf(func() { v.SetBool(!v.Bool()) })
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return leaf(func() { v.SetInt(v.Int() + 1) })
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return leaf(func() { v.SetUint(v.Uint() + 1) })
	case reflect.Float64, reflect.Float32:
		return leaf(func() { v.SetFloat(v.Float() + 1) })
	case reflect.Pointer:
		if p := leaf(func() { v.Set(reflect.Zero(v.Type())) }); p != "" {
			return p + "=nil"
		}
		return mutate(v.Elem(), path, k)
	case reflect.Slice:
		if p := leaf(func() { v.Set(v.Slice(0, 1)) }); p != "" {
			return p + ".len"
		}
		for i := range v.Len() {
			if p := mutate(v.Index(i), fmt.Sprintf("%s[%d]", path, i), k); p != "" {
				return p
			}
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if p := mutate(v.Field(i), path+"."+v.Type().Field(i).Name, k); p != "" {
				return p
			}
		}
	}
	return ""
}

// TestServiceEqualCoversEveryField fills every field of a Service by
// reflection, then changes one leaf at a time: Equal must see each
// change, so a field added to the model but not to Equal fails here.
func TestServiceEqualCoversEveryField(t *testing.T) {
	filled := func() *Service {
		var s Service
		fill(reflect.ValueOf(&s).Elem(), 1)
		return &s
	}
	a := filled()
	if b := filled(); !a.Equal(b) || !b.Equal(a) {
		t.Fatal("two services filled alike are not Equal")
	}
	leaves := 0
	for k := 0; ; k++ {
		b := filled()
		n := k
		path := mutate(reflect.ValueOf(b).Elem(), "Service", &n)
		if path == "" {
			break
		}
		leaves++
		if a.Equal(b) || b.Equal(a) {
			t.Errorf("Equal does not see a change of %s", path)
		}
	}
	if leaves < 40 {
		t.Fatalf("only %d leaves mutated: the walk is broken", leaves)
	}
}
