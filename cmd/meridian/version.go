package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/meridian-gslb/meridian/control"
)

// version and commit are set at link time:
//
//	go build -ldflags "-X main.version=v0.1.0 -X main.commit=$(git rev-parse --short HEAD)"
var (
	version = "dev"
	commit  = ""
)

// currentBuild is what `meridian version` prints and meridian_build_info
// exports.
func currentBuild() control.Build {
	b := control.Build{Version: version, Commit: commit, GoVersion: runtime.Version()}
	if b.Commit == "" {
		b.Commit = vcsRevision()
	}
	return b
}

// vcsRevision is the commit the Go toolchain stamped, when it did (builds
// with -buildvcs=false or outside a checkout have none).
func vcsRevision() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}

func runVersion(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("version", "meridian version", "Print the version, the commit and the Go version it was built with.")
	if code, done := fs.parse(args, stdout, stderr); done {
		return code
	}
	if fs.NArg() > 0 {
		return fs.fail(stderr, "version takes no arguments")
	}
	b := currentBuild()
	fmt.Fprintf(stdout, "meridian %s (commit %s, %s)\n", b.Version, b.Commit, b.GoVersion)
	return exitOK
}
