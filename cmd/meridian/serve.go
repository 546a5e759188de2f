package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/control"
	"github.com/meridian-gslb/meridian/httpapi"
)

func runServe(args []string, stdout, stderr io.Writer) int {
	// SIGHUP's default action ends the process: catch it before anything
	// slow, so that an early reload request cannot kill the server.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first signal, a second one ends the process at once
		// (the default action): an operator's second Ctrl-C means it.
		<-ctx.Done()
		stop()
	}()

	fs := newFlagSet("serve", "meridian serve [--config FILE] [flags]",
		"Serve DNS and the HTTP API from a configuration file. SIGHUP or a change of the\n"+
			"file (or of its zone files or geo database) reloads it; a configuration that\n"+
			"does not validate is logged and the running one kept. SIGINT/SIGTERM stop.")
	file := fs.StringP("config", "c", os.Getenv("MERIDIAN_CONFIG"), "configuration file; $MERIDIAN_CONFIG sets the default")
	fs.StringSlice("dns-listen", nil, "DNS listen addresses, host:port, comma separated (overrides dns.listen)")
	fs.String("http-listen", "", "HTTP API listen address, host:port (overrides http.listen)")
	fs.String("log-level", "", "debug, info, warn or error (overrides log.level)")
	fs.String("log-format", "", "text or json (overrides log.format)")
	fs.String("geo-database", "", "MaxMind-format database file (overrides geo.database)")
	readyFile := fs.String("ready-file", "", "once serving, write the bound addresses as JSON to this file\n(useful with port 0)")
	if code, done := fs.parse(args, stdout, stderr); done {
		return code
	}
	switch {
	case fs.NArg() > 0:
		return fs.fail(stderr, "unexpected arguments %q (the file goes after --config)", fs.Args())
	case *file == "":
		return fs.fail(stderr, "no configuration: give --config FILE or set MERIDIAN_CONFIG")
	}

	opts := config.Options{File: *file, Flags: fs.FlagSet}
	l, err := config.Load(opts)
	if err != nil {
		fmt.Fprintf(stderr, "meridian: %s is not a valid configuration:\n", *file)
		printErrors(stderr, err)
		return exitFail
	}
	log, level := l.Config.Log.Logger(stderr)
	slog.SetDefault(log)

	s, err := control.New(l, control.Options{
		Load:  opts,
		Log:   log,
		Level: level,
		Build: currentBuild(),
		API:   func(s *control.Server) http.Handler { return httpapi.ForServer(s).Routes() },
	})
	if err != nil {
		log.Error("cannot start", "error", err)
		return exitFail
	}
	// SIGINT and SIGTERM end in a clean stop: exit 0, which Kubernetes
	// reads as a normal end rather than a crash.
	if err := s.Run(ctx, hup, *readyFile); err != nil {
		return exitFail // Run logged why
	}
	return exitOK
}
