package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"runtime"
	"runtime/debug"
)

// Release information, set at link time by `make release` (and the
// Dockerfile):
//
//	-ldflags "-X main.releaseVersion=v1.2.3 -X main.releaseCommit=<sha> -X main.releaseDate=<RFC 3339>"
//
// A plain `go build` or `go install` leaves them empty; the version then
// comes from the build information Go embeds (the module version for `go
// install ...@v1.2.3`, the VCS revision for a build in a checkout).
var (
	releaseVersion = ""
	releaseCommit  = ""
	releaseDate    = ""
)

// versionFormatVersion is the version of `mzsync version --format json`'s
// format. It changes only when a key is removed or changes meaning.
const versionFormatVersion = 1

// versionInfo is what `mzsync version` reports.
type versionInfo struct {
	FormatVersion int    `json:"format_version"`
	Version       string `json:"version"`
	Commit        string `json:"commit"`     // "" when unknown
	BuildDate     string `json:"build_date"` // RFC 3339, "" when unknown
	Modified      bool   `json:"modified"`   // built from a tree with uncommitted changes
	GoVersion     string `json:"go_version"`
	Platform      string `json:"platform"` // GOOS/GOARCH
}

func init() {
	register(&command{name: "version", summary: "print mzsync's version, commit, build date and Go version", run: runVersion})
}

func runVersion(_ context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	format := fs.String("format", "text", "output format: text or json")
	if err := parseFlags(fs, e, args); err != nil {
		return flagError(e, "version", err)
	}
	if *format != "text" && *format != "json" {
		return flagError(e, "version", fmt.Errorf("--format must be text or json, not %q", *format))
	}
	bi, _ := debug.ReadBuildInfo()
	v := readVersion(bi)
	if *format == "json" {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			fmt.Fprintf(e.stderr, "mzsync version: %v\n", err)
			return exitError
		}
		return exitOK
	}
	unknown := func(s string) string {
		if s == "" {
			return "unknown"
		}
		return s
	}
	commit := unknown(v.Commit)
	if v.Modified {
		commit += " (modified)"
	}
	fmt.Fprintf(e.stdout, "mzsync %s\n", v.Version)
	fmt.Fprintf(e.stdout, "  commit:     %s\n", commit)
	fmt.Fprintf(e.stdout, "  build date: %s\n", unknown(v.BuildDate))
	fmt.Fprintf(e.stdout, "  go:         %s\n", v.GoVersion)
	fmt.Fprintf(e.stdout, "  platform:   %s\n", v.Platform)
	return exitOK
}

// readVersion combines the link-time release variables with the build
// information bi (nil when the binary has none); the release variables win.
func readVersion(bi *debug.BuildInfo) versionInfo {
	v := versionInfo{
		FormatVersion: versionFormatVersion,
		Version:       releaseVersion,
		Commit:        releaseCommit,
		BuildDate:     releaseDate,
		GoVersion:     runtime.Version(),
		Platform:      runtime.GOOS + "/" + runtime.GOARCH,
	}
	if bi == nil {
		if v.Version == "" {
			v.Version = "devel"
		}
		return v
	}
	if bi.GoVersion != "" {
		v.GoVersion = bi.GoVersion
	}
	var vcsRev, vcsTime string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			vcsRev = s.Value
		case "vcs.time":
			vcsTime = s.Value
		case "vcs.modified":
			if releaseCommit == "" {
				v.Modified = s.Value == "true"
			}
		}
	}
	if v.Commit == "" {
		v.Commit = vcsRev
	}
	if v.BuildDate == "" {
		// The commit's time is the closest a build without release flags
		// records to a build date.
		v.BuildDate = vcsTime
	}
	if v.Version == "" {
		switch {
		case bi.Main.Version != "" && bi.Main.Version != "(devel)":
			v.Version = bi.Main.Version // go install module@version
		case vcsRev != "":
			short := vcsRev
			if len(short) > 12 {
				short = short[:12]
			}
			v.Version = "devel-" + short
		default:
			v.Version = "devel"
		}
	}
	return v
}
