package config

import (
	"strings"
)

// serviceItem is one entry of the top-level services list, cut out of
// the file by splitServices.
type serviceItem struct {
	// key is the entry's lines, from its "- " line to the next entry: a
	// substring of the file.
	key  string
	sum  textSum // sumOf(key), computed once: the reload cache's key
	off  int     // where key starts in the file
	line int     // the file line it starts on, 1-based
	// kept is 1 + the entry's position in the split resplit started
	// from, when its text is that entry's, unchanged; 0 otherwise.
	kept int
}

// servicesSplit is a file's text and the services entries cut out of it:
// what a Loader keeps so that the next load re-cuts only around what
// changed (resplit).
type servicesSplit struct {
	text  string
	items []serviceItem
	// indent is the entries' indent; first and end are the list's bytes,
	// from its first entry's line to one past its last line.
	indent     int
	first, end int
}

// splitServices cuts the top-level block sequence `services:` out of a
// YAML file, so that its entries (most of a large file) can be parsed
// and decoded in parallel, and cached across reloads, while viper reads
// the rest. rest is the file with the entries' lines emptied, so every
// line keeps its number and the services key is still there, null.
//
// An entry starts at a line "<indent>- " (or a lone "-") at the
// sequence's indent and ends before the next such line or the next
// top-level key. Whatever the splitter cannot be sure of makes ok
// false, and the caller decodes the whole file as before: anchors,
// aliases and merge keys (& * <<) anywhere in the list, tabs, a flow
// style list, document markers or directives, a services key written
// twice or any other way, a line inside the list that is neither an
// entry's nor indented under one. Text that only looks right (a list
// inside a multi-line quoted string, say) is caught later: an entry or
// the rest then fails to parse, or the rest has no null services key,
// and the caller falls back as well.
func splitServices(data string) (rest []byte, sp *servicesSplit, ok bool) {
	f := lineIndex(data)
	start := -1 // the "services:" line
	for i := range f.count() {
		l := f.line(i)
		if isDocumentMarker(l) {
			return nil, nil, false
		}
		if isServicesKey(l) {
			if start >= 0 {
				return nil, nil, false // twice: the parser reports it
			}
			start = i
		}
	}
	if start < 0 {
		return nil, nil, false
	}
	first := start + 1
	for first < f.count() && isBlankOrComment(f.line(first)) {
		first++
	}
	if first == f.count() {
		return nil, nil, false
	}
	indent, isEntry := entryLine(f.line(first))
	if !isEntry {
		return nil, nil, false // not a block sequence
	}
	var starts []int // the entries' first lines
	end := first     // one past the list's last line
	for ; end < f.count(); end++ {
		l := f.line(end)
		if isBlankOrComment(l) || leadingSpaces(l) > indent {
			continue
		}
		if d, ok := entryLine(l); ok && d == indent {
			starts = append(starts, end)
			continue
		}
		if leadingSpaces(l) == 0 {
			break // the next top-level key
		}
		return nil, nil, false // under-indented: the parser judges it
	}
	if unsure(f.lines(first, end)) {
		return nil, nil, false
	}
	items := make([]serviceItem, len(starts))
	for k, s := range starts {
		e := end
		if k+1 < len(starts) {
			e = starts[k+1]
		}
		key := f.lines(s, e)
		items[k] = serviceItem{key: key, sum: sumOf(key), off: f.starts[s], line: s + 1}
	}
	rest = make([]byte, 0, len(data)-len(f.lines(first, end))+end-first)
	rest = append(rest, f.lines(0, first)...)
	for i := first; i < end; i++ {
		if strings.HasSuffix(f.line(i), "\n") {
			rest = append(rest, '\n')
		}
	}
	rest = append(rest, f.lines(end, f.count())...)
	return rest, &servicesSplit{text: data, items: items, indent: indent, first: f.starts[first], end: f.starts[end]}, true
}

// unsure reports list text the splitter does not cut: anchors, aliases
// and merge keys, which tie entries together, and tabs. IndexByte, not
// ContainsAny: it scans 30 MB (100k services) at memory speed, where
// ContainsAny's byte loop took 25 ms.
func unsure(list string) bool {
	return strings.IndexByte(list, '\t') >= 0 || strings.IndexByte(list, '&') >= 0 ||
		strings.IndexByte(list, '*') >= 0 || strings.Contains(list, "<<")
}

// lines indexes the lines of a text; each keeps its "\n" (or "\r\n").
type lines struct {
	text   string
	starts []int // where each line starts, then len(text)
}

func lineIndex(text string) lines {
	starts := make([]int, 0, strings.Count(text, "\n")+2)
	for i := 0; i < len(text); {
		starts = append(starts, i)
		n := strings.IndexByte(text[i:], '\n')
		if n < 0 {
			break
		}
		i += n + 1
	}
	return lines{text: text, starts: append(starts, len(text))}
}

func (f lines) count() int { return len(f.starts) - 1 }

// line is line i (0-based).
func (f lines) line(i int) string { return f.text[f.starts[i]:f.starts[i+1]] }

// lines is lines from up to to (exclusive), a substring of the text.
func (f lines) lines(from, to int) string { return f.text[f.starts[from]:f.starts[to]] }

// content is a line without its line break.
func content(l string) string {
	l = strings.TrimSuffix(l, "\n")
	return strings.TrimSuffix(l, "\r")
}

// isServicesKey reports the line "services:", at the top level, with
// nothing after the colon but spaces and a comment.
func isServicesKey(l string) bool {
	rest, ok := strings.CutPrefix(content(l), "services:")
	if !ok {
		return false
	}
	rest = strings.TrimLeft(rest, " ")
	return rest == "" || rest[0] == '#'
}

// isDocumentMarker reports "---", "..." or a directive ("%YAML"): a
// stream of several documents, or one whose tags are redefined.
func isDocumentMarker(l string) bool {
	c := content(l)
	if strings.HasPrefix(c, "%") {
		return true
	}
	for _, m := range []string{"---", "..."} {
		if r, ok := strings.CutPrefix(c, m); ok && (r == "" || r[0] == ' ') {
			return true
		}
	}
	return false
}

func isBlankOrComment(l string) bool {
	c := strings.TrimLeft(content(l), " ")
	return c == "" || c[0] == '#'
}

func leadingSpaces(l string) int {
	n := 0
	for n < len(l) && l[n] == ' ' {
		n++
	}
	return n
}

// entryLine reports whether l starts a block sequence entry ("- " or a
// lone "-") and at which indent.
func entryLine(l string) (indent int, ok bool) {
	c := content(l)
	n := leadingSpaces(c)
	if n >= len(c) || c[n] != '-' {
		return 0, false
	}
	return n, n+1 == len(c) || c[n+1] == ' '
}
