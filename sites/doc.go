// Package sites will hold everything that crosses to other clusters and
// sites: member-cluster watchers on Kubernetes (issue #4) and gossip
// between Meridian sites with memberlist (issue #5). It is the only
// package that imports client-go and memberlist.
package sites
