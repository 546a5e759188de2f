package gslb

import (
	"errors"
	"testing"
)

func TestWithPathPrefix(t *testing.T) {
	other := errors.New("not a field")
	err := WithPathPrefix("x.", errors.Join(&FieldError{Path: "a", Msg: "m"}, errors.Join(&FieldError{Path: "b[1]", Msg: "n"}, other)))
	got := Leaves(err)
	if len(got) != 3 || got[0].Error() != "x.a: m" || got[1].Error() != "x.b[1]: n" || !errors.Is(got[2], other) {
		t.Errorf("WithPathPrefix = %q", got)
	}
	if WithPathPrefix("x.", nil) != nil {
		t.Error("WithPathPrefix(nil) is not nil")
	}
}
