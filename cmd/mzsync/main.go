package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// Exit codes, as the README documents them.
const (
	exitOK      = 0 // success, or no changes
	exitError   = 1 // any error
	exitChanges = 2 // changes pending or drift found (only with --detailed-exitcode)
	exitTimeout = 3 // readiness timeout (apply --wait)
)

// env is what a command may touch of the process: its streams and
// environment. Tests substitute it.
type env struct {
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	log    *slog.Logger
}

// command is one verb of the CLI. Each verb lives in its own file and
// registers itself in init.
type command struct {
	name    string
	summary string
	// run parses args and does the work; it returns an exit code.
	run func(ctx context.Context, e *env, args []string) int
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("duplicate command " + c.name)
	}
	commands[c.name] = c
}

func main() {
	os.Exit(run())
}

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	return dispatch(ctx, e, os.Args[1:])
}

func dispatch(ctx context.Context, e *env, args []string) int {
	if e.log == nil {
		level := slog.LevelInfo
		if v := e.getenv("MZSYNC_LOG_LEVEL"); v != "" {
			_ = level.UnmarshalText([]byte(v))
		}
		e.log = slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(e.stderr)
		if len(args) == 0 {
			return exitError
		}
		return exitOK
	}
	if args[0] == "--version" || args[0] == "-version" {
		args = append([]string{"version"}, args[1:]...)
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "mzsync: unknown command %q\n\n", args[0])
		usage(e.stderr)
		return exitError
	}
	return c.run(ctx, e, args[1:])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: mzsync <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'mzsync <command> -h' for a command's flags. Every flag also reads MZSYNC_<FLAG>,")
	fmt.Fprintln(w, "e.g. --materialize from MZSYNC_MATERIALIZE.")
}

// parseFlags parses args into fs; a flag not given on the command line takes
// its value from the environment variable MZSYNC_<NAME> (upper case, '-' as
// '_'), e.g. --materialize from MZSYNC_MATERIALIZE. Positional arguments are
// refused: every input has a flag.
func parseFlags(fs *flag.FlagSet, e *env, args []string) error {
	fs.SetOutput(e.stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		name := envName(f.Name)
		if v := e.getenv(name); v != "" {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
			}
		}
	})
	return errors.Join(errs...)
}

func envName(flagName string) string {
	return "MZSYNC_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// flagError reports a usage problem and returns exitError.
func flagError(e *env, cmd string, err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	fmt.Fprintf(e.stderr, "mzsync %s: %v\n", cmd, err)
	return exitError
}
