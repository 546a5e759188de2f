package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version and commit are set at link time:
//
//	go build -ldflags "-X main.version=v0.1.0 -X main.commit=$(git rev-parse --short HEAD)"
var (
	version = "dev"
	commit  = ""
)

// buildInfo is what `meridian version` prints and meridian_build_info
// exports.
type buildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	GoVersion string `json:"goversion"`
}

func currentBuild() buildInfo {
	b := buildInfo{Version: version, Commit: commit, GoVersion: runtime.Version()}
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

func (b buildInfo) String() string {
	return fmt.Sprintf("meridian %s (commit %s, %s)", b.Version, b.Commit, b.GoVersion)
}

func runVersion(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("version", "meridian version", "Print the version, the commit and the Go version it was built with.")
	if code, done := fs.parse(args, stdout, stderr); done {
		return code
	}
	if fs.NArg() > 0 {
		return fs.fail(stderr, "version takes no arguments")
	}
	fmt.Fprintln(stdout, currentBuild())
	return exitOK
}
