// Command meridian is the Meridian GSLB authoritative DNS server.
//
//	meridian serve --config FILE     serve DNS and the HTTP API
//	meridian check-config FILE       validate a configuration file
//	meridian explain NAME --client IP  ask a running server why it answers as it does
//	meridian delegation check --config FILE  compare the parent's NS and glue with the config
//	meridian dnssec keygen|ds|status  DNSSEC keys, the parent's DS, what a server publishes
//	meridian version                 print the build
//
// Exit codes: 0 success, 1 a runtime or configuration error, 2 a usage error.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/meridian-gslb/meridian/config"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// command is one subcommand. run gets the arguments after its name.
type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
	hidden  bool // not listed by help: a tool of the demo and the tests
}

// runSub runs the subcommand args[0] of a command that has subcommands
// (delegation, dnssec): -h, --help and help print usage on stdout; no
// subcommand or an unknown one prints it on stderr and returns bad (each
// command's usage-error code).
func runSub(args []string, usage string, subs map[string]func([]string, io.Writer, io.Writer) int, bad int, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		if sub, ok := subs[args[0]]; ok {
			return sub(args[1:], stdout, stderr)
		}
		switch args[0] {
		case "-h", "--help", "help":
			fmt.Fprint(stdout, usage)
			return exitOK
		}
	}
	fmt.Fprint(stderr, usage)
	return bad
}

// commands is a function, not a variable, so that help can list the
// commands without an initialisation cycle and without global state.
func commands() []command {
	return []command{
		{"serve", "serve DNS and the HTTP API from a configuration file", runServe, false},
		{"check-config", "validate a configuration file and print every problem", runCheckConfig, false},
		{"explain", "ask a running server how it answers a name for a client", runExplain, false},
		{"version", "print the version, commit and Go version", runVersion, false},
		{"gossip-key", "print a new gossip key for gossip.key_file", runGossipKey, false},
		{"delegation", "check a zone's NS and glue in its parent zone (delegation check)", runDelegation, false},
		{"dnssec", "generate DNSSEC keys, print the DS, check what a server publishes", runDNSSEC, false},
		{"demo-backends", "serve the demo's HTTP backends (make run)", runDemoBackends, true},
	}
}

// run dispatches to a subcommand and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printUsage(stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "help", "-h", "--help":
		if len(args) > 1 && name == "help" {
			// "meridian help serve" is "meridian serve -h".
			return run([]string{args[1], "-h"}, stdout, stderr)
		}
		printUsage(stdout)
		return exitOK
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "meridian: unknown command %q\n\n", name)
	printUsage(stderr)
	return exitUsage
}

func printUsage(w io.Writer) {
	fmt.Fprintf(w, "Meridian is a GSLB authoritative DNS server.\n\nUsage:\n  meridian COMMAND [flags]\n\nCommands:\n")
	for _, c := range commands() {
		if !c.hidden {
			fmt.Fprintf(w, "  %-13s %s\n", c.name, c.summary)
		}
	}
	fmt.Fprintf(w, "  %-13s %s\n", "help", "print this help, or a command's with \"help COMMAND\"")
	fmt.Fprintf(w, "\nRun \"meridian COMMAND -h\" for a command's flags.\n")
}

// flagSet is a pflag set with the help text of one command. Help goes to
// stdout when asked for with -h, and to stderr after a usage error.
type flagSet struct {
	*pflag.FlagSet
	usage string // "meridian check-config FILE"
	desc  string
	help  *bool
}

func newFlagSet(name, usage, desc string) *flagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard) // parse reports errors itself, to the right stream
	fs.Usage = func() {}
	fs.SortFlags = false
	// -h is declared in parse, after the command's own flags, so that it
	// is listed last and aligned with them.
	return &flagSet{FlagSet: fs, usage: usage, desc: desc}
}

func (f *flagSet) printUsage(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s\n\n%s\n\nFlags:\n%s", f.usage, f.desc, f.FlagUsages())
}

// parse parses args. When done is true the command must return code: help
// was printed (0) or the flags were wrong (2).
func (f *flagSet) parse(args []string, stdout, stderr io.Writer) (code int, done bool) {
	if f.help == nil {
		f.help = f.BoolP("help", "h", false, "show this help")
	}
	err := f.Parse(args)
	switch {
	case err == nil && *f.help, errors.Is(err, pflag.ErrHelp):
		f.printUsage(stdout)
		return exitOK, true
	case err == nil:
		return exitOK, false
	}
	return f.fail(stderr, "%v", err), true
}

// fail reports a usage error and returns exitUsage.
func (f *flagSet) fail(stderr io.Writer, format string, args ...any) int {
	fmt.Fprintf(stderr, "%s: %s\n\n", strings.TrimSpace(f.Name()), fmt.Sprintf(format, args...))
	f.printUsage(stderr)
	return exitUsage
}

func runCheckConfig(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("check-config", "meridian check-config FILE",
		"Load and validate FILE exactly as serve would (environment overrides included)\n"+
			"and print \"FILE: OK (...)\" or every problem, one \"path: reason\" per line.")
	if code, done := fs.parse(args, stdout, stderr); done {
		return code
	}
	if fs.NArg() != 1 {
		return fs.fail(stderr, "want exactly one FILE, got %d arguments", fs.NArg())
	}
	file := fs.Arg(0)
	l, err := config.Load(config.Options{File: file})
	if err != nil {
		printErrors(stderr, err)
		return exitFail
	}
	fmt.Fprintf(stdout, "%s: OK (%s)\n", file, l.Summary())
	return exitOK
}

// printErrors prints each problem on its own line.
func printErrors(w io.Writer, err error) {
	for _, e := range config.Leaves(err) {
		fmt.Fprintln(w, e)
	}
}
