package main

import (
	"bytes"
	"context"
	"encoding/json"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestReadVersion checks where each field of `mzsync version` comes from:
// the release variables set with -ldflags -X win over the build
// information; without them the module version, or the VCS revision, is
// used.
func TestReadVersion(t *testing.T) {
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.0",
		Main:      debug.Module{Path: "github.com/mzsync/mzsync", Version: "(devel)"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2026-11-30T10:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	platform := runtime.GOOS + "/" + runtime.GOARCH
	setRelease := func(t *testing.T, v, c, d string) {
		oldV, oldC, oldD := releaseVersion, releaseCommit, releaseDate
		releaseVersion, releaseCommit, releaseDate = v, c, d
		t.Cleanup(func() { releaseVersion, releaseCommit, releaseDate = oldV, oldC, oldD })
	}

	t.Run("checkout build", func(t *testing.T) {
		want := versionInfo{1, "devel-0123456789ab", "0123456789abcdef0123456789abcdef01234567", "2026-11-30T10:00:00Z", true, "go1.26.0", platform}
		if diff := cmp.Diff(want, readVersion(bi)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("go install at a version", func(t *testing.T) {
		b := *bi
		b.Main.Version = "v1.4.0"
		b.Settings = nil
		want := versionInfo{1, "v1.4.0", "", "", false, "go1.26.0", platform}
		if diff := cmp.Diff(want, readVersion(&b)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("release build", func(t *testing.T) {
		setRelease(t, "v1.5.0", "fedcba9876543210", "2026-12-01T00:00:00Z")
		want := versionInfo{1, "v1.5.0", "fedcba9876543210", "2026-12-01T00:00:00Z", false, "go1.26.0", platform}
		if diff := cmp.Diff(want, readVersion(bi)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		var out bytes.Buffer
		e := &env{stdout: &out, stderr: &out, getenv: func(string) string { return "" }}
		if code := dispatch(context.Background(), e, []string{"--version", "--format", "json"}); code != exitOK {
			t.Fatalf("exit %d: %s", code, out.String())
		}
		var got map[string]any
		if err := json.Unmarshal(out.Bytes(), &got); err != nil {
			t.Fatalf("%v: %s", err, out.String())
		}
		for k, v := range map[string]any{"format_version": 1.0, "version": "v1.5.0", "commit": "fedcba9876543210", "build_date": "2026-12-01T00:00:00Z"} {
			if got[k] != v {
				t.Errorf("%s = %v, want %v", k, got[k], v)
			}
		}
		if gv, _ := got["go_version"].(string); gv == "" {
			t.Errorf("go_version missing: %s", out.String())
		}
	})
	t.Run("no build information", func(t *testing.T) {
		want := versionInfo{1, "devel", "", "", false, runtime.Version(), platform}
		if diff := cmp.Diff(want, readVersion(nil)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}
