package config

import (
	"cmp"
	"slices"
	"strings"

	"github.com/meridian-gslb/meridian/gslb"
)

// resplit cuts text's services list as splitServices would, knowing how
// it cut prev, the file's text at the last good load: a reload that
// edited one service among 100,000 re-cuts the lines around the edit and
// shifts the entries after it, rather than walk 30 MB line by line and
// hash every entry again (issue 10: this was half of such a reload).
// Like knot's differential zone updates, the cost follows the change.
//
// The text is compared with prev's from both ends; what differs is the
// change. ok is false unless the change lies inside the services list,
// from its first entry's line to its end: text outside the list is then
// byte for byte what it was, so the rest of the file decodes as it did.
// The caller then cuts the whole file (splitServices). Entries before
// the change keep their place; the lines from the entry the change
// starts in are classified again, as splitServices does, until a line
// of the unchanged tail that started an entry (or ended the list)
// before: from there the old entries follow, shifted. Entries whose
// text did not change carry kept, so the decode takes them by position.
func resplit(prev *servicesSplit, text string) (sp *servicesSplit, ok bool) {
	old := prev.text
	if len(prev.items) == 0 {
		return nil, false
	}
	n := commonPrefix(old, text)
	if n == len(old) && n == len(text) {
		return rekeyed(prev, text), true
	}
	m := commonSuffix(old[n:], text[n:])
	oldChangeEnd, newChangeEnd := len(old)-m, len(text)-m
	if n < prev.first || oldChangeEnd > prev.end {
		return nil, false
	}
	delta := len(text) - len(old)

	// Start at the entry holding the byte before the change: the change
	// may extend it, or make its first line no entry's.
	a := max(0, firstAt(prev.items, n)-1)
	pos, line := prev.items[a].off, prev.items[a].line
	var fresh []serviceItem
	tail, end := len(prev.items), -1 // the first old entry kept after the change; the list's end
	for end < 0 {
		if pos >= newChangeEnd {
			// This line and all after it are the old text, shifted.
			oldPos := pos - delta
			if oldPos == prev.end {
				end = pos
				break
			}
			if b := firstAt(prev.items, oldPos); b < len(prev.items) && prev.items[b].off == oldPos {
				tail, end = b, prev.end+delta
				break
			}
		}
		if pos == len(text) {
			return nil, false // a list that ends where it did not
		}
		lineEnd := len(text)
		if i := strings.IndexByte(text[pos:], '\n'); i >= 0 {
			lineEnd = pos + i + 1
		}
		l := text[pos:lineEnd]
		if d, isEntry := entryLine(l); isEntry && d == prev.indent {
			fresh = append(fresh, serviceItem{off: pos, line: line})
		} else if len(fresh) == 0 || !isBlankOrComment(l) && leadingSpaces(l) <= prev.indent {
			// Not under an entry: a line before the first, the end of the
			// list before the old one, or under-indented. Cut it all.
			return nil, false
		}
		pos, line = lineEnd, line+1
	}
	if unsure(text[prev.items[a].off:pos]) {
		return nil, false
	}
	items := make([]serviceItem, 0, a+len(fresh)+len(prev.items)-tail)
	items = appendKept(items, prev.items, 0, a, text, 0, 0)
	for k, it := range fresh {
		next := pos
		if k+1 < len(fresh) {
			next = fresh[k+1].off
		}
		it.key = text[it.off:next]
		it.sum = sumOf(it.key)
		items = append(items, it)
	}
	lineShift := 0
	if tail < len(prev.items) {
		lineShift = line - prev.items[tail].line
	}
	items = appendKept(items, prev.items, tail, len(prev.items), text, delta, lineShift)
	return &servicesSplit{text: text, items: items, indent: prev.indent, first: prev.first, end: end}, true
}

// rekeyed is prev for the same text read again: every entry kept.
func rekeyed(prev *servicesSplit, text string) *servicesSplit {
	sp := *prev
	sp.text = text
	sp.items = appendKept(make([]serviceItem, 0, len(prev.items)), prev.items, 0, len(prev.items), text, 0, 0)
	return &sp
}

// appendKept appends old entries from up to to, unchanged in text, as
// they stand in text: moved by delta bytes and lineShift lines, marked
// kept, their keys cut from text so that the old text can go.
func appendKept(items, old []serviceItem, from, to int, text string, delta, lineShift int) []serviceItem {
	var pc gslb.Pacer
	for i := from; i < to; i++ {
		pc.Step()
		it := old[i]
		it.off += delta
		it.line += lineShift
		it.key = text[it.off : it.off+len(it.key)]
		it.kept = i + 1
		items = append(items, it)
	}
	return items
}

// firstAt is the position of the first item at or after off.
func firstAt(items []serviceItem, off int) int {
	i, _ := slices.BinarySearchFunc(items, off, func(it serviceItem, off int) int { return cmp.Compare(it.off, off) })
	return i
}

// commonPrefix is the length of the longest common prefix of a and b,
// found a block at a time with memequal's vector loop.
func commonPrefix(a, b string) int {
	const block = 4096
	n := 0
	var pc gslb.Pacer
	for limit := min(len(a), len(b)); n+block <= limit && a[n:n+block] == b[n:n+block]; {
		n += block
		pc.Step()
	}
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// commonSuffix is the length of the longest common suffix of a and b.
func commonSuffix(a, b string) int {
	const block = 4096
	n := 0
	var pc gslb.Pacer
	for limit := min(len(a), len(b)); n+block <= limit && a[len(a)-n-block:len(a)-n] == b[len(b)-n-block:len(b)-n]; {
		n += block
		pc.Step()
	}
	for n < len(a) && n < len(b) && a[len(a)-n-1] == b[len(b)-n-1] {
		n++
	}
	return n
}

// compactRest is the text outside the services list, the list's lines
// left out: what a resplit's caller decodes the settings from. resplit
// guarantees that text is what the last good load decoded without error,
// so no error can come out of it to need the file's line numbers.
func compactRest(sp *servicesSplit) []byte {
	rest := make([]byte, 0, len(sp.text)-(sp.end-sp.first))
	rest = append(rest, sp.text[:sp.first]...)
	return append(rest, sp.text[sp.end:]...)
}
