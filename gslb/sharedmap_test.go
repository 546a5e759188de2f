package gslb

import (
	"fmt"
	"maps"
	"testing"
)

// TestSharedMap: a clone reads its original's entries, and changes to
// it (sets, deletes) reach neither the original nor other clones.
func TestSharedMap(t *testing.T) {
	var a SharedMap[int]
	want := map[string]int{}
	for i := range 1000 {
		a.Set(fmt.Sprint("k", i), i)
		want[fmt.Sprint("k", i)] = i
	}
	b, c := a.Clone(), a.Clone()
	b.Set("k1", -1)
	b.Set("new", 7)
	b.Delete("k2")
	c.Delete("k1")
	if got := maps.Collect(a.All()); !maps.Equal(got, want) || a.Len() != 1000 {
		t.Fatalf("the original changed: %d entries", a.Len())
	}
	if v, _ := b.Get("k1"); v != -1 || b.Len() != 1000 {
		t.Errorf("b: k1 = %d, %d entries", v, b.Len())
	}
	if _, ok := b.Get("k2"); ok {
		t.Error("b: k2 not deleted")
	}
	if v, ok := c.Get("k1"); ok || c.Len() != 999 {
		t.Errorf("c: k1 = %d %v, %d entries", v, ok, c.Len())
	}
	if v, _ := c.Get("k3"); v != 3 {
		t.Errorf("c: k3 = %d", v)
	}
	c.Delete("absent")
	if c.Len() != 999 {
		t.Errorf("deleting an absent key changed the count")
	}
}
