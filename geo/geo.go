// Package geo places a client address on the map: custom CIDR rules from the
// config first, then a MaxMind-format (mmdb) City or Country database, and
// measures great-circle distances between places.
//
// Locate is on the DNS hot path, so it is built to allocate nothing once
// warm: rules live in a sorted slice or a binary trie, and database records
// are decoded once per record and kept in a lock-free cache keyed by the
// record's offset in the file (many networks share one record).
//
// It also owns the rules for places and client networks written by hand
// (codes.go: continents, countries, latitude, longitude; network.go:
// ParseNetwork), which the config loader, gslb and the Kubernetes policy
// compiler call.
//
// The package imports no other Meridian package.
package geo

import (
	"net/netip"
)

// Location is where a client or a site is.
type Location struct {
	Lat       float64 `json:"lat"`
	Lon       float64 `json:"lon"`
	HasCoords bool    `json:"has_coords"`          // Lat/Lon are meaningful
	Country   string  `json:"country,omitempty"`   // ISO 3166-1 alpha-2, upper case, "" when unknown
	Continent string  `json:"continent,omitempty"` // AF AN AS EU NA OC SA, "" when unknown
}

// Source says what located an address.
type Source uint8

const (
	SourceNone Source = iota // nothing located the address
	SourceRule               // a custom CIDR rule from the config
	SourceDB                 // the mmdb database
)

// String returns "none", "rule" or "database".
func (s Source) String() string {
	switch s {
	case SourceNone:
		return "none"
	case SourceRule:
		return "rule"
	case SourceDB:
		return "database"
	}
	return "unknown"
}

// Match is the result of locating one address.
//
// Prefix is the network that decided, sized for ECS (RFC 7871) scopes: every
// address in it gets the same Location, Site and Source. It is the rule's
// CIDR or the database network (for a database miss, the empty network the
// tree walk ended in), narrowed when needed so that it does not cover a more
// specific rule that the address itself is outside of. It is always Masked,
// and an IPv4 prefix for IPv4 (and 4in6-mapped) clients.
//
// A database miss, or a database record with neither coordinates, country
// nor continent, returns SourceNone with that network's Prefix: the answer
// "unlocated" is as exact for the network as a hit is. Only a nil Locator or
// an invalid address returns the zero Prefix.
type Match struct {
	Location Location
	Site     string       // set when a rule maps the network straight to a site
	Prefix   netip.Prefix // the network that decided; see above
	Source   Source
}
