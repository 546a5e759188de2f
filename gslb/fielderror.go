package gslb

import "errors"

// FieldError is a validation failure at a field path written as in the
// configuration file ("services[2].members[0].site"). A rule that judges
// a part (a Policy, a HealthCheck) names paths relative to it; its caller
// prefixes them with where the part was written (WithPathPrefix).
type FieldError struct {
	Path string
	Msg  string
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Msg }

// WithPathPrefix returns err with prefix put before the path of each
// *FieldError joined in it (errors.Join, nested), so a rule's relative
// paths ("min_up") name the field where it was written
// ("services[2].policy.min_up"). Other errors are kept as they are; nil
// stays nil.
func WithPathPrefix(prefix string, err error) error {
	var out []error
	for _, e := range Leaves(err) {
		var fe *FieldError
		if errors.As(e, &fe) {
			e = &FieldError{Path: prefix + fe.Path, Msg: fe.Msg}
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}

// FieldErrors lists the *FieldError values joined in err (nested joins
// flattened), in order; other errors are left out.
func FieldErrors(err error) []*FieldError {
	var out []*FieldError
	for _, e := range Leaves(err) {
		var fe *FieldError
		if errors.As(e, &fe) {
			out = append(out, fe)
		}
	}
	return out
}

// Leaves lists the errors joined in err (errors.Join, possibly nested),
// in order, each still printing as one line; nil for nil.
func Leaves(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, Leaves(e)...)
		}
		return out
	}
	return []error{err}
}

// reportError reports err, if any, at path.
func reportError(bad func(string, string, ...any), path string, err error) {
	if err != nil {
		bad(path, "%v", err)
	}
}

// reportFields reports each *FieldError of a rule's err at prefix + its
// path.
func reportFields(bad func(string, string, ...any), prefix string, err error) {
	for _, fe := range FieldErrors(err) {
		bad(prefix+fe.Path, "%s", fe.Msg)
	}
}
