package main

import (
	"fmt"
	"io"

	"github.com/meridian-gslb/meridian/sites"
)

// runGossipKey prints a new gossip key for gossip.key_file.
func runGossipKey(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("gossip-key", "meridian gossip-key > gossip.key",
		"Print a new random gossip key (AES-256, base64) for gossip.key_file. To rotate,\n"+
			"add it as a second line everywhere, then move it first, then drop the old one;\n"+
			"each site rereads the file when it changes.")
	if code, done := fs.parse(args, stdout, stderr); done {
		return code
	}
	key, err := sites.GenerateKey()
	if err != nil {
		fmt.Fprintf(stderr, "meridian: %v\n", err)
		return exitFail
	}
	fmt.Fprintln(stdout, key)
	return exitOK
}
