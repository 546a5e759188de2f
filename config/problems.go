package config

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/meridian-gslb/meridian/gslb"
)

// problems collects every error of one load, so that the operator sees
// them all at once instead of fixing one per run.
type problems struct {
	list []error
}

func (p *problems) add(path, format string, args ...any) {
	p.list = append(p.list, &gslb.FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// addErr records err, if any, at path.
func (p *problems) addErr(path string, err error) {
	if err != nil {
		p.add(path, "%v", err)
	}
}

// has reports whether a problem was already recorded at path.
func (p *problems) has(path string) bool {
	for _, e := range p.list {
		var fe *gslb.FieldError
		if errors.As(e, &fe) && fe.Path == path {
			return true
		}
	}
	return false
}

// under reports whether a problem was recorded at path or inside it.
func (p *problems) under(path string) bool {
	for _, e := range p.list {
		var fe *gslb.FieldError
		if errors.As(e, &fe) && (fe.Path == path || strings.HasPrefix(fe.Path, path+".") || strings.HasPrefix(fe.Path, path+"[")) {
			return true
		}
	}
	return false
}

// validated adds gslb's validation errors in the file's terms, except
//   - at paths the conversion already reported: a bad address is kept as
//     an invalid netip.Addr so the indexes stay right, and Validate would
//     call it "not an IP address" again;
//   - inside zones whose zone_file failed to load: their missing SOA and
//     name servers only repeat that failure.
func (p *problems) validated(err error, failedZones map[int]bool) {
	reported := len(p.list)
	for _, e := range Leaves(err) {
		var fe *gslb.FieldError
		if !errors.As(e, &fe) {
			p.list = append(p.list, e)
			continue
		}
		path := filePath(fe.Path)
		if p.hasIn(path, reported) || inFailedZone(path, failedZones) {
			continue
		}
		p.list = append(p.list, &gslb.FieldError{Path: path, Msg: fe.Msg})
	}
}

// filePath turns a gslb field path into the file's: gslb nests the
// persistence masks (persistence.mask.ipv4), the file has them flat
// (persistence.ipv4_mask).
func filePath(path string) string {
	path = strings.Replace(path, ".persistence.mask.ipv4", ".persistence.ipv4_mask", 1)
	return strings.Replace(path, ".persistence.mask.ipv6", ".persistence.ipv6_mask", 1)
}

func inFailedZone(path string, failed map[int]bool) bool {
	for i := range failed {
		if strings.HasPrefix(path, fmt.Sprintf("zones[%d].", i)) {
			return true
		}
	}
	return false
}

func (p *problems) hasIn(path string, n int) bool {
	for _, e := range p.list[:n] {
		var fe *gslb.FieldError
		if errors.As(e, &fe) && (fe.Path == path || strings.HasPrefix(fe.Path, path+"[")) {
			return true
		}
	}
	return false
}

// adopt adds the errors of another package under prefix ("zones[0].",
// "geo."). Those packages cannot return gslb.FieldError (geo is below
// gslb) so their messages start with a relative path, "records[2]: ..."
// or "zone_file PATH line 3: ...": a leading token counts as a path when
// it has an index or starts with one of keys. It reports whether err was
// non-nil.
func (p *problems) adopt(prefix string, err error, keys ...string) bool {
	if err == nil {
		return false
	}
	for _, e := range Leaves(err) {
		var fe *gslb.FieldError
		if errors.As(e, &fe) {
			p.list = append(p.list, &gslb.FieldError{Path: prefix + fe.Path, Msg: fe.Msg})
			continue
		}
		path, msg := splitPath(trimPackage(e.Error()), keys)
		msg = oneFileName(msg)
		if path == "" {
			p.list = append(p.list, &gslb.FieldError{Path: strings.TrimSuffix(prefix, "."), Msg: msg})
			continue
		}
		p.list = append(p.list, &gslb.FieldError{Path: prefix + path, Msg: msg})
	}
	return true
}

// trimPackage drops a leading "geo: "-style package name: the field
// path says where the problem is better than the package does.
func trimPackage(msg string) string {
	for _, pkg := range []string{"geo: ", "dnsserver: ", "gslb: "} {
		msg = strings.TrimPrefix(msg, pkg)
	}
	return msg
}

// oneFileName shortens "/x.zone: open /x.zone: no such file or directory"
// to "/x.zone: no such file or directory": os errors repeat the name.
func oneFileName(msg string) string {
	i := strings.Index(msg, ": open ")
	if i <= 0 {
		return msg
	}
	name, rest := msg[:i], msg[i+len(": open "):]
	if strings.HasPrefix(rest, name+": ") {
		return name + ": " + rest[len(name)+2:]
	}
	return msg
}

// splitPath splits "records[2]: bad" into ("records[2]", "bad") and
// "zone_file /x line 3: bad" into ("zone_file", "/x line 3: bad").
func splitPath(s string, keys []string) (path, msg string) {
	n := strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("_.[]", r))
	})
	if n <= 0 || (s[n] != ':' && s[n] != ' ') {
		return "", s
	}
	tok := s[:n]
	first := strings.FieldsFunc(tok, func(r rune) bool { return r == '.' || r == '[' })[0]
	known := false
	for _, k := range keys {
		known = known || k == first
	}
	if !known && !strings.Contains(tok, "[") {
		return "", s
	}
	return tok, strings.TrimSpace(strings.TrimPrefix(s[n:], ":"))
}

// err joins the problems in the order of the file's sections (dns,
// http, log, geo, zones, sites, services) and of the entries within a
// section, whatever order the checks found them in.
func (p *problems) err() error {
	slices.SortStableFunc(p.list, func(a, b error) int {
		return cmp.Or(cmp.Compare(sectionRank(a), sectionRank(b)), cmp.Compare(entryIndex(a), entryIndex(b)))
	})
	return errors.Join(p.list...)
}

// sections are the top-level keys in file order.
var sections = []string{"dns", "http", "log", "geo", "health", "admin", "gossip", "kubernetes", "zones", "sites", "services"}

func sectionRank(err error) int {
	var fe *gslb.FieldError
	if !errors.As(err, &fe) {
		return -1 // a file that does not parse comes first
	}
	top, _, _ := strings.Cut(fe.Path, ".")
	top, _, _ = strings.Cut(top, "[")
	if i := slices.Index(sections, top); i >= 0 {
		return i
	}
	return len(sections)
}

// entryIndex is the first list index in the path: 3 for
// "services[3].members[0].site", -1 when there is none.
func entryIndex(err error) int {
	var fe *gslb.FieldError
	if !errors.As(err, &fe) {
		return -1
	}
	_, rest, ok := strings.Cut(fe.Path, "[")
	if !ok {
		return -1
	}
	n, _, _ := strings.Cut(rest, "]")
	i, err2 := strconv.Atoi(n)
	if err2 != nil {
		return -1
	}
	return i
}

// Leaves flattens joined errors (errors.Join, possibly nested) into the
// individual errors, each still printing as one line: gslb.Leaves, which
// the commands reach through config.
var Leaves = gslb.Leaves

// OneLine joins every problem with "; " so that one log record carries
// them all, each with its field path.
func OneLine(err error) string {
	var parts []string
	for _, e := range Leaves(err) {
		parts = append(parts, e.Error())
	}
	return strings.Join(parts, "; ")
}
