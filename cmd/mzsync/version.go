package main

import (
	"context"
	"flag"
	"fmt"
	"runtime/debug"
)

// buildVersion is set at link time with -ldflags "-X main.buildVersion=...".
var buildVersion = ""

func init() {
	register(&command{name: "version", summary: "print mzsync's version", run: runVersion})
}

func runVersion(_ context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	if err := parseFlags(fs, e, args); err != nil {
		return flagError(e, "version", err)
	}
	fmt.Fprintf(e.stdout, "mzsync %s\n", versionString())
	return exitOK
}

func versionString() string {
	if buildVersion != "" {
		return buildVersion
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if rev != "" {
			if len(rev) > 12 {
				rev = rev[:12]
			}
			if dirty {
				rev += "-dirty"
			}
			return "devel " + rev
		}
		if bi.Main.Version != "" {
			return bi.Main.Version
		}
	}
	return "devel"
}
